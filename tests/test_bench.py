"""`rima bench --quick`: a smoke run of the benchmark suite (structure, not speed)."""

import json

import pytest
from click.testing import CliRunner

from rima.cli import cli
from rima.commands.bench import parse_sizes


@pytest.fixture(scope="module")
def quick_json():
    res = CliRunner().invoke(cli, ["bench", "--quick", "--json", "--boot", "20"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_quick_table_structure(quick_json):
    rows = quick_json["rows"]
    tasks = {r["task"] for r in rows}
    assert not any(t.startswith("reference") for t in tasks)  # only beside busy loops
    assert {"moments (all variables)", "fit (pillars+MIMIC robust+RCI+RSM)",
            "MIMIC robust.sem + predict", "score in memory (arrays)",
            "score Parquet -> Parquet (streaming)", "bootstrap 20 replicates"} <= tasks
    for r in rows:
        assert r["rima_s"] > 0 and r["per_s"] > 0, r
        assert set(r) >= {"task", "n", "rima_s", "np.cov_s", "rima/np.cov", "semopy_s",
                          "R_s", "R/rima", "note"}
    fit = next(r for r in rows if r["task"].startswith("fit"))
    assert fit["n"] == 2240
    assert fit["np.cov_s"] > 0
    assert fit["rima/np.cov"] == pytest.approx(fit["rima_s"] / fit["np.cov_s"])
    msgs = " ".join(quick_json["messages"])
    assert "R peer" in msgs and "semopy peer" in msgs and "demo" in msgs
    assert quick_json["machine"]["cores"] >= 1


def test_text_table_and_sizes():
    res = CliRunner().invoke(cli, ["bench", "--quick", "--sizes", "600", "--boot", "10"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "rima/np.cov" in out and "R/rima" in out and "semopy/rima" in out
    assert "fit (pillars+MIMIC robust+RCI+RSM)" in out and "600" in out
    assert parse_sizes("2240 1e5, 1M 10_000_000") == (2240, 100000, 1000000, 10000000)
    bad = CliRunner().invoke(cli, ["bench", "--quick", "--sizes", "lots"])
    assert bad.exit_code == 2 and "lots" in bad.output


def test_busy_processes_run_inside_and_are_stopped_even_on_error():
    import os

    from rima.bench import busy_processes

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # a killed child that is not yet reaped would still answer; the block waits on it
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"

    with pytest.raises(RuntimeError, match="task failed"), \
            busy_processes(2, limit_s=60) as pids:
        assert len(pids) == 2 and all(alive(p) for p in pids)
        raise RuntimeError("task failed")
    assert not any(os.path.exists(f"/proc/{p}") and alive(p) for p in pids)


def test_busy_mode_puts_busy_times_beside_quiet_ones():
    res = CliRunner().invoke(cli, ["bench", "--quick", "--sizes", "600", "--boot", "10",
                                   "--busy", "1", "--scaling", "--repeat", "2", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["machine"]["busy"] == 1
    fit = next(r for r in out["rows"] if r["task"].startswith("fit"))
    assert fit["busy_s"] > 0 and fit["busy_p90_s"] >= fit["busy_s"]
    assert fit["p90_s"] >= fit["rima_s"]
    assert fit["busy_rima/np.cov"] == pytest.approx(fit["busy_s"] / fit["busy_np.cov_s"])
    stream = next(r for r in out["rows"] if "streaming" in r["task"])
    assert stream["busy_s"] is None  # the busy pass skips the streaming task
    # the one-thread reference: timed in both passes, once, with no row count
    ref = [r for r in out["rows"] if r["task"].startswith("reference")]
    assert len(ref) == 1 and ref[0]["n"] is None and ref[0]["per_s"] is None
    assert ref[0]["rima_s"] > 0 and ref[0]["busy_p90_s"] >= ref[0]["busy_s"] > 0
    threads = {r["threads"] for r in out["scaling"]}
    assert 1 in threads and {r["task"] for r in out["scaling"]} >= {"fit"}
    text = CliRunner().invoke(cli, ["bench", "--quick", "--sizes", "600", "--boot", "10",
                                    "--busy", "1"])
    assert text.exit_code == 0 and "busy_s" in text.stdout and "busy-loop" in text.stdout
    bad = CliRunner().invoke(cli, ["bench", "--quick", "--busy", "-1"])
    assert bad.exit_code == 2 and "--busy" in bad.output


def test_build_benchmark_structure():
    res = CliRunner().invoke(cli, ["bench", "--build", "--quick", "--sizes", "2000", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["build"][0]
    assert row["households"] == 2000 and row["roster_rows"] == 10000
    assert row["livestock_rows"] == 10000
    assert row["rima/pandas"] == pytest.approx(row["rima_s"] / row["pandas_groupby_sum_s"])
    assert "busy_rima_s" not in row


def test_build_benchmark_beside_busy_processes_and_what_it_refuses():
    res = CliRunner().invoke(cli, ["bench", "--build", "--quick", "--sizes", "2000", "--json",
                                   "--busy", "1"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["build"][0]
    assert row["busy_processes"] == 1
    assert row["busy_rima_p90_s"] >= row["busy_rima_s"] > 0
    assert row["busy_rima/pandas"] == pytest.approx(row["busy_rima_s"]
                                                    / row["busy_pandas_groupby_sum_s"])
    text = CliRunner().invoke(cli, ["bench", "--build", "--quick", "--sizes", "2000",
                                    "--busy", "1"])
    assert text.exit_code == 0 and "beside 1 busy-loop process(es): rima" in text.stdout
    # options of the fit benchmark are refused with --build, not silently ignored
    for extra in (["--scaling"], ["--engine", "dask"]):
        bad = CliRunner().invoke(cli, ["bench", "--build", "--quick", *extra])
        assert bad.exit_code == 2 and extra[0] in bad.output and "--build" in bad.output


def test_build_benchmark_peer_computes_the_same_variables():
    import numpy as np

    from rima.bench_build import build_spec, pandas_build, raw_frames
    from rima.build import build

    frames = raw_frames(1500, seed=3)
    plain = pandas_build(frames)
    built = build(build_spec(), frames).table.set_index("hhid")
    for col in ("hh_size", "adult_eq", "dependency_ratio", "head_age", "herd_su",
                "loss_share", "fcs", "hdds", "rcsi", "food_exp_ae",
                "nonlivestock_income_share", "n_durables"):
        np.testing.assert_allclose(built[col].to_numpy(float), plain[col].to_numpy(float),
                                   rtol=1e-12, err_msg=col)


def test_a_timed_run_starts_after_the_previous_result_is_released():
    # a large fit must not be timed beside (nor charged for freeing) the last one's result
    import weakref

    from rima.bench import interleaved_times, median_time

    class Result:
        pass

    alive_at_start = []
    previous = []

    def task():
        alive_at_start.append(bool(previous) and previous[-1]() is not None)
        r = Result()
        previous.append(weakref.ref(r))
        return r

    times, last = interleaved_times([task], 4)
    assert alive_at_start == [False] * 4
    assert len(times[0].times) == 4 and isinstance(last[0], Result)
    alive_at_start.clear()
    previous.clear()  # the result above is the caller's to keep
    t, out = median_time(task, 3)
    assert len(t.times) == 3
    assert alive_at_start == [False] * 3 and isinstance(out, Result)


def test_each_task_runs_first_in_some_round():
    from rima.bench import interleaved_times

    order = []
    fns = [lambda k=k: order.append(k) for k in range(3)]
    times, _ = interleaved_times(fns, 6)
    firsts = [order[3 * r] for r in range(6)]
    assert sorted(set(firsts)) == [0, 1, 2]
    assert all(sorted(order[3 * r:3 * r + 3]) == [0, 1, 2] for r in range(6))
    assert [len(t.times) for t in times] == [6, 6, 6]


def test_settle_waits_while_another_thread_uses_the_cpu_and_not_after():
    # the process's CPU clock advancing by a whole window (a BLAS thread spinning after a
    # threaded call) keeps it waiting; a quiet window ends the wait; the limit bounds it
    from rima.bench import settle

    def clock(busy_windows):
        state = {"t": 0.0, "polls": 0}

        def cpu():
            state["polls"] += 1
            if state["polls"] <= busy_windows + 1:
                state["t"] += 0.01
            return state["t"]

        return cpu, state

    for busy in (0, 3, 7):
        cpu, state = clock(busy)
        pauses = []
        settle(limit_s=60, window_s=0.01, cpu=cpu, pause=pauses.append)
        assert len(pauses) == busy + 1
    cpu, state = clock(10**9)
    pauses = []
    assert settle(limit_s=0.0, window_s=0.01, cpu=cpu, pause=pauses.append) >= 0.0
    assert pauses == []  # no time left: no wait at all


def test_reference_loops_corrects_a_probe_the_machine_slowed():
    """The one-thread reference is sized to the fit in two rounds: a first probe that ran
    twice as slow as the machine really does would alone leave it half as long."""
    from rima.bench import reference_loops

    calls = []

    def time_loops(k):  # 1 microsecond a loop, but the first probe is slowed down 2x
        calls.append(k)
        return k * 1e-6 * (2.0 if len(calls) == 1 else 1.0)

    loops = reference_loops(0.02, time_loops=time_loops)
    assert calls[0] == 100_000 and len(calls) == 2
    assert loops == 20_000  # 20 ms at 1 microsecond a loop
    assert reference_loops(1e-6, time_loops=lambda k: k * 1e-6) == 10_000  # the floor
