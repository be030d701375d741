"""Weighted moments of the scores within groups, all groups in one pass over the rows.

The profile tables (a mean of RCI_100 with its domain SE, the pillar means and the RSM
within each category) and the overall RSM are all sums over the rows of a group.
`group_moments` gets every group of one grouping at once: one pass for the weighted means,
one for the centred sums (a two-pass scheme, as stable as centring each group's own
vectors first).

Each group's rows are summed sequentially in row order, so a group's results do not
depend on the other groups: the one-group call on that group's rows alone gives the same
bits (`rima.profiles.weighted_mean_ci` relies on it to match the profile tables exactly).
The kernel releases the GIL, so several groupings can run in threads at once.
"""

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy", nogil=True)
def group_moments(codes, n_groups, y, Pt, r, w, use_w):
    """Moments by group. codes (n,) integers: the group of each row in [0, n_groups), or -1
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
        _add_weighted(sp[g], Pt, i, wi, K)
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
    for i in range(n):
        g = codes[i]
        if g < 0:
            continue
        wi = w[i] if use_w else 1.0
        dy = y[i] - mean_y[g]
        ss_y[g] += wi * wi * dy * dy
        dr = r[i] - mean_r[g]
        ss_r[g] += wi * dr * dr
        _add_centred(ss_p[g], sp_pr[g], Pt, i, mean_p[g], wi, dr, K)
    return count, sw, first, mean_y, ss_y, mean_p, mean_r, ss_p, ss_r, sp_pr


# The pillar loops of the two passes, four pillars to a step: a loop over the pillars whose
# count is known only at run time costs more than the arithmetic (the first pass takes
# about half the time with four pillars unrolled). Each sum still adds the rows in order.
@njit(cache=True, inline="always")
def _add_weighted(acc, Pt, i, wi, K):
    k = 0
    while k + 4 <= K:
        acc[k] += wi * Pt[k, i]
        acc[k + 1] += wi * Pt[k + 1, i]
        acc[k + 2] += wi * Pt[k + 2, i]
        acc[k + 3] += wi * Pt[k + 3, i]
        k += 4
    while k < K:
        acc[k] += wi * Pt[k, i]
        k += 1


@njit(cache=True, inline="always")
def _add_centred(ss, sp, Pt, i, mean, wi, dr, K):
    k = 0
    while k + 4 <= K:
        d0 = Pt[k, i] - mean[k]
        d1 = Pt[k + 1, i] - mean[k + 1]
        d2 = Pt[k + 2, i] - mean[k + 2]
        d3 = Pt[k + 3, i] - mean[k + 3]
        ss[k] += wi * d0 * d0
        ss[k + 1] += wi * d1 * d1
        ss[k + 2] += wi * d2 * d2
        ss[k + 3] += wi * d3 * d3
        sp[k] += wi * d0 * dr
        sp[k + 1] += wi * d1 * dr
        sp[k + 2] += wi * d2 * dr
        sp[k + 3] += wi * d3 * dr
        k += 4
    while k < K:
        d = Pt[k, i] - mean[k]
        ss[k] += wi * d * d
        sp[k] += wi * d * dr
        k += 1
