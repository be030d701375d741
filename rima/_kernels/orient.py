"""The food-security composite of `rima.orientation` and its correlation with each pillar,
as passes over blocks of rows (spread over threads by `run_blocks`).

* `nan_column_moments`: count, mean and n - 1 SD of some columns over the rows of a mask,
  missing values left out (numpy's nanmean / nanstd(ddof=1) of those rows);
* `composite_correlations`: the composite of each row (mean of its z-scored indicators,
  NaN when it has none) and, in the same pass, the weighted Pearson correlation of each
  pillar with it over the rows of a mask where both are finite.

Each block is summarised exactly (a two-pass mean and centred sums while it sits in
cache) and the summaries are merged with Chan's update in block order, so the results
do not depend on the thread count.
"""

import numpy as np
from numba import njit

from rima._kernels.threads import run_blocks

BLOCK = 4096


def nan_column_moments(V, rows):
    """(count, mean, sd) of each row of V (q, n) over the columns where `rows` is True,
    NaN values left out; mean NaN without values, sd NaN with fewer than two."""
    q, n = V.shape
    nb = (n + BLOCK - 1) // BLOCK
    cnt = np.zeros((nb, q))
    mean = np.zeros((nb, q))
    m2 = np.zeros((nb, q))
    run_blocks(_nan_moment_blocks, nb, n, V, rows, cnt, mean, m2)
    return _merge_nan_moments(cnt, mean, m2)


@njit(cache=True, nogil=True)
def _nan_moment_blocks(V, rows, cnt, mean, m2, b0, b1):
    q, n = V.shape
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        for j in range(q):
            c = 0
            s = 0.0
            for i in range(lo, hi):
                x = V[j, i]
                if rows[i] and not np.isnan(x):
                    c += 1
                    s += x
            if c == 0:
                continue
            mu = s / c
            t = 0.0
            for i in range(lo, hi):
                x = V[j, i]
                if rows[i] and not np.isnan(x):
                    d = x - mu
                    t += d * d
            cnt[b, j] = c
            mean[b, j] = mu
            m2[b, j] = t


@njit(cache=True)
def _merge_nan_moments(cnt, mean, m2):
    nb, q = cnt.shape
    N = np.zeros(q)
    M = np.zeros(q)
    S = np.zeros(q)
    for b in range(nb):
        for j in range(q):
            c = cnt[b, j]
            if c == 0:
                continue
            tot = N[j] + c
            d = mean[b, j] - M[j]
            S[j] += m2[b, j] + d * d * N[j] * c / tot
            M[j] += d * c / tot
            N[j] = tot
    sd = np.empty(q)
    for j in range(q):
        if N[j] == 0:
            M[j] = np.nan
        sd[j] = np.sqrt(S[j] / (N[j] - 1.0)) if N[j] > 1 else np.nan
    return N, M, sd


def composite_correlations(Yt, ymean, ysd, Pt, rows, w, use_w, fs=None):
    """Per pillar k (rows of Pt (K, n)): (rows used, correlation with the composite) over
    the rows where `rows` is True and both are finite (NaN below three rows). The
    composite of row i is the mean of (Yt[j, i] - ymean[j]) / sd[j] over its indicators
    present, sd = ysd where positive, else 1. `fs` (n,): also store the composite there."""
    n = Yt.shape[1]
    K = Pt.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    sd = np.where(ysd > 0, ysd, 1.0)
    parts = np.zeros((7, nb, K))
    store = fs is not None
    run_blocks(_composite_blocks, nb, n, Yt, np.asarray(ymean, dtype=np.float64), sd, Pt,
               rows, w, use_w, fs if store else np.empty(0), store, parts)
    return _merge_pairs(parts)


@njit(cache=True, nogil=True)
def _composite_blocks(Yt, ymean, sd, Pt, rows, w, use_w, fs_out, store, parts, b0, b1):
    m, n = Yt.shape
    K = Pt.shape[0]
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        L = hi - lo
        # the composite as numpy's nanmean over the z-scored indicators computes it:
        # the present values added in indicator order, divided by their count
        f = np.zeros(L)
        c = np.zeros(L)
        for j in range(m):
            mu = ymean[j]
            s = sd[j]
            for i in range(L):
                z = (Yt[j, lo + i] - mu) / s
                if not np.isnan(z):
                    f[i] += z
                    c[i] += 1.0
        for i in range(L):
            f[i] = f[i] / c[i] if c[i] > 0 else np.nan
            if store:
                fs_out[lo + i] = f[i]
        for k in range(K):
            sw = 0.0
            sx = 0.0
            sy = 0.0
            for i in range(L):
                x = Pt[k, lo + i]
                y = f[i]
                if rows[lo + i] and np.isfinite(x) and np.isfinite(y):
                    wi = w[lo + i] if use_w else 1.0
                    sw += wi
                    sx += wi * x
                    sy += wi * y
            if sw == 0.0:
                continue
            mx = sx / sw
            my = sy / sw
            sxx = 0.0
            syy = 0.0
            sxy = 0.0
            cnt = 0.0
            for i in range(L):
                x = Pt[k, lo + i]
                y = f[i]
                if rows[lo + i] and np.isfinite(x) and np.isfinite(y):
                    wi = w[lo + i] if use_w else 1.0
                    dx = x - mx
                    dy = y - my
                    sxx += wi * dx * dx
                    syy += wi * dy * dy
                    sxy += wi * dx * dy
                    cnt += 1.0
            parts[0, b, k] = sw
            parts[1, b, k] = mx
            parts[2, b, k] = my
            parts[3, b, k] = sxx
            parts[4, b, k] = syy
            parts[5, b, k] = sxy
            parts[6, b, k] = cnt


@njit(cache=True)
def _merge_pairs(parts):
    _, nb, K = parts.shape
    n = np.zeros(K, dtype=np.int64)
    r = np.full(K, np.nan)
    for k in range(K):
        W = 0.0
        mx = 0.0
        my = 0.0
        sxx = 0.0
        syy = 0.0
        sxy = 0.0
        cnt = 0.0
        for b in range(nb):
            wb = parts[0, b, k]
            if wb == 0.0:
                continue
            tot = W + wb
            dx = parts[1, b, k] - mx
            dy = parts[2, b, k] - my
            f = W * wb / tot
            sxx += parts[3, b, k] + dx * dx * f
            syy += parts[4, b, k] + dy * dy * f
            sxy += parts[5, b, k] + dx * dy * f
            mx += dx * wb / tot
            my += dy * wb / tot
            W = tot
            cnt += parts[6, b, k]
        n[k] = np.int64(cnt)
        den = np.sqrt(sxx * syy)
        if n[k] >= 3 and den > 0:
            r[k] = sxy / den
    return n, r


# The orientation rule of `rima.orientation`, tried in this order; a pillar's sign is
# decided by this kernel in the fit (in-memory and partitioned) and in every bootstrap
# replicate, from the correlations each of them measures.
RULE_ANCHOR = 0
RULE_FOOD_SECURITY = 1
RULE_VARIABLES = 2
T_CRITICAL = 1.96


@njit(cache=True)
def decisive(r, n):
    """Whether a correlation r over n rows is distinguishable from zero: |t| >= 1.96 with
    n - 2 degrees of freedom (False when r is not finite or n < 3)."""
    if not np.isfinite(r) or n < 3:
        return False
    if abs(r) >= 1.0:
        return True
    return abs(r) * np.sqrt((n - 2) / (1.0 - r * r)) >= T_CRITICAL


@njit(cache=True)
def orient_sign(want, anchor_r, capacity, fs_r, n):
    """(sign, rule) for a pillar score with psych's sign: multiply it by `sign` (+1 or -1).

    want (float): the sign its anchor's correlation must have (+1 or -1), 0 without an
    anchor; anchor_r: its correlation with the anchor; capacity (bool): orientation =
    "capacity"; fs_r, n: its correlation with the food-security composite over n rows.
    With an anchor the score is turned round unless anchor_r has the wanted sign (a zero or
    undefined correlation turns it round); else, under "capacity" and when fs_r is
    `decisive`, it is turned to correlate positively with the composite; else psych's sign
    stands (RULE_VARIABLES).
    """
    if want != 0.0:
        keep = (want > 0.0 and anchor_r > 0.0) or (want < 0.0 and anchor_r < 0.0)
        return (1.0 if keep else -1.0), RULE_ANCHOR
    if capacity and decisive(fs_r, n):
        return (-1.0 if fs_r < 0.0 else 1.0), RULE_FOOD_SECURITY
    return 1.0, RULE_VARIABLES
