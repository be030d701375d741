"""Where the time of a large fit goes: each step of `rima.fit` timed, beside `np.cov` on the
same analysed matrix measured in the same run (the baseline of `rima bench`).

    python benchmarks/bench_fit_stages.py [--n 1000000] [--repeat 7] [--threads N]

Prints, for the whole fit and each step, the fastest of `repeat` runs (the least disturbed
estimate on a shared machine) and the median, then the fit's ratio to np.cov (the faster
of numpy's own BLAS threads and one thread, on the C-contiguous (n, p) matrix). A step's
time includes the kernels it starts; steps run beside others (the RSM and profiles beside
the score table) overlap, so the steps do not add up to the whole fit.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

STEPS = [
    ("rima.validation", ["validate", "convert_block", "_status_codes"]),
    ("rima.pipeline", ["fit_input", "shared_moments", "fit_pillars", "score_pillars", "_orient",
                       "fit_mimic", "gather_columns", "scale_scores", "score_table",
                       "row_status", "status_column", "rsm_and_profiles", "rsm_table",
                       "profile_tables", "build_model", "accounting_table"]),
]


def _timed(f, name, spent):
    """`f`, adding the seconds each call takes to spent[name]."""
    def timed(*args, **kw):
        t0 = time.perf_counter()
        try:
            return f(*args, **kw)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

    return timed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()

    import importlib


    import rima.config as cfg
    from rima._kernels.threads import blas_one_thread
    from rima.bench import analysis_matrix, example_spec, survey
    from rima.pipeline import fit

    if a.threads:
        cfg.set_num_threads(a.threads)
    spec = example_spec()
    df = survey(a.n)
    A = analysis_matrix(df, spec)
    spent: dict = {}
    order = []
    for modname, names in STEPS:
        mod = importlib.import_module(modname)
        for name in names:
            if not hasattr(mod, name):
                continue
            order.append(name)
            setattr(mod, name, _timed(getattr(mod, name), name, spent))
    warnings.simplefilter("ignore")
    fit(df, spec)  # compiled and warm
    runs = []
    for _ in range(a.repeat):
        spent.clear()
        t0 = time.perf_counter()
        fit(df, spec)
        runs.append((time.perf_counter() - t0, dict(spent)))

    def best(fn):
        ts = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return min(ts)

    cov_default = best(lambda: np.cov(A, rowvar=False))
    with blas_one_thread():
        cov_one = best(lambda: np.cov(A, rowvar=False))
    cov = min(cov_default, cov_one)
    total = [t for t, _ in runs]
    print(f"n = {a.n:,} ({A.shape[0]:,} x {A.shape[1]} analysed), threads "
          f"{cfg.num_threads()}, load {os.getloadavg()[0]:.2f}")
    print(f"{'whole fit':24s} min {min(total) * 1e3:8.1f} ms  median "
          f"{np.median(total) * 1e3:8.1f} ms")
    for name in order:
        v = [s[name] for _, s in runs if name in s]
        if v:
            print(f"  {name:22s} min {min(v) * 1e3:8.1f} ms  median {np.median(v) * 1e3:8.1f} ms")
    print(f"np.cov: {cov_default * 1e3:.1f} ms (BLAS threads), {cov_one * 1e3:.1f} ms (one "
          f"thread); fit / np.cov = {min(total) / cov:.2f} (fastest runs)")


if __name__ == "__main__":
    main()
