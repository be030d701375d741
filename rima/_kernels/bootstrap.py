"""Numba kernels for the nonparametric bootstrap of the whole RIMA-II pipeline.

A bootstrap resample of n households is an integer count vector c (c_i = how often row i
was drawn), i.e. a vector of frequency weights. Every stage of the fit then follows from
count-weighted moments of the analysed matrix V = [pillar variables (signed), indicators,
anchor variables], because every later quantity is linear in V:

* pillar k's score is A_k'(v - mean), A_k = combined Bartlett weights / SD, so the joint
  covariance of (indicators z-scored, pillar scores) is T' C T for the co-moment C of V;
* the MIMIC model is fitted from that covariance alone, and its prediction RCI = c0 + a'v
  is again linear in v;
* the RSM correlations follow from a' C A_k, and a pillar's correlations with its anchor
  and with the food-security composite (mean of the z-scored indicators) from C too;
  only RCI_100's min-max range and the profile means need one more pass over the rows,
  which is cheap (d multiply-adds per row).

Every estimation rule is the fit's own kernel: `rima._kernels.factor.pillar_extract`,
`orthogonal_rotation` and `pillar_weights` for each pillar,
`rima._kernels.orient.orient_sign` for its sign, `rima._kernels.mimic.fisher_scoring` and
`prediction_weights` for the MIMIC and the RCI, `rima._kernels.rsm` for the RSM shares,
`rima._kernels.rci_scale` for RCI_100 and `rima._kernels.groups.group_moments` for its
means by profile category and overall; this module only resamples and does the linear
algebra that carries the moments from one step to the next.

Replicate b draws its rows from a splitmix64 stream seeded by (seed, b) only, and every
replicate is computed start to finish by one thread with fixed loop orders, so results do
not depend on the number of threads or on scheduling. The kernels release the GIL so
replicate ranges run on several threads in parallel.
"""

import numpy as np
from numba import njit

from rima._kernels import factor as FK
from rima._kernels import mimic as MK
from rima._kernels import rsm as RK
from rima._kernels.groups import group_moments
from rima._kernels.orient import orient_sign
from rima._kernels.rci_scale import span_of, to_100

# replicate status codes
OK = 0
FAIL_CONSTANT = 1      # a variable is constant in the resample
FAIL_FACTOR = FK.PILLAR_FACTOR_FAILED  # negative eigenvalue / singular / non-finite weights
FAIL_HEYWOOD = FK.PILLAR_HEYWOOD       # zero uniqueness, or a Heywood case with "error"
FAIL_MIMIC = 4         # MIMIC Fisher scoring did not converge, or singular prediction
FAIL_SCALE = 5         # RCI constant over the resample (min-max undefined)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0  # 2^-53


@njit(cache=True)
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def replicate_counts(seed, b, n):
    """Counts of a size-n resample of n rows for replicate b: a function of (seed, b) only."""
    state = _mix(_mix(np.uint64(seed) + _GOLDEN) ^ (np.uint64(b) * _GOLDEN + np.uint64(1)))
    c = np.zeros(n, dtype=np.int64)
    for _ in range(n):
        state += _GOLDEN
        u = float(_mix(state) >> np.uint64(11)) * _INV53
        i = int(u * n)
        if i >= n:
            i = n - 1
        c[i] += 1
    return c


@njit(cache=True)
def _comoment(V, wt):
    """(sum of weights, mean (d,), co-moment (d, d)) of V with row weights wt (0 = skip)."""
    n, d = V.shape
    s1 = np.zeros(d)
    s2 = np.zeros((d, d))
    sw = 0.0
    for i in range(n):
        wi = wt[i]
        if wi == 0.0:
            continue
        sw += wi
        for a in range(d):
            va = wi * V[i, a]
            s1[a] += va
            for b in range(a + 1):
                s2[a, b] += va * V[i, b]
    mean = s1 / sw
    C = np.empty((d, d))
    for a in range(d):
        for b in range(a + 1):
            v = s2[a, b] - sw * mean[a] * mean[b]
            C[a, b] = v
            C[b, a] = v
    return sw, mean, C


@njit(cache=True)
def _unit(d, col):
    """V's column `col` as a linear combination of V's columns."""
    e = np.zeros(d)
    e[col] = 1.0
    return e


@njit(cache=True)
def _score_corr(comb, sd, lo, C, b):
    """Correlation of the pillar score sum_a comb[a] v[lo + a] / sd[lo + a] with b'v,
    from the co-moment C of V."""
    d = C.shape[0]
    pk = comb.shape[0]
    cov = 0.0
    vk = 0.0
    vb = 0.0
    for a in range(pk):
        ta = comb[a] / sd[lo + a]
        for e in range(d):
            cov += ta * C[lo + a, e] * b[e]
        for e in range(pk):
            vk += ta * C[lo + a, lo + e] * comb[e] / sd[lo + e]
    for a in range(d):
        for e in range(d):
            vb += b[a] * C[a, e] * b[e]
    return cov / np.sqrt(vk * vb)


@njit(cache=True)
def one_replicate(V, w, use_w, counts, pstart, nfac, fint, fflt, m, ycol, anchor_col,
                  anchor_sign, capacity, theta0, lam_idx, lam_fix, gam_idx, b_idx, psi_idx,
                  th_idx, nu_idx, pred, rsm_kind, fixed_lo, fixed_hi, use_fixed, groups, ncat, A0):
    """Everything the pipeline estimates, for one resample given as counts.

    Pillar k's factor settings: fint[k] = (method, start from SMC, iterations, rotation
    (none or varimax), rotation iterations, Bartlett, Heywood case is an error, score
    weights on the weighted correlations), fflt[k] = (tolerance, communality cap, varimax
    tolerance, unused), as `rima.resampling` reads them from the fit
    (`rima.factor.kernel_arguments`). Orientation: pillar k's anchor is column
    anchor_col[k] of V (-1: none) with the wanted sign anchor_sign[k]; capacity: the
    options' orientation is "capacity". groups (number of profile variables, n): each row's
    category code per profile variable (codes numbered over all of them, -1: none).

    Returns (status, theta, shares (K,), profile means of RCI_100 (ncat,), overall mean
    RCI_100, pillar agreement with the full-sample pillar scores (K,) as correlations).
    """
    n, d = V.shape
    K = nfac.shape[0]
    q = theta0.shape[0]
    theta = np.full(q, np.nan)
    shares = np.full(K, np.nan)
    prof = np.full(ncat, np.nan)
    agree = np.full(K, np.nan)
    cu = counts.astype(np.float64)
    sw_u, mu_u, C_u = _comoment(V, cu)
    if use_w:
        ce = cu * w
        sw_e, mu_e, C_e = _comoment(V, ce)
    else:
        ce = cu
        sw_e, mu_e, C_e = sw_u, mu_u, C_u
    sd = np.empty(d)
    for a in range(d):
        if not (C_u[a, a] > 0.0) or not (C_e[a, a] > 0.0):
            return FAIL_CONSTANT, theta, shares, prof, np.nan, agree
        sd[a] = np.sqrt(C_u[a, a] / (sw_u - 1.0))
    n_rows = np.int64(0)
    for i in range(n):
        n_rows += counts[i]
    # the food-security composite as a linear combination of V's columns
    composite = np.zeros(d)
    for j in range(m):
        composite[ycol + j] = 1.0 / sd[ycol + j] / m
    # ------------------------------------------------------------ pillars
    T = np.zeros((d, m + K))  # columns: z-scored indicators, then pillar scores
    for j in range(m):
        T[ycol + j, j] = 1.0 / sd[ycol + j]
    for k in range(K):
        lo = pstart[k]
        hi = pstart[k + 1]
        pk = hi - lo
        R = np.empty((pk, pk))
        Ru = np.empty((pk, pk))
        for a in range(pk):
            for b in range(pk):
                R[a, b] = C_e[lo + a, lo + b] / np.sqrt(C_e[lo + a, lo + a] * C_e[lo + b, lo + b])
                Ru[a, b] = C_u[lo + a, lo + b] / np.sqrt(C_u[lo + a, lo + a]
                                                          * C_u[lo + b, lo + b])
        f = fint[k]
        U, _vals, _it, st = FK.pillar_extract(R, nfac[k], f[0], f[1] != 0, fflt[k, 0], f[2],
                                              fflt[k, 1])
        if st == 2:
            return FAIL_FACTOR, theta, shares, prof, np.nan, agree
        L, _rok = FK.orthogonal_rotation(U, f[3], fflt[k, 2], f[4])
        _L, _phi, _W, _ss, _vw, comb, st = FK.pillar_weights(
            R if f[7] else Ru, L, np.eye(nfac[k]), f[0] == FK.PCA, f[5] != 0)
        if st == OK and f[6] != 0:
            h2 = FK.communalities(U)
            for a in range(pk):
                if h2[a] >= FK.HEYWOOD_H2:
                    st = FAIL_HEYWOOD
        if st != OK:
            return st, theta, shares, prof, np.nan, agree
        # orientation by the fit's rule (`orient_sign`), from the correlations the fit
        # measures on the rows: with the anchor unweighted, with the food-security
        # composite (mean of the z-scored indicators) with the weights
        want = 0.0
        r_anchor = np.nan
        r_fs = np.nan
        ac = anchor_col[k]
        if ac >= 0:
            want = anchor_sign[k]
            r_anchor = _score_corr(comb, sd, lo, C_u, _unit(d, ac))
        elif capacity:
            r_fs = _score_corr(comb, sd, lo, C_e, composite)
        sgn, _rule = orient_sign(want, r_anchor, capacity, r_fs, n_rows)
        if sgn < 0.0:
            comb = -comb
        for a in range(pk):
            T[lo + a, m + k] = comb[a] / sd[lo + a]
    # agreement with the full-sample pillar scores (sign flips show up as negative values)
    for k in range(K):
        c01 = 0.0
        c00 = 0.0
        c11 = 0.0
        for a in range(d):
            ta = T[a, m + k]
            ra = A0[a, k]
            for b in range(d):
                c01 += ta * C_u[a, b] * A0[b, k]
                c00 += ra * C_u[a, b] * A0[b, k]
                c11 += ta * C_u[a, b] * T[b, m + k]
        agree[k] = c01 / np.sqrt(c00 * c11)
    # ------------------------------------------------------------ MIMIC
    nt = m + K
    CT = np.zeros((d, nt))
    for a in range(d):
        for b in range(d):
            cab = C_e[a, b]
            for c in range(nt):
                CT[a, c] += cab * T[b, c]
    S = np.zeros((nt, nt))
    for c in range(nt):
        for e in range(nt):
            v = 0.0
            for a in range(d):
                v += T[a, c] * CT[a, e]
            S[c, e] = v / sw_e
    cross = MK.complete_cross(S, m, 1.0)
    est, _f, g, _it, fst = MK.fisher_scoring(theta0, lam_idx, lam_fix, gam_idx, b_idx, psi_idx,
                                             th_idx, nu_idx, np.ones((1, m), dtype=np.bool_),
                                             np.ones(1), cross, MK.FISHER_MAX_STEPS,
                                             MK.FISHER_TOL)
    if not MK.fisher_converged(fst, g):
        return FAIL_MIMIC, theta, shares, prof, np.nan, agree
    theta = est
    lam, gam, bmat, psi, th, nu = MK.build_matrices(theta, lam_idx, lam_fix, gam_idx, b_idx,
                                                    psi_idx, th_idx, nu_idx)
    # prediction weights on (z-scored indicators, pillar scores), from the training means
    ymean = np.empty(m)
    for j in range(m):
        ymean[j] = (mu_e[ycol + j] - mu_u[ycol + j]) / sd[ycol + j] + nu[j]
    xmean = np.zeros(K)
    for k in range(K):
        for a in range(d):
            xmean[k] += T[a, m + k] * (mu_e[a] - mu_u[a])
    icpt, cx, cy, ok = MK.prediction_weights(lam, gam, bmat, psi, th, ymean, xmean,
                                             np.ones(m, dtype=np.bool_), pred)
    if not ok:
        return FAIL_MIMIC, theta, shares, prof, np.nan, agree
    # RCI = c0 + a_v' v
    a_v = np.zeros(d)
    for a in range(d):
        v = 0.0
        for j in range(m):
            v += T[a, j] * cy[j]
        for k in range(K):
            v += T[a, m + k] * cx[k]
        a_v[a] = v
    c0 = icpt
    for a in range(d):
        c0 -= a_v[a] * mu_u[a]
    # ------------------------------------------------------------ RSM
    Ca = np.zeros(d)
    for a in range(d):
        for b in range(d):
            Ca[a] += C_e[a, b] * a_v[b]
    vr = 0.0
    for a in range(d):
        vr += a_v[a] * Ca[a]
    if rsm_kind == 0:
        sp = np.empty((1, K))
        ss_p = np.empty((1, K))
        for k in range(K):
            cov = 0.0
            vk = 0.0
            for a in range(d):
                cov += T[a, m + k] * Ca[a]
                vk += T[a, m + k] * CT[a, m + k]
            sp[0, k] = cov
            ss_p[0, k] = vk
        signed = RK.correlations(sp, ss_p, np.full(1, vr))[0]
    else:
        signed = RK.std_coefficients(gam, psi, S[m:, m:].copy())
    shares = RK.rsm_shares(signed)
    # ------------------------------------------------------------ RCI_100 and profiles
    rci = np.zeros(n)
    lo_r = np.inf
    hi_r = -np.inf
    for i in range(n):
        if counts[i] == 0:
            continue
        v = c0
        for a in range(d):
            v += a_v[a] * V[i, a]
        rci[i] = v
        lo_r = min(lo_r, v)
        hi_r = max(hi_r, v)
    if use_fixed:
        lo_r = fixed_lo
        hi_r = fixed_hi
    if not (hi_r > lo_r):
        return FAIL_SCALE, theta, shares, prof, np.nan, agree
    span = span_of(lo_r, hi_r)
    r100 = np.zeros(n)
    for i in range(n):
        if counts[i] > 0:
            r100[i] = to_100(rci[i], lo_r, span)
    # the weighted means of RCI_100 by category and overall: the profile tables' kernel,
    # with the count-weighted weights (a row not drawn weighs 0)
    no_p = np.empty((0, n))
    for g in range(groups.shape[0]):
        _c, gsw, _f, gmean, _s, _mp, _mr, _sp, _sr, _spr = group_moments(
            groups[g], ncat, r100, no_p, r100, ce, True)
        for c in range(ncat):
            if gsw[c] > 0:
                prof[c] = gmean[c]
    _c, _sw, _f, omean, _s, _mp, _mr, _sp, _sr, _spr = group_moments(
        np.zeros(n, dtype=np.int64), 1, r100, no_p, r100, ce, True)
    return OK, theta, shares, prof, omean[0], agree


@njit(cache=True, nogil=True)
def run_replicates(V, w, use_w, seed, b0, nb, given, pstart, nfac, fint, fflt, m, ycol,
                   anchor_col, anchor_sign, capacity, theta0, lam_idx, lam_fix, gam_idx, b_idx,
                   psi_idx, th_idx, nu_idx, pred, rsm_kind, fixed_lo, fixed_hi, use_fixed, groups,
                   ncat, A0):
    """Replicates b0 .. b0 + nb - 1 (rows of `given` are used as the counts instead of
    drawing when `given` has nb rows).

    Runs without the GIL: `rima.bootstrap` runs disjoint replicate ranges on several
    threads at once. (A prange loop around this body would do the same, but numba's
    parallel lowering of a body this large costs over a minute of compilation on a cold
    cache, several times the whole bootstrap.)
    """
    n = V.shape[0]
    K = nfac.shape[0]
    q = theta0.shape[0]
    status = np.zeros(nb, dtype=np.int64)
    thetas = np.full((nb, q), np.nan)
    shares = np.full((nb, K), np.nan)
    prof = np.full((nb, ncat), np.nan)
    overall = np.full(nb, np.nan)
    agree = np.full((nb, K), np.nan)
    use_given = given.shape[0] == nb
    for r in range(nb):
        if use_given:
            counts = given[r].copy()
        else:
            counts = replicate_counts(seed, b0 + r, n)
        st, th, sh, pr, ov, ag = one_replicate(
            V, w, use_w, counts, pstart, nfac, fint, fflt, m, ycol, anchor_col, anchor_sign,
            capacity, theta0, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx, pred,
            rsm_kind, fixed_lo, fixed_hi, use_fixed, groups, ncat, A0)
        status[r] = st
        thetas[r] = th
        shares[r] = sh
        prof[r] = pr
        overall[r] = ov
        agree[r] = ag
    return status, thetas, shares, prof, overall, agree
