"""Numba kernels for means and co-moments of many columns in one stable pass.

Rows are cut into fixed-size blocks. Each block is summarised exactly (a two-pass mean and
centred cross-products while the block sits in cache), blocks run in parallel, and the
block summaries are merged with Chan's update in block order. Block boundaries and the
merge order depend only on n, never on the thread count, so results are bit-identical from
run to run and machine load cannot change them. The block passes are serial numba
functions over a range of blocks that release the GIL; `rima.config.run_blocks` spreads
the ranges over threads (plain loops compile several times faster than numba's parallel
loops, and the ranges are handed out dynamically, which keeps a busy machine from
stalling a pass).
"""

import numpy as np
from numba import njit

from rima._kernels.columns import digest_block, digest_seeds, sum_digest_parts
from rima._kernels.threads import run_blocks

BLOCK = 2048
# Reassociation lets LLVM vectorise the block dot products; it never assumes finite values,
# so NaN still propagates into the block sums (compute_moments relies on that).
_VEC = {"reassoc", "contract"}


@njit(cache=True, fastmath=_VEC)
def _lower_dots(A, B, L, c):
    """c[i, j] = sum_r A[i, r] B[j, r] for j <= i, r < L. 4 x 4 register tiles: eight
    vector loads feed sixteen multiply-adds, so the loop runs at the multiply-add rate
    rather than the load rate (about twice as fast as 2 x 2 tiles at 29 columns); the few
    entries outside whole tiles are single dot products."""
    p = A.shape[0]
    for i in range(0, p, 4):
        for j in range(0, i + 1, 4):
            if i + 3 < p:
                s00 = s01 = s02 = s03 = 0.0
                s10 = s11 = s12 = s13 = 0.0
                s20 = s21 = s22 = s23 = 0.0
                s30 = s31 = s32 = s33 = 0.0
                for r in range(L):
                    a0 = A[i, r]
                    a1 = A[i + 1, r]
                    a2 = A[i + 2, r]
                    a3 = A[i + 3, r]
                    b0 = B[j, r]
                    b1 = B[j + 1, r]
                    b2 = B[j + 2, r]
                    b3 = B[j + 3, r]
                    s00 += a0 * b0
                    s01 += a0 * b1
                    s02 += a0 * b2
                    s03 += a0 * b3
                    s10 += a1 * b0
                    s11 += a1 * b1
                    s12 += a1 * b2
                    s13 += a1 * b3
                    s20 += a2 * b0
                    s21 += a2 * b1
                    s22 += a2 * b2
                    s23 += a2 * b3
                    s30 += a3 * b0
                    s31 += a3 * b1
                    s32 += a3 * b2
                    s33 += a3 * b3
                # a diagonal tile also fills a few entries above the diagonal: unused
                c[i, j] = s00
                c[i, j + 1] = s01
                c[i, j + 2] = s02
                c[i, j + 3] = s03
                c[i + 1, j] = s10
                c[i + 1, j + 1] = s11
                c[i + 1, j + 2] = s12
                c[i + 1, j + 3] = s13
                c[i + 2, j] = s20
                c[i + 2, j + 1] = s21
                c[i + 2, j + 2] = s22
                c[i + 2, j + 3] = s23
                c[i + 3, j] = s30
                c[i + 3, j + 1] = s31
                c[i + 3, j + 2] = s32
                c[i + 3, j + 3] = s33
            else:
                for ii in range(i, p):
                    for jj in range(j, min(j + 4, ii + 1)):
                        s = 0.0
                        for r in range(L):
                            s += A[ii, r] * B[jj, r]
                        c[ii, jj] = s


@njit(cache=True, fastmath=_VEC)
def block_summary(D, wb, use_w, L, m, c):
    """Weight sum, mean m and lower-triangle co-moment c of the block D (p, L), which holds
    the values column by column (already shifted); D is centred in place. Unweighted, it
    is `kept_summary` with every row kept (one body of that code to compile).

    Two passes for the mean (the second removes the first's rounding, as a centred sum),
    then the dot products; the tiny correction d of the second pass enters the co-moment
    as - sw d d' instead of a third pass over the block.
    """
    if not use_w:
        return kept_summary(D, np.ones(L, dtype=np.bool_), L, m, c)
    p = D.shape[0]
    sw = 0.0
    for r in range(L):
        sw += wb[r]
    if sw <= 0:
        for j in range(p):
            m[j] = 0.0
            for i in range(j + 1):
                c[j, i] = 0.0
        return 0.0
    d = np.zeros(p)
    for j in range(p):
        Dj = D[j]
        s = 0.0
        for r in range(L):
            s += wb[r] * Dj[r]
        mj = s / sw
        t = 0.0
        for r in range(L):
            v = Dj[r] - mj
            Dj[r] = v
            t += wb[r] * v
        d[j] = t / sw
        m[j] = mj + d[j]
    Dw = np.empty((p, L))
    for j in range(p):
        Dwj = Dw[j]
        Dj = D[j]
        for r in range(L):
            Dwj[r] = wb[r] * Dj[r]
    _lower_dots(Dw, D, L, c)
    for i in range(p):
        for j in range(i + 1):
            c[i, j] -= sw * d[i] * d[j]
    return sw


@njit(cache=True, fastmath=_VEC)
def kept_summary(D, keep, L, m, c):
    """The unweighted `block_summary` of the columns of D (p, L) over the rows where `keep`
    is True, the others holding 0 (a block of data rows read in place): the count of kept
    rows, their mean m and lower-triangle co-moment c; D is centred in place, its rows left
    out kept at 0 (the selects vectorise, as a weight of 0 would, without a weighted
    pass)."""
    p = D.shape[0]
    cnt = 0
    for r in range(L):
        cnt += keep[r]
    if cnt == 0:
        for j in range(p):
            m[j] = 0.0
            for i in range(j + 1):
                c[j, i] = 0.0
        return 0.0
    sw = float(cnt)
    d = np.zeros(p)
    for j in range(p):
        Dj = D[j]
        s = 0.0
        for r in range(L):
            s += Dj[r]
        mj = s / sw
        t = 0.0
        for r in range(L):
            v = Dj[r] - mj if keep[r] else 0.0
            Dj[r] = v
            t += v
        d[j] = t / sw
        m[j] = mj + d[j]
    _lower_dots(D, D, L, c)
    for i in range(p):
        for j in range(i + 1):
            c[i, j] -= sw * d[i] * d[j]
    return sw


def block_moments_rows(V, cols, rows, w, use_w, shift, digest=None, row_mask=None):
    """Per-block (weight sum, mean of x - shift, lower-triangle co-moment) of the matrix
    whose column c is V[cols[c], rows] (V: (q, n), one variable per row as validation
    stores the data; an (n, p) matrix X is V = X.T), without building that matrix; w is
    indexed by position in `rows`.

    Shifting by a data row makes the block means small numbers, so merging them does not
    lose the digits of a large common offset (values near 1e9 keep their spread exact).

    `digest` (k,) uint64: also the fingerprint digests of those columns over those rows
    (`rima._kernels.columns.column_digests`, offset 0), read from the same values in the
    same pass, stored there.

    Unweighted, with `rows` ascending and covering most of their range (the analysed
    rows of a survey), blocks of BLOCK data rows are read in place, the rows left out
    zeroed and not counted (`kept_summary`): a gather through `rows` does not run on
    vector instructions and took a third longer. Otherwise blocks of BLOCK positions in
    `rows` are gathered. Either way the blocks depend on the rows only, never on threads.
    `rows` None: every data row; unweighted and by column, they are read in place with no
    list of them made.
    """
    k = cols.shape[0]
    # a row-major (n, p) matrix arrives as V = X.T; it is read through X itself, so the
    # kernel is compiled once, for C-contiguous arrays, whichever layout the caller has
    by_row = not V.flags.c_contiguous and V.T.flags.c_contiguous
    if rows is None and not (by_row or use_w) and V.shape[1] >= 2:
        # the blocks `_dense_rows` finds for rows 0 .. n - 1, without the list
        m = V.shape[1]
        rows = np.zeros(0, dtype=np.int64)
        keep = np.ones(m, dtype=np.bool_)
        first = 0
        at = BLOCK * np.arange((m + BLOCK - 1) // BLOCK, dtype=np.int64)
    else:
        if rows is None:
            rows = np.arange(V.shape[1], dtype=np.int64)
        m = rows.shape[0]
        keep, first, at = _dense_rows(rows, by_row or use_w, row_mask)
    # blocks of BLOCK data rows from the first selected one when the rows are read in
    # place (`keep`), else blocks of BLOCK selected rows
    nb = (keep.shape[0] + BLOCK - 1) // BLOCK if keep.shape[0] else (m + BLOCK - 1) // BLOCK
    bw = np.zeros(nb)
    bm = np.zeros((nb, k))
    bc = np.zeros((nb, k, k))
    want = digest is not None
    dpart = np.zeros((nb if want else 0, k), dtype=np.uint64)
    seeds = digest_seeds(k) if want else np.zeros(0, dtype=np.uint64)
    A = np.ascontiguousarray(V.T if by_row else V).view()
    # numba compiles read-only arrays (pandas' copy-on-write columns) separately; a
    # read-only view of every input keeps it to one compilation
    A.flags.writeable = False
    run_blocks(_moments_rows_blocks, nb, m, A, by_row, cols, rows, w, use_w, shift, keep,
               first, at, bw, bm, bc, want, seeds, dpart)
    if want:
        digest[:] = sum_digest_parts(dpart)
    return bw, bm, bc


DENSE = 0.6  # rows at least this share of their range are read in place (`_dense_rows`)


def _dense_rows(rows, gather, row_mask=None):
    """(keep, first, at) for `_moments_rows_blocks` to read `rows` in place: keep (span,)
    True at the selected rows of data rows first .. first + span - 1, at (nb,) the number
    of selected rows before each block of BLOCK data rows (their positions, which the
    digest counts). Empty keep where the rows are to be gathered instead (`gather`, rows
    out of order or too sparse). `row_mask` (bool, over the data rows), when given, is the
    mask whose True rows `rows` lists, in order."""
    m = rows.shape[0]
    none = (np.zeros(0, dtype=np.bool_), 0, np.zeros(0, dtype=np.int64))
    if gather or m < 2:
        return none
    first = int(rows[0])
    span = int(rows[-1]) - first + 1
    if m < DENSE * span:
        return none
    if row_mask is not None:
        # writable, as the all-true masks of gathered blocks are: one type, one compilation
        keep = np.require(row_mask[first:first + span], np.bool_, ["C", "W"])
    elif bool(np.all(rows[1:] > rows[:-1])):
        keep = np.zeros(span, dtype=np.bool_)
        keep[rows - first] = True
    else:
        return none
    at = np.searchsorted(rows, first + BLOCK * np.arange((span + BLOCK - 1) // BLOCK))
    return keep, first, at.astype(np.int64)


@njit(cache=True, nogil=True)
def _moments_rows_blocks(A, by_row, cols, rows, w, use_w, shift, keep, first, at, bw, bm, bc,
                         want, seeds, dpart, b0, b1):
    k = cols.shape[0]
    m = rows.shape[0]
    in_place = keep.shape[0] > 0
    pt = np.empty(BLOCK if want else 0, dtype=np.uint64)
    # a gathered block keeps all its rows: the same summary and digest code as a block
    # read in place, one loop of each to compile
    every = np.ones(0 if in_place else BLOCK, dtype=np.bool_)
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(keep.shape[0] if in_place else m, lo + BLOCK)
        L = hi - lo
        D = np.empty((k, L))
        kb = keep[lo:hi] if in_place else every[:L]
        r = rows[lo:hi] if not in_place else rows[:0]
        for c in range(k):
            vc = cols[c]
            # with the digest the raw values come first (their bits are digested below)
            sc = 0.0 if want else shift[c]
            d = D[c]
            if in_place:
                # the rows left out are 0 here (their values may be missing)
                a = A[vc, first + lo:first + hi]
                for t in range(L):
                    d[t] = a[t] - sc if kb[t] else 0.0
            elif by_row:
                for t in range(L):
                    d[t] = A[r[t], vc] - sc
            else:
                # a gather through one column's 1-D view: about half the time of indexing
                # the 2-D block at every row
                a = A[vc]
                for t in range(L):
                    d[t] = a[r[t]] - sc
        if want:
            digest_block(D, kb, at[b] if in_place else lo, seeds, pt, dpart[b])
            for c in range(k):
                sc = shift[c]
                d = D[c]
                for t in range(L):
                    d[t] = d[t] - sc if kb[t] else 0.0
        # written in place: copying a block's arrays into bm[b] / bc[b] would compile
        # numba's shape-mismatch message formatting (seconds of a first run)
        if use_w:
            bw[b] = block_summary(D, w[lo:hi], True, L, bm[b], bc[b])
        else:
            bw[b] = kept_summary(D, kb, L, bm[b], bc[b])


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
    run_blocks(_pairwise_blocks, nb, n, X, w, use_w, bW, bM, bS, bC)
    return bW, bM, bS, bC


@njit(cache=True, nogil=True)
def _pairwise_blocks(X, w, use_w, bW, bM, bS, bC, b0, b1):
    n, p = X.shape
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        # block b's slots (zeros) are updated in place: assigning arrays to bW[b] etc.
        # would compile numba's shape-mismatch message formatting on a first run
        Wl = bW[b]
        Ml = bM[b]
        Sl = bS[b]
        Cl = bC[b]
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


def standardise_project(X, mean, scale, Wt):
    """Scores = ((X - mean) / scale) @ Wt, fused so no standardised copy of X is made."""
    n = X.shape[0]
    out = np.empty((n, Wt.shape[1]))
    A = Wt / scale[:, None]
    run_blocks(_project_blocks, (n + BLOCK - 1) // BLOCK, n, X, mean, A, out)
    return out


@njit(cache=True, nogil=True)
def _project_blocks(X, mean, A, out, b0, b1):
    n, p = X.shape
    k = A.shape[1]
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        for r in range(lo, hi):
            for f in range(k):
                out[r, f] = 0.0
            for j in range(p):
                x = X[r, j] - mean[j]
                for f in range(k):
                    out[r, f] += x * A[j, f]


def first_nonfinite_row(X):
    """Index of the first row holding NaN or +-inf, or -1; one parallel read of X."""
    n = X.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    hit = np.full(nb, -1)
    run_blocks(_nonfinite_blocks, nb, n, X, hit)
    for b in range(nb):
        if hit[b] >= 0:
            return int(hit[b])
    return -1


@njit(cache=True, nogil=True)
def _nonfinite_blocks(X, hit, b0, b1):
    n, p = X.shape
    for b in range(b0, b1):
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
