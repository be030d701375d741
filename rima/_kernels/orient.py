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
        for k0 in range(0, K, 4):
            _pair_sums(Pt, f, rows, w, use_w, lo, L, k0, parts, b)


@njit(cache=True, nogil=True)
def _pair_sums(Pt, f, rows, w, use_w, lo, L, k0, parts, b):
    """Block b's weighted sums of (pillar, composite) pairs for pillars k0 .. k0 + 3 (those
    that exist) into parts[:, b, k]. Four pillars at a time keep their running sums in
    registers, independent of one another, so the loop is not bound by the latency of one
    addition; each pillar's sums still add its rows in row order (the same bits as one
    pillar at a time)."""
    K = Pt.shape[0]
    h1 = k0 + 1 < K
    h2 = k0 + 2 < K
    h3 = k0 + 3 < K
    sw0 = sw1 = sw2 = sw3 = 0.0
    sx0 = sx1 = sx2 = sx3 = 0.0
    sy0 = sy1 = sy2 = sy3 = 0.0
    for i in range(L):
        y = f[i]
        if rows[lo + i] and np.isfinite(y):
            wi = w[lo + i] if use_w else 1.0
            x0, x1, x2, x3 = _four(Pt, k0, lo + i, h1, h2, h3)
            sw0, sx0, sy0 = _add_sums(x0, y, wi, sw0, sx0, sy0)
            sw1, sx1, sy1 = _add_sums(x1, y, wi, sw1, sx1, sy1)
            sw2, sx2, sy2 = _add_sums(x2, y, wi, sw2, sx2, sy2)
            sw3, sx3, sy3 = _add_sums(x3, y, wi, sw3, sx3, sy3)
    mx0, my0 = _means(sw0, sx0, sy0)
    mx1, my1 = _means(sw1, sx1, sy1)
    mx2, my2 = _means(sw2, sx2, sy2)
    mx3, my3 = _means(sw3, sx3, sy3)
    q0 = q1 = q2 = q3 = (0.0, 0.0, 0.0, 0.0)  # sums of w dx dx, w dy dy, w dx dy; rows
    for i in range(L):
        y = f[i]
        if rows[lo + i] and np.isfinite(y):
            wi = w[lo + i] if use_w else 1.0
            x0, x1, x2, x3 = _four(Pt, k0, lo + i, h1, h2, h3)
            q0 = _add_products(x0, y, wi, mx0, my0, q0)
            q1 = _add_products(x1, y, wi, mx1, my1, q1)
            q2 = _add_products(x2, y, wi, mx2, my2, q2)
            q3 = _add_products(x3, y, wi, mx3, my3, q3)
    _store_pair(parts, b, k0, sw0, mx0, my0, q0)
    if h1:
        _store_pair(parts, b, k0 + 1, sw1, mx1, my1, q1)
    if h2:
        _store_pair(parts, b, k0 + 2, sw2, mx2, my2, q2)
    if h3:
        _store_pair(parts, b, k0 + 3, sw3, mx3, my3, q3)


@njit(cache=True, nogil=True)
def _four(Pt, k0, i, h1, h2, h3):
    """Row i of pillars k0 .. k0 + 3; NaN (never counted) for those past the last."""
    return (Pt[k0, i], Pt[k0 + 1, i] if h1 else np.nan, Pt[k0 + 2, i] if h2 else np.nan,
            Pt[k0 + 3, i] if h3 else np.nan)


@njit(cache=True, nogil=True)
def _add_sums(x, y, wi, sw, sx, sy):
    if np.isfinite(x):
        return sw + wi, sx + wi * x, sy + wi * y
    return sw, sx, sy


@njit(cache=True, nogil=True)
def _means(sw, sx, sy):
    if sw == 0.0:
        return 0.0, 0.0
    return sx / sw, sy / sw


@njit(cache=True, nogil=True)
def _add_products(x, y, wi, mx, my, q):
    if np.isfinite(x):
        dx = x - mx
        dy = y - my
        return (q[0] + wi * dx * dx, q[1] + wi * dy * dy, q[2] + wi * dx * dy, q[3] + 1.0)
    return q


@njit(cache=True, nogil=True)
def _store_pair(parts, b, k, sw, mx, my, q):
    if sw == 0.0:
        return  # no row: the block's slot stays empty (weight 0)
    parts[0, b, k] = sw
    parts[1, b, k] = mx
    parts[2, b, k] = my
    parts[3, b, k] = q[0]
    parts[4, b, k] = q[1]
    parts[5, b, k] = q[2]
    parts[6, b, k] = q[3]


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
