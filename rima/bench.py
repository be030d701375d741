"""Benchmark suite: rima against its peers, measured in the same run.

    rima bench [--quick] [--sizes 2240,100000,1000000,10000000] [--repeat 3] [--json]

One table: each task at each size, rima's time (median of `repeat` runs), each peer's
time measured in the same process or run, and the ratios. Peers:

* numpy's `np.cov` on the same analysis matrix (every spec variable, complete rows): the
  memory-bandwidth floor any method that reads the data must pay;
* semopy for the MIMIC model (optional extra ``rima[bench]``; skipped with a message);
* the reference procedure (R psych + lavaan, `benchmarks/reference_procedure.R`) via
  `Rscript` when R with psych, lavaan and jsonlite is installed (skipped otherwise).

Timings exclude numba compilation (each task runs once on a small sample first, which
loads the cached machine code); the `demo` rows measure a cold start (empty numba cache
in a temporary NUMBA_CACHE_DIR, fresh process) and a warm one.

Data: the bundled Zavkhan example's columns. Sizes up to 100,000 are simulated with
`rima.simulate`; larger sizes resample rows of a 100,000-household simulation (same joint
distribution, generated straight into the arrays the benchmark needs).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

FULL_SIZES = (2_240, 100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (2_240,)
SEMOPY_MAX = 1_000_000
R_MAX = 1_000_000
BOOT_SIZE = 2_240
MIMIC_MODEL = "RCI =~ y1 + y2 + y3\nRCI ~ x1 + x2 + x3 + x4"

COLUMNS = ("task", "n", "rima_s", "p90_s", "per_s", "np.cov_s", "rima/np.cov", "semopy_s",
           "semopy/rima", "R_s", "R/rima", "busy_s", "busy_p90_s", "busy_np.cov_s",
           "busy_rima/np.cov", "note")
BUSY_COLUMNS = ("busy_s", "busy_p90_s", "busy_np.cov_s", "busy_rima/np.cov")
# a busy-loop process stops itself after this long even if the benchmark dies
BUSY_LIMIT_S = 3600


@dataclass
class Bench:
    rows: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    machine: dict = field(default_factory=dict)
    scaling: list = field(default_factory=list)

    def add(self, task, n, rima_s, cov_s=None, semopy_s=None, r_s=None, note="", per=None):
        rec = {c: None for c in COLUMNS}
        rec.update(task=task, n=int(n) if n else None, rima_s=float(rima_s), note=note,
                   p90_s=getattr(rima_s, "p90", None))
        rec["per_s"] = per if per is not None else (n / rima_s if n and rima_s else None)
        if cov_s is not None:
            rec["np.cov_s"] = float(cov_s)
            rec["rima/np.cov"] = rima_s / cov_s
        if semopy_s is not None:
            rec["semopy_s"] = semopy_s
            rec["semopy/rima"] = semopy_s / rima_s
        if r_s is not None:
            rec["R_s"] = r_s
            rec["R/rima"] = r_s / rima_s
        self.rows.append(rec)
        return rec

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def merge_busy(self, busy_rows):
        """Put the busy run's times beside the quiet ones (matched by task and size)."""
        quiet = {(r["task"], r["n"]): r for r in self.rows}
        for r in busy_rows:
            q = quiet.get((r["task"], r["n"]))
            if q is None:
                continue
            q["busy_s"], q["busy_p90_s"] = r["rima_s"], r["p90_s"]
            q["busy_np.cov_s"], q["busy_rima/np.cov"] = r["np.cov_s"], r["rima/np.cov"]

    def format(self) -> str:
        tab = self.table()
        if tab[list(BUSY_COLUMNS)].isna().all().all():
            tab = tab.drop(columns=list(BUSY_COLUMNS))
        fmt = tab.copy().astype(object)
        for c in ("rima_s", "p90_s", "np.cov_s", "semopy_s", "R_s", "busy_s", "busy_p90_s",
                  "busy_np.cov_s"):
            if c in tab:
                fmt[c] = [_secs(v) for v in tab[c]]
        for c in ("rima/np.cov", "semopy/rima", "R/rima", "busy_rima/np.cov"):
            if c in tab:
                fmt[c] = [("" if _nan(v) else f"{v:.2f}x") for v in tab[c]]
        fmt["per_s"] = [("" if _nan(v) else f"{v:,.0f}") for v in tab["per_s"]]
        fmt["n"] = [("" if _nan(v) else f"{int(v):,}") for v in tab["n"]]
        fmt = fmt.rename(columns={"per_s": "rows/s"})
        head = (f"rima bench on {self.machine.get('cpu', '?')} "
                f"({self.machine.get('cores', '?')} cores, numba threads "
                f"{self.machine.get('numba_threads', '?')}); times are medians (and p90) of "
                f"{self.machine.get('repeat', '?')} run(s); load average before "
                f"{self.machine.get('load_before', '?')}")
        if self.machine.get("busy"):
            head += (f"; busy_* columns: the same tasks beside {self.machine['busy']} "
                     "busy-loop processes")
        lines = [head, fmt.to_string(index=False)]
        if self.scaling:
            sc = pd.DataFrame(self.scaling)
            piv = sc.pivot_table(index=["task", "n"], columns="threads", values="seconds",
                                 sort=False)
            piv = piv.map(_secs) if hasattr(piv, "map") else piv.applymap(_secs)
            piv.columns = [f"{t} thread{'s' if t > 1 else ''}" for t in piv.columns]
            lines += ["", "time against thread count (median):", piv.to_string()]
        lines += [f"note: {m}" for m in self.messages]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"machine": self.machine, "rows": self.rows,
                           "scaling": self.scaling, "messages": self.messages}, indent=1,
                          default=float)


def _nan(v):
    return v is None or (isinstance(v, float) and not np.isfinite(v))


def _secs(v):
    if _nan(v):
        return ""
    return f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"


class Seconds(float):
    """A median time that also carries the p90 and every run's time."""

    def __new__(cls, times):
        obj = super().__new__(cls, float(np.median(times)))
        obj.times = [float(t) for t in times]
        obj.p90 = float(np.quantile(times, 0.9))
        return obj


def cov_time(A, repeat, beside=None):
    """np.cov of `A` timed with numpy's BLAS at its own thread count and at one thread;
    the faster median is the baseline. BLAS worker threads spin while they wait, so on a
    loaded machine one thread is often several times faster: taking the faster of the
    two keeps the baseline the fastest honest one.

    `beside`: a task timed in turn with the two baselines, run by run (returns (its
    Seconds, its last result, the baseline)), so that both see the same state of the
    machine: a shared machine drifts within a minute, and the first runs in a process
    also pay for faulting in fresh memory, which would otherwise fall on whichever task
    ran first."""
    from rima._kernels.threads import blas_one_thread

    def cov():
        np.cov(A, rowvar=False)

    def cov_one():
        with blas_one_thread():
            np.cov(A, rowvar=False)

    tasks = [cov, cov_one] + ([beside] if beside is not None else [])
    times, last = interleaved_times(tasks, repeat)
    base = min(times[0], times[1], key=float)
    return base if beside is None else (times[2], last[2], base)


SETTLE_LIMIT_S = 0.5
SETTLE_WINDOW_S = 0.01


def settle(limit_s=SETTLE_LIMIT_S, window_s=SETTLE_WINDOW_S, cpu=time.process_time,
           pause=time.sleep) -> float:
    """Wait until no thread of this process is using the CPU (at most `limit_s`): the
    window in which this process used less than a fifth of a core. After a threaded
    call numpy's BLAS leaves a worker thread spinning for about 0.1 s (measured here after
    `np.cov` of the 1M matrix: a whole core), which would take a core from whatever is
    timed next. Returns the seconds waited."""
    start = time.monotonic()
    before = cpu()
    while time.monotonic() - start < limit_s:
        pause(window_s)
        now = cpu()
        if now - before < 0.2 * window_s:
            break
        before = now
    return time.monotonic() - start


def interleaved_times(fns, repeat):
    """([Seconds of each of `fns`], [each one's last result]): `repeat` rounds, each
    running every function once in turn, round r starting with function r mod len(fns):
    what a task leaves behind (fresh memory to fault in) then falls on each of the others
    in turn, not always on the one that follows it. Each run starts once the process is
    idle (`settle`: no BLAS thread still spinning from the task before). A run's previous
    result is released before it starts, as a user's would be: a large fit is neither
    charged for freeing the last one's gigabytes nor run beside them."""
    times = [[] for _ in fns]
    last = [None] * len(fns)
    for r in range(max(1, repeat)):
        for i in range(len(fns)):
            k = (r + i) % len(fns)
            fn = fns[k]
            last[k] = None
            settle()
            t0 = time.perf_counter()
            out = fn()
            times[k].append(time.perf_counter() - t0)
            last[k] = out
            del out
    return [Seconds(t) for t in times], last


def median_time(fn, repeat):
    """(Seconds: median of `repeat` runs, with .p90 and .times; the last run's result),
    each run's previous result released before it starts (`interleaved_times`)."""
    times, last = interleaved_times([fn], repeat)
    return times[0], last[0]


REFERENCE_TASK = "reference: one-thread Python loop"


def reference_task(loops=300_000):
    """Fixed work on one thread that never waits (`loops` additions; 300,000 take about
    10 ms on a current core). Beside busy-loop processes its busy/quiet ratio is what the
    scheduler leaves any one-thread task, such as a small fit, whose every step runs on the
    calling thread: the floor the fit's own ratio is to be read against. `rima bench`
    sizes it to the small fit's quiet median (a short burst fares better beside busy
    processes than a long one)."""
    s = 0
    for i in range(loops):
        s += i
    return s


def reference_loops(target_s, time_loops=None, probe=100_000, rounds=2):
    """Loops of `reference_task` that take about `target_s` seconds: timed at `probe`
    loops and scaled, then timed again at the count found and scaled once more, so that
    a probe the machine happened to slow down does not leave the reference short.
    `time_loops(loops)`: the fastest of a few runs (by default 5 runs of
    `reference_task`)."""
    if time_loops is None:
        def time_loops(k):
            return min(median_time(lambda: reference_task(k), 5)[0].times)
    loops = probe
    for _ in range(rounds):
        loops = max(10_000, int(loops * target_s / max(time_loops(loops), 1e-9)))
    return loops


_BUSY_CODE = ("import time\nend = time.monotonic() + {limit}\n"
              "while time.monotonic() < end:\n    pass\n")


@contextmanager
def busy_processes(n, limit_s=BUSY_LIMIT_S):
    """`n` busy-loop processes (one core each) for the duration of the block: a machine
    where other work keeps the cores busy. Each stops itself after `limit_s` seconds; the
    block kills them on exit, error or not. Yields their process ids."""
    procs = []
    try:
        for _ in range(int(n)):
            procs.append(subprocess.Popen([sys.executable, "-c",
                                           _BUSY_CODE.format(limit=float(limit_s))],
                                          stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def machine_info(repeat) -> dict:
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    from rima import __version__, config

    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem,
            "numba_threads": config.num_threads(), "load_before": load, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "rima": __version__,
            "platform": platform.platform(), "repeat": repeat}


# ----------------------------------------------------------------------------- data

def example_spec():
    from rima.example import EXAMPLE_SPEC, example_dir
    from rima.spec import load_spec

    p = example_dir() / "spec.toml"
    return load_spec(p if p.exists() else EXAMPLE_SPEC)


def survey(n, seed=0, base=100_000):
    """Households with the example's columns: simulated up to `base` rows, above that
    rows of a `base`-row simulation drawn with replacement (only the spec's columns)."""
    from rima.simulation import simulate

    spec = example_spec()
    if n <= base:
        return simulate(n_households=n, seed=seed).households
    src = simulate(n_households=base, seed=seed).households
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, base, n)
    cols = [c for c in spec.required_columns if c != spec.id]
    out = {spec.id: np.arange(1, n + 1, dtype=np.int64)}
    for c in cols:
        out[c] = src[c].to_numpy()[idx]
    return pd.DataFrame(out)


def analysis_matrix(df, spec):
    """The complete rows of every spec variable as one C-contiguous (n, p) float64 array:
    np.cov's fastest input, so the baseline is the fastest honest one."""
    X = df[list(spec.variables)].to_numpy(dtype=float)
    return np.ascontiguousarray(X[~np.isnan(X).any(axis=1)])


def mimic_data(n, seed=1):
    """The MIMIC benchmark data of benchmarks/bench_mimic.py (4 causes, 3 indicators)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    x[:, 1] = rng.exponential(size=n)
    eta = x @ np.array([0.5, 0.3, -0.2, 0.4]) + rng.normal(0, 0.8, n)
    y = eta[:, None] * np.array([1.0, 0.8, 1.2]) + rng.standard_normal((n, 3)) * 0.7
    return pd.DataFrame(np.hstack([y, x]), columns=["y1", "y2", "y3", "x1", "x2", "x3", "x4"])


# ----------------------------------------------------------------------------- peers

def have_semopy():
    try:
        import semopy  # noqa: F401
    except ImportError:
        return False
    return True


def semopy_mimic(df):
    import warnings

    import semopy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mod = semopy.Model(MIMIC_MODEL)
        mod.fit(df)
        mod.inspect(std_est=False)
        return mod.predict_factors(df)


def r_available():
    """(True, "") when Rscript with psych, lavaan and jsonlite runs, else (False, reason)."""
    exe = shutil.which("Rscript")
    if exe is None:
        return False, "Rscript not found: the R reference procedure was skipped"
    try:
        probe = ("for (p in c('psych','lavaan','jsonlite')) "
                 "if (!requireNamespace(p, quietly=TRUE)) cat('missing', p)")
        out = subprocess.run([exe, "-e", probe], capture_output=True, text=True, timeout=120,
                             check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"Rscript could not run ({exc}): the R reference procedure was skipped"
    if "missing" in out.stdout:
        return False, (f"R lacks {out.stdout.strip().replace('missing ', '')}: the R "
                       "reference procedure was skipped")
    return True, ""


def r_script():
    here = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_procedure.R"
    return here if here.exists() else None


def run_r(df, spec, repeat, boot=0, workdir=None):
    """Seconds per run of the R reference procedure (median) and of `boot` replicates."""
    script = r_script()
    if script is None:
        raise FileNotFoundError("benchmarks/reference_procedure.R not found")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="rima-bench-"))
    data = workdir / "data.csv"
    cols = [c for c in spec.variables]
    import pyarrow as pa
    import pyarrow.csv as pcsv

    pcsv.write_csv(pa.Table.from_pandas(df[cols], preserve_index=False), data)
    job = workdir / "job.json"
    job.write_text(json.dumps({"data": str(data), "indicators": list(spec.indicators),
                               "pillars": {k: list(v) for k, v in spec.pillars.items()},
                               "repeat": int(repeat), "boot": int(boot)}))
    out = subprocess.run(["Rscript", str(script), str(job)], capture_output=True, text=True,
                         timeout=3600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"Rscript failed: {out.stderr.strip()[-500:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    fit = res["fit"] if isinstance(res["fit"], list) else [res["fit"]]
    return float(np.median(fit)), res.get("boot")


# ----------------------------------------------------------------------------- tasks

def _subprocess_seconds(code, env):
    """Wall time of a fresh `python -c code` and its peak RSS (MiB) from the child."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=3600, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-800:])
    return wall, out.stdout


_STREAM_CODE = """
import json, resource, time
from rima.streaming import score_file
import rima.model_file as mf
m = mf.load({model!r})
score_file(m, {small!r}, {small_out!r})          # loads cached kernels
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
s = score_file(m, {src!r}, {dst!r}, batch_rows={batch})
t = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": t, "rows": s.rows, "base_kib": base, "peak_kib": peak}}))
"""


def run(sizes=None, repeat=3, quick=False, n_boot=1000, echo=None, with_r=True,
        with_semopy=True, with_demo=True, busy=0, scaling=False) -> Bench:
    """Run the suite; `echo(str)` receives progress lines (e.g. click.echo to stderr).

    busy: also run the core tasks (moments, fit, MIMIC, scoring, bootstrap) beside `busy`
    busy-loop processes and report their median and p90 next to the quiet ones.
    scaling: time the largest fit (1,000,000 rows when listed), its scoring and the
    bootstrap at 1, 2 and all threads."""
    import warnings

    import rima
    from rima.resampling import bootstrap
    from rima.result import fit

    say = echo or (lambda s: None)
    sizes = tuple(sizes or (QUICK_SIZES if quick else FULL_SIZES))
    repeat = 1 if quick and repeat is None else (repeat or 3)
    if quick:
        n_boot = min(n_boot, 100)
    b = Bench(machine=machine_info(repeat))
    b.machine["busy"] = int(busy)
    spec = example_spec()

    if quick or not with_r:
        r_ok, why = False, "skipped in --quick" if quick else "skipped (--no-r)"
    else:
        r_ok, why = r_available()
    if not r_ok:
        b.messages.append(f"R peer: {why}")
    sem_ok = with_semopy and not quick and have_semopy()
    if not sem_ok:
        b.messages.append("semopy peer: " + (
            "skipped in --quick" if quick else "skipped" if not with_semopy
            else "not installed (pip install rima[bench])"))

    # warm-up: load the cached machine code of every kernel outside the timings
    say("warming up (loading compiled kernels)")
    small = survey(600, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = fit(small, spec)
        warm.model.score(small)
        bootstrap(warm, n_boot=4, progress=False)
        rima.mimic.fit(MIMIC_MODEL, mimic_data(500), se="robust.sem").predict(mimic_data(50))
    tmp = Path(tempfile.mkdtemp(prefix="rima-bench-"))
    ctx = {"bench": b, "spec": spec, "repeat": repeat, "quick": quick, "n_boot": n_boot,
           "say": say, "r_ok": r_ok, "sem_ok": sem_ok, "tmp": tmp, "first": sizes[0]}
    try:
        for n in sizes:
            _one_size(n, **ctx)
        if busy:
            quiet, b.rows = b.rows, []
            say(f"contention: the same tasks beside {busy} busy-loop process(es)")
            with busy_processes(busy):
                for n in sizes:
                    _one_size(n, **{**ctx, "r_ok": False, "sem_ok": False, "busy": True})
            busy_rows, b.rows = b.rows, quiet
            b.merge_busy(busy_rows)
        if scaling:
            _scaling(b, spec, sizes, n_boot, repeat, say)
        if with_demo and not quick:
            _demo(b, tmp, say)
        elif quick:
            b.messages.append("demo cold/warm start: skipped in --quick")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return b


def _one_size(n, bench, spec, repeat, quick, n_boot, say, r_ok, sem_ok, tmp, first,
              busy=False):
    """Every task at one size (a function, so the data are freed before the next size);
    `busy`: the pass beside busy-loop processes (no streaming, no peers but np.cov)."""
    import warnings

    import rima
    from rima.moments import compute_moments
    from rima.resampling import bootstrap
    from rima.result import fit

    b = bench
    say(f"n = {n:,}: generating data")
    df = survey(n)
    A = analysis_matrix(df, spec)
    t_mom, _ = median_time(lambda: compute_moments(A), repeat)
    say(f"n = {n:,}: whole fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_fit, res, t_cov = cov_time(A, repeat, beside=lambda: fit(df, spec))
    b.add("moments (all variables)", len(A), t_mom, cov_s=t_cov,
          note=f"{A.shape[1]} columns, complete rows")
    t_r = None
    if r_ok and n <= R_MAX:
        say(f"n = {n:,}: R reference procedure")
        try:
            t_r, _ = run_r(df, spec, repeat, workdir=tmp)
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
            b.messages.append(f"R at n={n:,} failed: {exc}")
    elif r_ok:
        b.messages.append(f"R skipped at n={n:,} (above {R_MAX:,} rows)")
    b.add("fit (pillars+MIMIC robust+RCI+RSM)", n, t_fit, cov_s=t_cov, r_s=t_r,
          note="np.cov on the same complete-row matrix")
    if b.machine.get("busy") and n == first:
        loops = b.machine.get("reference_loops")
        if loops is None:  # the quiet pass sizes it to the fit's quiet median, once
            # fastest runs: the least disturbed estimate of each on a loaded machine
            loops = b.machine["reference_loops"] = reference_loops(min(t_fit.times))
        t_ref, _ = median_time(lambda: reference_task(loops), repeat)
        b.add(REFERENCE_TASK, None, t_ref,
              note="fixed work on one thread, as long as the quiet fit: busy/quiet is the "
                   "scheduler's share of a core")

    say(f"n = {n:,}: MIMIC")
    md = mimic_data(n)
    t_mimic, _, t_cov_m = cov_time(
        md.to_numpy(), repeat,
        beside=lambda: rima.mimic.fit(MIMIC_MODEL, md, se="robust.sem").predict(md))
    t_sem = None
    if sem_ok and n <= SEMOPY_MAX:
        say(f"n = {n:,}: semopy")
        t_sem, _ = median_time(lambda: semopy_mimic(md), 1)
    elif sem_ok:
        b.messages.append(f"semopy skipped at n={n:,} (above {SEMOPY_MAX:,} rows)")
    b.add("MIMIC robust.sem + predict", n, t_mimic, cov_s=t_cov_m, semopy_s=t_sem,
          note="4 causes, 3 indicators")

    say(f"n = {n:,}: scoring")
    model = res.model
    X = df[model.variables].to_numpy(dtype=float)
    Y = df[model.indicators].to_numpy(dtype=float)
    t_arr, _ = median_time(lambda: model.score_arrays(X, Y), repeat)
    b.add("score in memory (arrays)", n, t_arr, note="saved model, score_arrays")
    t_df, _ = median_time(lambda: model.score(df), repeat)
    b.add("score in memory (DataFrame)", n, t_df, note="FittedModel.score with status")

    if (n >= 100_000 or quick) and not busy:
        say(f"n = {n:,}: Parquet -> Parquet streaming")
        try:
            b.rows.append(_stream(df, model, tmp))
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            b.messages.append(f"streaming at n={n:,} failed: {exc}")

    if n == BOOT_SIZE or (quick and n == first):
        say(f"n = {n:,}: bootstrap ({n_boot} replicates)")
        t_boot, _ = median_time(lambda: bootstrap(res, n_boot=n_boot, seed=1, progress=False),
                                repeat)
        t_rb, rb = None, max(5, min(20, n_boot))
        if r_ok:
            try:
                _, secs = run_r(df, spec, 1, boot=rb, workdir=tmp)
                t_rb = secs * n_boot / rb if secs else None
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
                b.messages.append(f"R bootstrap failed: {exc}")
        b.add(f"bootstrap {n_boot} replicates", n, t_boot, r_s=t_rb, per=n_boot / t_boot,
              note="rows/s = replicates/s" + (f"; R extrapolated from {rb} replicates"
                                               if t_rb else ""))


def scaling_threads():
    """1, 2 and all threads (those the pool has)."""
    from rima import config

    top = config.max_threads()
    return sorted({t for t in (1, 2, top) if t <= top})


def _scaling(b, spec, sizes, n_boot, repeat, say):
    """Time against thread count: the largest fit (1,000,000 rows when listed), scoring
    those rows and the bootstrap at BOOT_SIZE households."""
    import warnings

    from rima import config
    from rima.resampling import bootstrap
    from rima.result import fit

    n = 1_000_000 if 1_000_000 in sizes else max(sizes)
    df = survey(n)
    small = survey(BOOT_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(df, spec)
        res_small = fit(small, spec)
    model = res.model
    X = df[model.variables].to_numpy(dtype=float)
    Y = df[model.indicators].to_numpy(dtype=float)
    tasks = [("fit", n, lambda: fit(df, spec)),
             ("score in memory (arrays)", n, lambda: model.score_arrays(X, Y)),
             (f"bootstrap {n_boot} replicates", BOOT_SIZE,
              lambda: bootstrap(res_small, n_boot=n_boot, seed=1, progress=False))]
    try:
        for t in scaling_threads():
            config.set_num_threads(t)
            for task, size, fn in tasks:
                say(f"scaling: {task} with {t} thread(s)")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    secs, _ = median_time(fn, repeat)
                b.scaling.append({"task": task, "n": size, "threads": t,
                                  "seconds": float(secs), "p90_s": secs.p90})
    finally:
        config.set_num_threads(None)


def _stream(df, model, tmp):
    """Parquet -> Parquet scoring in a fresh process: rows/s and peak RSS over baseline."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src, dst = tmp / "stream_in.parquet", tmp / "stream_out.parquet"
    cols = list(dict.fromkeys([model.id, *model.required_columns]))
    pq.write_table(pa.Table.from_pandas(df[cols], preserve_index=False), src,
                   row_group_size=262_144)
    small, small_out = tmp / "stream_small.parquet", tmp / "stream_small_out.parquet"
    pq.write_table(pa.Table.from_pandas(df[cols].head(1000), preserve_index=False), small)
    mpath = tmp / "model.json"
    model.save(mpath)
    code = _STREAM_CODE.format(model=str(mpath), small=str(small), small_out=str(small_out),
                               src=str(src), dst=str(dst), batch=262_144)
    _, out = _subprocess_seconds(code, dict(os.environ))
    info = json.loads(out.strip().splitlines()[-1])
    grow = (info["peak_kib"] - info["base_kib"]) / 1024
    secs = info["seconds"]
    rec = {c: None for c in COLUMNS}
    rec.update(task="score Parquet -> Parquet (streaming)", n=info["rows"], rima_s=secs,
               per_s=info["rows"] / secs,
               note=f"peak RSS +{grow:.0f} MiB over baseline, batches of 262,144 rows")
    for p in (src, dst, small, small_out):
        p.unlink(missing_ok=True)
    return rec


def _demo(b, tmp, say):
    """`rima demo` in fresh processes: empty numba cache (cold), then the same cache (warm)."""
    cache = tmp / "numba-cache"
    cache.mkdir(exist_ok=True)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    code = "import sys; from rima.cli import main; sys.argv=['rima','demo']; main(['demo'])"
    say("demo: cold start (empty numba cache; compiles every kernel)")
    try:
        cold, _ = _subprocess_seconds(code, env)
        say("demo: warm start")
        warm_times = [_subprocess_seconds(code, env)[0] for _ in range(2)]
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        b.messages.append(f"demo timing failed: {exc}")
        return
    # the README's first command also writes the outputs and report.html (15 figures)
    out = tmp / "demo-out"
    code_out = ("import sys; from rima.cli import main; "
                f"main(['demo', '--out', {str(out)!r}])")
    say("demo --out: warm start, outputs and report")
    try:
        report_times = [_subprocess_seconds(code_out, env)[0] for _ in range(2)]
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        b.messages.append(f"demo --out timing failed: {exc}")
        report_times = []
    b.add("rima demo, cold numba cache", None, cold, note="fresh process, wall time")
    b.add("rima demo, warm cache", None, float(np.median(warm_times)),
          note="fresh process, wall time")
    if report_times:
        b.add("rima demo --out DIR, warm cache", None, float(np.median(report_times)),
              note="also writes scores, model.json and report.html with its figures")


def _peak_rss_mib():
    """This process's peak resident memory (MiB): Linux's VmHWM, which starts afresh in a
    new program (getrusage's maxrss would count the parent's pages a spawned worker saw
    between fork and exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_dask(households=10_000_000, partitions=40, workers=2, echo=None, workdir=None):
    """The partitioned fit of `households` simulated households as `partitions` Parquet
    files on a local cluster of `workers` processes, against the in-memory fit of the same
    data in the same run. Returns a dict: seconds of each, the largest absolute difference
    of their RCI_100 and MIMIC estimates, and each worker's peak resident memory (MiB)."""
    import shutil
    import tempfile
    import time
    from pathlib import Path

    from rima.result import fit
    from rima.scale_out import cluster, fit_dask

    say = echo or (lambda msg: None)
    spec = example_spec()
    tmp = Path(workdir or tempfile.mkdtemp(prefix="rima-bench-dask-"))
    parts = tmp / "households"
    parts.mkdir(parents=True, exist_ok=True)
    say(f"writing {households:,} households as {partitions} Parquet partitions")
    df = survey(households)
    for i, rows in enumerate(np.array_split(np.arange(households), partitions)):
        df.iloc[rows].to_parquet(parts / f"part-{i:05d}.parquet", index=False)
    # both engines timed warm: the kernels compile (or load from numba's cache) on first
    # use, in this process and in every fresh worker process
    small = tmp / "warmup"
    small.mkdir(exist_ok=True)
    for i, rows in enumerate(np.array_split(np.arange(min(households, 4000)), workers)):
        df.iloc[rows].to_parquet(small / f"part-{i:05d}.parquet", index=False)
    fit(df.iloc[:4000], spec)
    say("in-memory fit")
    t0 = time.perf_counter()
    mem = fit(df, spec)
    t_mem = time.perf_counter() - t0
    mem_r100 = mem.scores["RCI_100"].to_numpy()
    mem_est = mem.mimic.params["est"].to_numpy()
    del mem, df
    say(f"partitioned fit on {workers} worker processes")
    with cluster("local", workers) as client:
        t0 = time.perf_counter()
        fit_dask(str(small), spec, out=tmp / "warm-out")
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = fit_dask(str(parts), spec, out=tmp / "out")
        t_dask = time.perf_counter() - t0
        peaks = sorted(client.run(_peak_rss_mib).values())
    got = np.concatenate([pd.read_parquet(f, columns=["RCI_100"])["RCI_100"].to_numpy()
                          for f in sorted((tmp / "out" / "scores").iterdir())])
    both = ~np.isnan(got) & ~np.isnan(mem_r100)
    out = {"households": households, "partitions": partitions, "workers": workers,
           "memory_seconds": t_mem, "dask_seconds": t_dask,
           "dask_warmup_seconds": t_cold,
           "max_abs_diff_rci_100": float(np.max(np.abs(got[both] - mem_r100[both]))),
           "max_abs_diff_mimic_est": float(np.max(np.abs(
               res.mimic.params["est"].to_numpy() - mem_est))),
           "worker_peak_rss_mib": peaks}
    if workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
