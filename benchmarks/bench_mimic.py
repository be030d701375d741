"""Benchmark: 4-cause, 3-indicator MIMIC with robust SEs plus predictions on 1e6 rows.

Prints rima's time and its ratio to numpy's `np.cov` on the same array and to semopy
(a speed peer only: its MIMIC fit measures differ from lavaan's). Run:

    python benchmarks/bench_mimic.py [n_rows]
"""

import sys
import time

import numpy as np

import rima.mimic as M
from rima.bench import MIMIC_MODEL as MODEL
from rima.bench import have_semopy, semopy_mimic
from rima.bench import mimic_data as make_data


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    df = make_data(n)
    arr = df.to_numpy()
    # compile the numba kernels outside the timing
    small = make_data(500)
    M.fit(MODEL, small, se="robust.sem").predict(small)

    def rima_run():
        res = M.fit(MODEL, df, se="robust.sem")
        return res, res.predict(df)

    t_cov, _ = best_of(lambda: np.cov(arr, rowvar=False), 3)
    t_rima, (_res, _scores) = best_of(rima_run, 3)
    print(f"rows: {n:,}")
    print(f"np.cov                       {t_cov * 1e3:9.1f} ms")
    print(f"rima fit(robust.sem)+predict {t_rima * 1e3:9.1f} ms   ratio to np.cov "
          f"{t_rima / t_cov:5.2f}")
    if not have_semopy():
        print("semopy not installed (pip install rima[bench])")
        return
    t_sem, _ = best_of(lambda: semopy_mimic(df), 1)
    print(f"semopy fit+SE+predict        {t_sem * 1e3:9.1f} ms   rima is "
          f"{t_sem / t_rima:5.1f}x faster")


if __name__ == "__main__":
    main()
