"""Weighted moments of the scores within groups, all groups in one pass over the rows.

The profile tables (a mean of RCI_100 with its domain SE, the pillar means and the RSM
within each category) and the overall RSM are all sums over the rows of a group.
`group_moments` gets every group of one grouping at once: one pass for the weighted means,
one for the centred sums (a two-pass scheme, as stable as centring each group's own
vectors first). Within each block of rows the rows are put in group order first (a
counting sort that keeps row order), so each group's sums run in local variables over its
rows of the block.

Each group's rows are summed sequentially in row order, so a group's results do not
depend on the other groups: the one-group call on that group's rows alone gives the same
bits (`rima.profiles.weighted_mean_ci` relies on it to match the profile tables exactly).
The kernel releases the GIL, so several groupings can run in threads at once.
"""

import numpy as np
from numba import njit


# rows are taken a block at a time, sorted by group within the block (rows kept in
# order); each group's sums are then read into local variables, carried over its rows of
# the block and written back. Every sum still adds the same terms in row order, but the
# additions of one group no longer wait on a store and reload of the same array slot per
# row, which bounded the row-by-row loop (about 3x slower). Groupings with more groups
# than this (an id-like profile) keep the row-by-row loop, where no sort is needed.
_RUN = 2048
_MAX_SORTED_GROUPS = 512


@njit(cache=True, error_model="numpy", nogil=True)
def group_moments(codes, n_groups, y, Pt, r, w, use_w):
    """Moments by group. codes (n,) int64: the group of each row in [0, n_groups), or -1
    for a row left out. y (n,): the variable whose mean and SE are wanted; Pt (K, n): more
    variables (pillars, one per row of Pt) whose means and covariances with r (n,) are
    wanted; w (n,) weights (read only if use_w; else every weight is 1).

    Returns per group g: count, sum_w, first (the first row of g, -1 if none), mean_y,
    ss_y = sum w^2 (y - mean_y)^2 (the linearised SE's sum), mean_P (G, K), mean_r,
    ss_P (G, K) = sum w (P - mean_P)^2, ss_r = sum w (r - mean_r)^2,
    sp_Pr (G, K) = sum w (P - mean_P)(r - mean_r).
    """
    n = codes.shape[0]
    K = Pt.shape[0]
    G = n_groups
    count = np.zeros(G, dtype=np.int64)
    first = np.full(G, -1, dtype=np.int64)
    sw = np.zeros(G)
    sy = np.zeros(G)
    sr = np.zeros(G)
    sp = np.zeros((G, K))
    sorted_runs = G <= _MAX_SORTED_GROUPS
    nb = (n + _RUN - 1) // _RUN if sorted_runs else 0
    # every block's rows sorted by group once, for both passes
    order = np.empty(n if sorted_runs else 0, dtype=np.int64)
    starts = np.empty((nb, G + 1), dtype=np.int64)
    for blk in range(nb):
        _sort_block(codes, blk * _RUN, min(n, (blk + 1) * _RUN), starts[blk], order)
    if sorted_runs:
        for blk in range(nb):
            start = starts[blk]
            for g in range(G):
                a = start[g]
                b = start[g + 1]
                if a == b:
                    continue
                if first[g] < 0:
                    first[g] = order[a]
                count[g] += b - a
                for k0 in range(0, max(K, 1), 4):
                    _sums(order, a, b, y, r, Pt, w, use_w, sw, sy, sr, sp, g, k0)
    else:
        for i in range(n):
            g = codes[i]
            if g < 0:
                continue
            wi = w[i] if use_w else 1.0
            if first[g] < 0:
                first[g] = i
            count[g] += 1
            sw[g] += wi
            sy[g] += wi * y[i]
            sr[g] += wi * r[i]
            for k in range(K):
                sp[g, k] += wi * Pt[k, i]
    mean_y = np.empty(G)
    mean_r = np.empty(G)
    mean_p = np.empty((G, K))
    for g in range(G):
        mean_y[g] = sy[g] / sw[g]
        mean_r[g] = sr[g] / sw[g]
        for k in range(K):
            mean_p[g, k] = sp[g, k] / sw[g]
    ss_y = np.zeros(G)
    ss_r = np.zeros(G)
    ss_p = np.zeros((G, K))
    sp_pr = np.zeros((G, K))
    if sorted_runs:
        for blk in range(nb):
            start = starts[blk]
            for g in range(G):
                a = start[g]
                b = start[g + 1]
                if a == b:
                    continue
                for k0 in range(0, max(K, 1), 4):
                    _centred(order, a, b, y, r, Pt, w, use_w, mean_y, mean_r, mean_p, ss_y,
                             ss_r, ss_p, sp_pr, g, k0)
    else:
        for i in range(n):
            g = codes[i]
            if g < 0:
                continue
            wi = w[i] if use_w else 1.0
            dy = y[i] - mean_y[g]
            ss_y[g] += wi * wi * dy * dy
            dr = r[i] - mean_r[g]
            ss_r[g] += wi * dr * dr
            for k in range(K):
                dp = Pt[k, i] - mean_p[g, k]
                ss_p[g, k] += wi * dp * dp
                sp_pr[g, k] += wi * dp * dr
    return count, sw, first, mean_y, ss_y, mean_p, mean_r, ss_p, ss_r, sp_pr


@njit(cache=True, inline="always")
def _sort_block(codes, lo, hi, start, order):
    """order[start[g]:start[g + 1]] = the rows lo..hi-1 of group g, in increasing order
    (a counting sort; rows left out are dropped; positions count from lo)."""
    G = start.shape[0] - 1
    if G == 1:
        # one group (the RSM): the kept rows, without a count per group
        c = lo
        for i in range(lo, hi):
            order[c] = i
            c += codes[i] >= 0
        start[0] = lo
        start[1] = c
        return
    for g in range(G + 1):
        start[g] = 0
    for i in range(lo, hi):
        g = codes[i]
        if g >= 0:
            start[g + 1] += 1
    start[0] = lo
    for g in range(G):
        start[g + 1] += start[g]
    for i in range(lo, hi):
        g = codes[i]
        if g >= 0:
            order[start[g]] = i
            start[g] += 1
    # start[g] now ends group g: shift back by one group
    for g in range(G, 0, -1):
        start[g] = start[g - 1]
    start[0] = lo


@njit(cache=True, inline="always")
def _lanes(K, k0):
    # four pillars k0..k0+3 per loop over a group's rows; lanes past the last pillar
    # repeat it and are not stored
    last = K - 1
    return k0, min(k0 + 1, last), min(k0 + 2, last), min(k0 + 3, last)


@njit(cache=True, inline="always")
def _sums(order, a, b, y, r, Pt, w, use_w, sw, sy, sr, sp, g, k0):
    """The first pass's sums of group g over its rows order[a:b]: with k0 = 0 those of w,
    w y and w r, and those of w P for the pillars k0..k0+3."""
    K = Pt.shape[0]
    base = k0 == 0
    has_p = K > 0
    k1, k2, k3, k4 = _lanes(max(K, 1), k0)
    s_w = sw[g]
    s_y = sy[g]
    s_r = sr[g]
    p1 = sp[g, k1] if has_p else 0.0
    p2 = sp[g, k2] if has_p else 0.0
    p3 = sp[g, k3] if has_p else 0.0
    p4 = sp[g, k4] if has_p else 0.0
    for t in range(a, b):
        i = order[t]
        wi = w[i] if use_w else 1.0
        if base:
            s_w += wi
            s_y += wi * y[i]
            s_r += wi * r[i]
        if has_p:
            p1 += wi * Pt[k1, i]
            p2 += wi * Pt[k2, i]
            p3 += wi * Pt[k3, i]
            p4 += wi * Pt[k4, i]
    if base:
        sw[g] = s_w
        sy[g] = s_y
        sr[g] = s_r
    if has_p:
        _store4(sp, g, k0, K, p1, p2, p3, p4)


@njit(cache=True, inline="always")
def _store4(a, g, k0, K, v1, v2, v3, v4):
    a[g, k0] = v1
    if k0 + 1 < K:
        a[g, k0 + 1] = v2
    if k0 + 2 < K:
        a[g, k0 + 2] = v3
    if k0 + 3 < K:
        a[g, k0 + 3] = v4


@njit(cache=True, inline="always")
def _centred(order, a, b, y, r, Pt, w, use_w, mean_y, mean_r, mean_p, ss_y, ss_r, ss_p,
             sp_pr, g, k0):
    """The second pass's centred sums of group g over its rows order[a:b] (those of y and
    r with k0 = 0, those of the pillars k0..k0+3)."""
    K = Pt.shape[0]
    base = k0 == 0
    has_p = K > 0
    k1, k2, k3, k4 = _lanes(max(K, 1), k0)
    my = mean_y[g]
    mr = mean_r[g]
    m1 = mean_p[g, k1] if has_p else 0.0
    m2 = mean_p[g, k2] if has_p else 0.0
    m3 = mean_p[g, k3] if has_p else 0.0
    m4 = mean_p[g, k4] if has_p else 0.0
    s_y = ss_y[g]
    s_r = ss_r[g]
    q1 = ss_p[g, k1] if has_p else 0.0
    q2 = ss_p[g, k2] if has_p else 0.0
    q3 = ss_p[g, k3] if has_p else 0.0
    q4 = ss_p[g, k4] if has_p else 0.0
    c1 = sp_pr[g, k1] if has_p else 0.0
    c2 = sp_pr[g, k2] if has_p else 0.0
    c3 = sp_pr[g, k3] if has_p else 0.0
    c4 = sp_pr[g, k4] if has_p else 0.0
    for t in range(a, b):
        i = order[t]
        wi = w[i] if use_w else 1.0
        dr = r[i] - mr
        if base:
            dy = y[i] - my
            s_y += wi * wi * dy * dy
            s_r += wi * dr * dr
        if has_p:
            d1 = Pt[k1, i] - m1
            d2 = Pt[k2, i] - m2
            d3 = Pt[k3, i] - m3
            d4 = Pt[k4, i] - m4
            q1 += wi * d1 * d1
            q2 += wi * d2 * d2
            q3 += wi * d3 * d3
            q4 += wi * d4 * d4
            c1 += wi * d1 * dr
            c2 += wi * d2 * dr
            c3 += wi * d3 * dr
            c4 += wi * d4 * dr
    if base:
        ss_y[g] = s_y
        ss_r[g] = s_r
    if has_p:
        _store4(ss_p, g, k0, K, q1, q2, q3, q4)
        _store4(sp_pr, g, k0, K, c1, c2, c3, c4)
