"""Numba kernels for means and co-moments of many columns in one stable pass.

Rows are cut into fixed-size blocks. Each block is summarised exactly (a two-pass mean and
centred cross-products while the block sits in cache), blocks run in parallel, and the
block summaries are merged with Chan's update in block order. Block boundaries and the
merge order depend only on n, never on the thread count, so results are bit-identical from
run to run and machine load cannot change them.
"""

import numpy as np
from numba import njit, prange

BLOCK = 4096


@njit(cache=True, parallel=True)
def block_moments(X, w, use_w, shift):
    """Per-block (weight sum, mean of X - shift, lower-triangle co-moment) for X (n, p).

    Shifting by a data row makes the block means small numbers, so merging them does not
    lose the digits of a large common offset (values near 1e9 keep their spread exact).
    """
    n, p = X.shape
    nb = (n + BLOCK - 1) // BLOCK
    bw = np.zeros(nb)
    bm = np.zeros((nb, p))
    bc = np.zeros((nb, p, p))
    for b in prange(nb):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        s = np.zeros(p)
        sw = 0.0
        for r in range(lo, hi):
            wr = w[r] if use_w else 1.0
            sw += wr
            for j in range(p):
                s[j] += wr * (X[r, j] - shift[j])
        m = s / sw if sw > 0 else s
        # Second pass on the cached block removes the residual rounding of the first mean.
        corr = np.zeros(p)
        for r in range(lo, hi):
            wr = w[r] if use_w else 1.0
            for j in range(p):
                corr[j] += wr * ((X[r, j] - shift[j]) - m[j])
        if sw > 0:
            for j in range(p):
                m[j] += corr[j] / sw
        c = np.zeros((p, p))
        d = np.empty(p)
        for r in range(lo, hi):
            wr = w[r] if use_w else 1.0
            for j in range(p):
                d[j] = (X[r, j] - shift[j]) - m[j]
            for i in range(p):
                di = wr * d[i]
                for j in range(i + 1):
                    c[i, j] += di * d[j]
        bw[b] = sw
        bm[b] = m
        bc[b] = c
    return bw, bm, bc


@njit(cache=True)
def merge_blocks(bw, bm, bc):
    """Merge block summaries in block order (Chan et al.); returns full symmetric co-moment."""
    nb, p = bm.shape
    W = 0.0
    mean = np.zeros(p)
    C = np.zeros((p, p))
    delta = np.empty(p)
    for b in range(nb):
        wb = bw[b]
        if wb <= 0:
            continue
        tot = W + wb
        for j in range(p):
            delta[j] = bm[b, j] - mean[j]
        f = W * wb / tot
        for i in range(p):
            for j in range(i + 1):
                C[i, j] += bc[b, i, j] + delta[i] * delta[j] * f
        for j in range(p):
            mean[j] += delta[j] * wb / tot
        W = tot
    for i in range(p):
        for j in range(i + 1, p):
            C[i, j] = C[j, i]
    return W, mean, C


@njit(cache=True, parallel=True)
def block_pairwise(X, w, use_w):
    """Pairwise-complete summaries per block: for each pair (i, j) the weight of rows where
    both are present, their means of i and j, and the centred sums of squares and product.

    Returns arrays (nb, p, p) for W, mean_i (of row variable i over the pair's rows),
    M2_i, and C_ij; mean_j / M2_j are the transposed entries.
    """
    n, p = X.shape
    nb = (n + BLOCK - 1) // BLOCK
    bW = np.zeros((nb, p, p))
    bM = np.zeros((nb, p, p))
    bS = np.zeros((nb, p, p))
    bC = np.zeros((nb, p, p))
    for b in prange(nb):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        Wl = np.zeros((p, p))
        Ml = np.zeros((p, p))
        Sl = np.zeros((p, p))
        Cl = np.zeros((p, p))
        for r in range(lo, hi):
            wr = w[r] if use_w else 1.0
            if wr <= 0:
                continue
            for i in range(p):
                xi = X[r, i]
                if np.isnan(xi):
                    continue
                for j in range(p):
                    xj = X[r, j]
                    if np.isnan(xj):
                        continue
                    # Welford update of (mean_i, M2_i) on the rows where both i and j exist;
                    # the cross product uses the (i, j) entry with i as the row variable.
                    wn = Wl[i, j] + wr
                    di = xi - Ml[i, j]
                    Ml[i, j] += di * wr / wn
                    Sl[i, j] += wr * di * (xi - Ml[i, j])
                    if j < i:
                        # Ml[j, i] was already updated for this row (i' = j came first), so
                        # this is the co-moment update w (x - old mean)(y - new mean).
                        Cl[i, j] += wr * di * (xj - Ml[j, i])
                    Wl[i, j] = wn
        bW[b] = Wl
        bM[b] = Ml
        bS[b] = Sl
        bC[b] = Cl
    return bW, bM, bS, bC


@njit(cache=True)
def merge_pairwise(bW, bM, bS, bC):
    nb, p, _ = bW.shape
    W = np.zeros((p, p))
    M = np.zeros((p, p))
    S = np.zeros((p, p))
    C = np.zeros((p, p))
    for b in range(nb):
        for i in range(p):
            for j in range(p):
                wb = bW[b, i, j]
                if wb <= 0:
                    continue
                tot = W[i, j] + wb
                d = bM[b, i, j] - M[i, j]
                f = W[i, j] * wb / tot
                S[i, j] += bS[b, i, j] + d * d * f
                if j < i:
                    dj = bM[b, j, i] - M[j, i]
                    C[i, j] += bC[b, i, j] + d * dj * f
        for i in range(p):
            for j in range(p):
                wb = bW[b, i, j]
                if wb <= 0:
                    continue
                tot = W[i, j] + wb
                M[i, j] += (bM[b, i, j] - M[i, j]) * wb / tot
        for i in range(p):
            for j in range(p):
                W[i, j] += bW[b, i, j]
    for i in range(p):
        for j in range(i + 1, p):
            C[i, j] = C[j, i]
    return W, M, S, C


@njit(cache=True, parallel=True)
def standardise_project(X, mean, scale, Wt):
    """Scores = ((X - mean) / scale) @ Wt, fused so no standardised copy of X is made."""
    n, p = X.shape
    k = Wt.shape[1]
    out = np.empty((n, k))
    A = np.empty((p, k))
    for j in range(p):
        for f in range(k):
            A[j, f] = Wt[j, f] / scale[j]
    nb = (n + BLOCK - 1) // BLOCK
    for b in prange(nb):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        for r in range(lo, hi):
            for f in range(k):
                out[r, f] = 0.0
            for j in range(p):
                x = X[r, j] - mean[j]
                for f in range(k):
                    out[r, f] += x * A[j, f]
    return out


@njit(cache=True, parallel=True)
def first_nonfinite_row(X):
    """Index of the first row holding NaN or +-inf, or -1; one parallel read of X."""
    n, p = X.shape
    nb = (n + BLOCK - 1) // BLOCK
    hit = np.full(nb, -1)
    for b in prange(nb):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        for r in range(lo, hi):
            bad = False
            for j in range(p):
                if not np.isfinite(X[r, j]):
                    bad = True
            if bad:
                hit[b] = r
                break
    for b in range(nb):
        if hit[b] >= 0:
            return hit[b]
    return -1
