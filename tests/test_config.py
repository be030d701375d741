"""rima.config: thread count, small work on one thread, block ranges over threads, the
first-run notice; results identical at every thread count."""

import itertools
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import rima
from rima import config
from rima._kernels import threads
from rima.cli import cli


@pytest.fixture
def many_threads(monkeypatch):
    """Pretend the pool has 4 threads and every size is large, so run_blocks really splits
    the work over threads even on a one-core machine; restore the thread setting after."""
    monkeypatch.setattr(threads, "max_threads", lambda: 4)
    monkeypatch.setattr(threads, "SERIAL_ROWS", 1)
    monkeypatch.setattr(threads, "_pool", None)
    yield
    config.set_num_threads(None)


@pytest.fixture(autouse=True)
def _restore_threads():
    yield
    config.set_num_threads(None)


def test_set_num_threads_caps_and_checks():
    top = config.max_threads()
    assert config.set_num_threads(top + 5) == top
    assert config.num_threads() == top
    assert config.set_num_threads(1) == 1 and config.num_threads() == 1
    with pytest.raises(ValueError, match="at least 1"):
        config.set_num_threads(0)
    assert config.set_num_threads(None) == top


def test_threads_for_small_work_is_serial_and_nesting_keeps_the_smaller(many_threads,
                                                                       monkeypatch):
    monkeypatch.setattr(threads, "SERIAL_ROWS", 1000)
    assert config.current_threads() == 4
    with config.threads_for(10_000) as t:
        assert t == 4
        with config.threads_for(10) as inner:
            assert inner == 1 and config.current_threads() == 1
        assert config.current_threads() == 4
    with config.threads_for(10), config.threads_for(10_000) as inner:
        assert inner == 1  # an outer small task stays serial
    config.set_num_threads(2)
    with config.threads_for(10_000) as t:
        assert t == 2


def test_run_blocks_covers_every_block_once_on_several_threads(many_threads):
    seen = []
    names = set()
    lock = threading.Lock()
    second = threading.Event()

    def kernel(out, b0, b1):
        with lock:
            names.add(threading.current_thread().name)
            first = not seen
            seen.extend(range(b0, b1))
        # the first range is held until another thread takes a range: only a second
        # participant can release it (however slowly the machine schedules threads)
        if first:
            assert second.wait(120), "no other thread took a range"
        else:
            second.set()
        out[b0:b1] += 1

    out = np.zeros(101)
    config.run_blocks(kernel, 101, 10**6, out)
    assert sorted(seen) == list(range(101))
    assert (out == 1).all()
    assert len(names) > 1  # the caller and at least one pool worker


def test_run_blocks_one_thread_is_one_call_and_errors_propagate(many_threads):
    calls = []
    config.set_num_threads(1)
    config.run_blocks(lambda b0, b1: calls.append((b0, b1)), 50, 10**6)
    assert calls == [(0, 50)]
    config.set_num_threads(4)

    def bad(b0, b1):
        if b0 > 0:
            raise ZeroDivisionError("block failed")

    with pytest.raises(ZeroDivisionError, match="block failed"):
        config.run_blocks(bad, 40, 10**6)


def test_run_tasks_runs_each_task_once_with_its_thread_slot(many_threads):
    done = []
    slots = set()
    lock = threading.Lock()
    second = threading.Event()

    def task(i, slot):
        # kernels started by a task run on its thread alone
        assert threads.current_threads() == 1
        with lock:
            first = not done
            done.append(i)
            slots.add(slot)
        if first:
            assert second.wait(120), "no other thread took a task"
        else:
            second.set()

    used = threads.run_tasks(task, 30, 10**6)
    assert sorted(done) == list(range(30))
    assert used == 4 and slots <= set(range(4)) and len(slots) > 1
    assert threads.current_threads() == 4  # the caller's setting is back

    config.set_num_threads(1)
    order = []
    assert threads.run_tasks(lambda i, slot: order.append((i, slot)), 5, 10**6) == 1
    assert order == [(i, 0) for i in range(5)]
    config.set_num_threads(4)

    def bad(i, slot):
        if i == 7:
            raise ZeroDivisionError("task failed")

    with pytest.raises(ZeroDivisionError, match="task failed"):
        threads.run_tasks(bad, 20, 10**6)


def test_run_ranges_covers_the_rows_once_in_fixed_ranges(many_threads):
    n = 3 * threads.RANGE_ROWS + 5
    ranges = threads.row_ranges(n)
    assert ranges[0] == (0, threads.RANGE_ROWS) and ranges[-1] == (3 * threads.RANGE_ROWS, n)
    assert all(b0 == a1 for (_, b0), (a1, _) in itertools.pairwise(ranges))
    assert threads.row_ranges(0) == [(0, 0)] and threads.row_ranges(7) == [(0, 7)]
    hits = np.zeros(n, dtype=np.int64)
    seen = []
    lock = threading.Lock()

    def fn(i, a, b):
        with lock:
            seen.append((i, a, b))
        hits[a:b] += 1  # each range alone writes its rows

    threads.run_ranges(fn, n)
    assert sorted(seen) == [(i, a, b) for i, (a, b) in enumerate(ranges)]
    np.testing.assert_array_equal(hits, 1)


def test_build_zeros_and_counts_by_ranges_match_numpy(many_threads):
    """The build's passes that run by row ranges (zeros, cell and positive counts) give
    numpy's results over several ranges on several threads, a household without a module
    row (pos < 0) in more than one range."""
    from rima._kernels.build import positive_counts, wide_counts, zeros

    z = zeros((3, threads.RANGE_ROWS + 11), dtype=np.int16)
    assert z.dtype == np.int16 and z.shape == (3, threads.RANGE_ROWS + 11) and not z.any()
    n = 2 * threads.RANGE_ROWS + 999
    rng = np.random.default_rng(3)
    X = rng.integers(-1, 9, (5, n)).astype(float)
    X[:, ::5] += 0.5
    X[1, rng.choice(n, 300, replace=False)] = np.nan
    pos = np.arange(n)
    pos[rng.choice(n, 200, replace=False)] = -1
    used = pos >= 0
    for kind, top in ((0, 0.0), (1, 7.0), (2, 0.0)):
        if kind == 1:
            out_of_rule = (X < 0) | (X > top) | (X != np.floor(X))
        elif kind == 2:
            out_of_rule = (X != 0) & (X != 1)
        else:
            out_of_rule = np.zeros_like(X, dtype=bool)
        miss = np.isnan(X)
        want = np.stack([(miss & used).sum(axis=1),
                         (out_of_rule & ~miss & used).sum(axis=1) if kind else np.zeros(5),
                         ((X < 0) & used).sum(axis=1)], axis=1)
        np.testing.assert_array_equal(wide_counts(X, pos, kind, top), want)
    out = np.full(n, 99.0)
    positive_counts(X, out)
    np.testing.assert_array_equal(out, (X > 0).sum(axis=0))


def test_convert_columns_gives_convert_column_s_bits_at_every_thread_count(many_threads):
    """Row ranges over threads, every column within each: the values, masks and
    per-column findings of `convert_column` one column at a time on one thread."""
    from rima._kernels.columns import BLOCK, convert_column, convert_columns

    rng = np.random.default_rng(5)
    n = 9 * BLOCK + 123
    sources = []
    for j in range(70):  # two mask words
        if j % 3 == 0:
            sources.append(rng.integers(-9, 9, n))
        else:
            v = rng.normal(size=n) * 10 ** (j % 5)
            v[rng.random(n) < 0.05] = np.nan
            v[rng.random(n) < 0.002] = np.inf * rng.choice([-1, 1])
            sources.append(v)
    want_out = np.empty((70, n))
    want_keys = np.zeros((n, 2), dtype=np.uint64)
    config.set_num_threads(1)
    want = [convert_column(s, want_out[j], want_keys, j // 64,
                           np.uint64(1) << np.uint64(j % 64), total=False)[:4]
            for j, s in enumerate(sources)]
    for t in (1, 2, 4):
        config.set_num_threads(t)
        out = np.empty((70, n))
        keys = np.zeros((n, 2), dtype=np.uint64)
        got = convert_columns(sources, out, keys)
        assert out.tobytes() == want_out.tobytes()
        assert np.array_equal(keys, want_keys)
        assert [tuple(a[j] for a in got) for j in range(70)] == want


def _fit_outputs(df, spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, spec)
        boot = res.bootstrap(n_boot=8, seed=3)
    scored = res.model.score(df)
    return res, scored, boot


def test_fit_score_and_bootstrap_identical_at_1_and_4_threads(many_threads):
    from rima.bench import example_spec
    from rima.moments import compute_moments, pairwise_moments

    spec = example_spec()
    df = rima.simulate(n_households=9000, seed=5).households
    runs = {}
    for t in (1, 4):
        config.set_num_threads(t)
        X = df[list(spec.pillars["AST"])].to_numpy(dtype=float)
        Xc = np.ascontiguousarray(X[~np.isnan(X).any(axis=1)])
        runs[t] = (_fit_outputs(df, spec), compute_moments(Xc), pairwise_moments(X),
                   rima.mimic.fit("R =~ fcs + log_food_exp_ae + hdds\nR ~ herd_su + n_durables",
                                  df, se="robust.huber.white", missing="fiml"))
    (r1, s1, b1), m1, pw1, mm1 = runs[1]
    (r4, s4, b4), m4, pw4, mm4 = runs[4]
    pd.testing.assert_frame_equal(r1.scores, r4.scores, check_exact=True)
    pd.testing.assert_frame_equal(s1, s4, check_exact=True)
    assert r1.model.metadata["training_fingerprint"] == r4.model.metadata["training_fingerprint"]
    pd.testing.assert_frame_equal(r1.mimic.params, r4.mimic.params, check_exact=True)
    for key in b1.replicates:
        np.testing.assert_array_equal(np.asarray(b1.replicates[key]),
                                      np.asarray(b4.replicates[key]))
    pd.testing.assert_frame_equal(b1.rsm, b4.rsm, check_exact=True)
    np.testing.assert_array_equal(m1.comoment, m4.comoment)
    np.testing.assert_array_equal(m1.mean, m4.mean)
    np.testing.assert_array_equal(pw1.comoment, pw4.comoment)
    pd.testing.assert_frame_equal(mm1.params, mm4.params, check_exact=True)


def test_small_fit_and_scoring_hand_no_work_to_other_threads(monkeypatch):
    # below SERIAL_ROWS every pass runs on the calling thread: on a busy machine a small
    # fit then waits for no other thread (docs/performance.md)
    from rima.bench import example_spec

    monkeypatch.setattr(threads, "max_threads", lambda: 4)
    monkeypatch.setattr(threads, "_pool", None)

    def no_pool():
        raise AssertionError("a small task handed work to the thread pool")

    monkeypatch.setattr(threads, "_executor", no_pool)
    df = rima.simulate(n_households=3000, seed=2).households
    assert len(df) < config.SERIAL_ROWS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, example_spec())
    scored = res.model.score(df)
    assert (res.scores["status"] == "ok").sum() > 2500 and len(scored) == len(df)
    # the same fit at a size above the threshold does use the pool (the spy is live)
    monkeypatch.setattr(threads, "SERIAL_ROWS", 1000)
    with pytest.raises(AssertionError, match="thread pool"):
        res.model.score(df)


def test_cli_threads_flag(monkeypatch, tmp_path):
    from rima.example import example_dir

    d = example_dir()
    res = CliRunner().invoke(cli, ["--threads", "1", "validate", str(d / "households.csv"),
                                   "--spec", str(d / "spec.toml")])
    assert res.exit_code == 0, res.output
    assert config.num_threads() == 1
    bad = CliRunner().invoke(cli, ["--threads", "0", "validate"])
    assert bad.exit_code == 2 and "--threads" in bad.output
    assert "--threads" in CliRunner().invoke(cli, ["--help"]).output


def test_compile_notice_once_on_an_empty_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(config, "_notice_shown", False)
    assert config.cache_dir() == tmp_path
    lines = []
    assert config.compile_notice(lines.append) is True
    assert config.compile_notice(lines.append) is False
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "rima warmup" in lines[0]
    # with a cached kernel present it says nothing
    monkeypatch.setattr(config, "_notice_shown", False)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "k.nbi").write_bytes(b"")
    assert config.compile_notice(lines.append) is False


def test_warmup_command_runs_every_step(monkeypatch):
    import rima.warmup as W

    ran = []
    real = W._steps()
    monkeypatch.setattr(W, "_steps", lambda: [(name, (lambda f=f, name=name: (ran.append(name),
                                                                             f())))
                                              for name, f in real])
    res = CliRunner().invoke(cli, ["warmup"])
    assert res.exit_code == 0, res.output
    assert ran == [name for name, _ in real]
    assert "kernels compiled and cached in" in res.stdout
    assert str(config.cache_dir()) in res.stdout


_AFTER_WARMUP = r"""
import importlib, json, pkgutil, sys, tempfile
import numba
import rima._kernels as K
from click.testing import CliRunner
from rima.cli import cli
from rima.warmup import warmup

def compiled():
    out = {}
    for m in pkgutil.iter_modules(K.__path__):
        mod = importlib.import_module(f"rima._kernels.{m.name}")
        for name, obj in vars(mod).items():
            if isinstance(obj, numba.core.registry.CPUDispatcher):
                out[f"{mod.__name__}.{name}"] = sorted(map(str, obj.signatures))
    return out

warmup()
before = compiled()
res = CliRunner().invoke(cli, ["demo", "--out", tempfile.mkdtemp()])
after = compiled()
new = {k: sorted(set(v) - set(before.get(k, []))) for k, v in after.items()}
print(json.dumps({"exit": res.exit_code, "new": {k: v for k, v in new.items() if v},
                  "used": sum(bool(v) for v in before.values())}))
"""


def test_after_warmup_the_demo_compiles_no_kernel():
    """`rima warmup` compiles what `rima demo` runs (the build from raw modules included):
    in one process, the demo after a warmup adds no kernel signature (a kernel loaded
    from the cache counts as compiled, so the cache's state does not matter)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _AFTER_WARMUP], capture_output=True,
                         text=True, timeout=600, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["exit"] == 0
    assert got["used"] > 30  # the spy sees the kernels the warmup ran
    assert got["new"] == {}


@pytest.mark.parametrize("value", ["0", "-2", "two", ""])
def test_a_bad_numba_num_threads_is_a_usage_error(monkeypatch, capsys, value):
    from rima.cli import main
    from rima.example import example_dir

    d = example_dir()
    monkeypatch.setenv("NUMBA_NUM_THREADS", value)
    args = ["validate", str(d / "households.csv"), "--spec", str(d / "spec.toml")]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "NUMBA_NUM_THREADS" in err and "Traceback" not in err
    # --threads replaces it
    with pytest.raises(SystemExit) as exc:
        main(["--threads", "1", *args])
    assert exc.value.code == 0
    config.set_num_threads(None)
