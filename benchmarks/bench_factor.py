"""Benchmark: one pillar on 1,000,000 rows x 8 variables.

Correlation + principal-axis extraction + Bartlett scores (rima) against numpy's `np.cov`
on the same array in the same process; prints both times and their ratio (target <= 3).
Numba kernels are cached on disk, so only the first run ever pays compilation; a warm-up
call on a small array keeps any remaining JIT work out of the timing.

    python benchmarks/bench_factor.py [--rows 1000000] [--repeat 5]
"""

import argparse
import time

import numpy as np

from rima import FactorModel


def make_data(n, p=8, seed=0):
    rng = np.random.default_rng(seed)
    L = np.zeros((p, 2))
    L[: p // 2, 0] = 0.75
    L[p // 2:, 1] = 0.65
    F = rng.standard_normal((n, 2))
    X = F @ L.T + rng.standard_normal((n, p)) * np.sqrt(1 - (L**2).sum(1))
    # realistic magnitudes: herd sizes in the hundreds, log expenditure near 11
    X[:, 0] = 350 + 150 * X[:, 0]
    X[:, 1] = 11 + 0.3 * X[:, 1]
    return X


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    X = make_data(args.rows)

    t0 = time.perf_counter()
    FactorModel(n_factors=2, method="pa", scores="bartlett").fit(X[:1000]).transform(X[:1000])
    warm = time.perf_counter() - t0

    def rima_pillar():
        fm = FactorModel(n_factors=2, method="pa", rotation="none", scores="bartlett")
        fm.fit(X)
        return fm.transform(X)

    t_rima = best_of(rima_pillar, args.repeat)
    t_cov = best_of(lambda: np.cov(X, rowvar=False), args.repeat)
    print(f"rows={args.rows} vars={X.shape[1]}  (warm-up incl. cache load {warm:.2f} s)")
    print(f"rima corr + pa + Bartlett scores: {t_rima * 1e3:8.1f} ms")
    print(f"np.cov                          : {t_cov * 1e3:8.1f} ms")
    print(f"ratio                           : {t_rima / t_cov:8.2f}x  (target <= 3)")


if __name__ == "__main__":
    main()
