"""The household scoring of RIMA-II as one pure function on arrays.

Fitting and a loaded model both score through `score_households`, so a saved model
reproduces the fitted scores bit for bit. Everything learned is folded into a few arrays:

* `mean`, `scale` (p,): training mean and n - 1 SD of each pillar variable;
* `W` (p, K): column k holds pillar k's combined weights, i.e. the factor score weights
  times the variance weights, with the sign of "negative" variables and the pillar's
  orientation already multiplied in (reversing a variable negates its row of Z, so it is
  the same as negating its row of W); zero for variables of other pillars;
* `member` (p, K) bool: which variables a pillar needs (missing any -> pillar is NaN);
* `ymean`, `ysd` (m,): indicator standardisation;
* `icpt` (2^m,), `cx` (2^m, K), `cy` (2^m, m): MIMIC prediction weights for each pattern of
  missing indicators (bit j set = indicator j missing); NaN rows for patterns the model
  cannot score, zero `cy` entries for missing indicators;
* `lo`, `hi`: the RCI_100 scale.

The kernel is one fused parallel pass per block of rows: standardise, orient and weight
each variable into its pillar, find the indicator pattern, apply the MIMIC prediction and
rescale, with no n x p temporary. Each row's arithmetic is independent of the others, so
results do not depend on the thread count.
"""

import numpy as np
from numba import njit, prange

BLOCK = 8192


@njit(cache=True, parallel=True)
def _score_rows(X, mean, scale, W, member, Y, ymean, ysd, icpt, cx, cy, lo, hi):
    n, p = X.shape
    K = W.shape[1]
    m = Y.shape[1]
    P = np.empty((n, K))
    rci = np.empty(n)
    r100 = np.empty(n)
    inv = np.empty(p)
    for j in range(p):
        inv[j] = 1.0 / scale[j]
    yinv = np.empty(m)
    for j in range(m):
        yinv[j] = 1.0 / ysd[j]
    span = hi - lo
    # a variable usually feeds one pillar: remember which, so the row loop does one
    # multiply-add per cell instead of K (-1: several pillars, use the whole row of W)
    owner = np.full(p, -1, dtype=np.int64)
    for j in range(p):
        cnt = 0
        for k in range(K):
            if member[j, k] or W[j, k] != 0.0:
                cnt += 1
                owner[j] = k
        if cnt != 1:
            owner[j] = -1
    nb = (n + BLOCK - 1) // BLOCK
    for b in prange(nb):
        acc = np.empty(K)
        bad = np.empty(K, dtype=np.bool_)
        yz = np.empty(m)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for k in range(K):
                acc[k] = 0.0
                bad[k] = False
            for j in range(p):
                x = X[i, j]
                if np.isnan(x):
                    for k in range(K):
                        if member[j, k]:
                            bad[k] = True
                elif owner[j] >= 0:
                    acc[owner[j]] += (x - mean[j]) * inv[j] * W[j, owner[j]]
                else:
                    z = (x - mean[j]) * inv[j]
                    for k in range(K):
                        acc[k] += z * W[j, k]
            for k in range(K):
                if bad[k]:
                    acc[k] = np.nan
                P[i, k] = acc[k]
            pat = 0
            for j in range(m):
                y = Y[i, j]
                if np.isnan(y):
                    pat |= 1 << j
                    yz[j] = 0.0
                else:
                    yz[j] = (y - ymean[j]) * yinv[j]
            v = icpt[pat]
            for k in range(K):
                v += acc[k] * cx[pat, k]
            for j in range(m):
                v += yz[j] * cy[pat, j]
            rci[i] = v
            r100[i] = 100.0 * (v - lo) / span
    return P, rci, r100


def score_households(X, mean, scale, W, member, Y, ymean, ysd, icpt, cx, cy, lo, hi):
    """Return (pillars (n, K), rci (n,), rci_100 (n,)); NaN where a row cannot be scored."""
    f = np.float64
    X = np.asarray(X, dtype=f)
    Y = np.asarray(Y, dtype=f)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{X.shape[0]} rows of variables but {Y.shape[0]} of indicators")
    return _score_rows(X, np.asarray(mean, dtype=f), np.asarray(scale, dtype=f),
                       np.ascontiguousarray(W, dtype=f),
                       np.ascontiguousarray(member, dtype=np.bool_), Y,
                       np.asarray(ymean, dtype=f), np.asarray(ysd, dtype=f),
                       np.asarray(icpt, dtype=f), np.ascontiguousarray(cx, dtype=f),
                       np.ascontiguousarray(cy, dtype=f), float(lo), float(hi))


def rci_100_scale(rci, lo, hi):
    """RCI_100 from RCI with the kernel's own arithmetic (bit-identical to its output)."""
    return 100.0 * (np.asarray(rci, dtype=np.float64) - float(lo)) / (float(hi) - float(lo))
