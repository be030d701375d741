"""Numba kernels for the nonparametric bootstrap of the whole RIMA-II pipeline.

A bootstrap resample of n households is an integer count vector c (c_i = how often row i
was drawn), i.e. a vector of frequency weights. Every stage of the fit then follows from
count-weighted moments of the analysed matrix V = [pillar variables (signed), indicators,
anchor variables], because every later quantity is linear in V:

* pillar k's score is A_k'(v - mean), A_k = combined Bartlett weights / SD, so the joint
  covariance of (indicators z-scored, pillar scores) is T' C T for the co-moment C of V;
* the MIMIC model is fitted from that covariance alone (Fisher scoring on the existing
  MIMIC kernels), and its prediction RCI = c0 + a'v is again linear in v;
* the RSM correlations follow from a' C A_k; only RCI_100's min-max range and the profile
  means need one more pass over the rows, which is cheap (d multiply-adds per row).

Replicate b draws its rows from a splitmix64 stream seeded by (seed, b) only, and every
replicate is computed start to finish by one thread with fixed loop orders, so results do
not depend on the number of threads or on scheduling. The kernels release the GIL so
replicate ranges run on several threads in parallel.
"""

import numpy as np
from numba import njit

from rima._kernels import factor as FK
from rima._kernels import mimic as MK
from rima._kernels.rci_scale import span_of, to_100

# replicate status codes
OK = 0
FAIL_CONSTANT = 1      # a variable is constant in the resample
FAIL_FACTOR = 2        # principal axis met a negative eigenvalue / did not give finite weights
FAIL_HEYWOOD = 3       # a communality reached 1, Bartlett weights undefined
FAIL_MIMIC = 4         # MIMIC Fisher scoring failed (non-PD information or no descent)
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
def _chol_solve(A, rhs):
    """Solve A x = rhs for symmetric positive definite A; ok=False when it is not PD."""
    p = A.shape[0]
    L, ok = MK.cholesky_lower(A)
    if not ok:
        return rhs * 0.0, False
    y = np.empty(p)
    for i in range(p):
        t = rhs[i]
        for c in range(i):
            t -= L[i, c] * y[c]
        y[i] = t / L[i, i]
    x = np.empty(p)
    for i in range(p - 1, -1, -1):
        t = y[i]
        for c in range(i + 1, p):
            t -= L[c, i] * x[c]
        x[i] = t / L[i, i]
    return x, True


@njit(cache=True)
def pillar_weights(R, R_scores, nf, smc_start, max_iter, min_err, cap, varimax, bartlett):
    """Combined score weights of one pillar on z-scores, as rima.factor does for pa / pf.

    psych's conventions: principal axis from communalities 1 (or SMC), factors signed so
    their loadings sum positive, optional varimax, ordered by SS loadings, Bartlett (or
    Thurstone regression) weights, combined with the variance weights SS_j / sum SS.
    Returns (weights (p,), status).
    """
    p = R.shape[0]
    start = FK.smc(R) if smc_start else np.ones(p)
    L, _h2, _vals, _it, st = FK.pa_iterate(R, nf, start, min_err, max_iter, cap)
    if st == 2:
        return np.zeros(p), FAIL_FACTOR
    for f in range(nf):
        s = 0.0
        for j in range(p):
            s += L[j, f]
        sg = -1.0 if s < 0 else 1.0
        for j in range(p):
            L[j, f] *= sg
            if L[j, f] == 0.0:
                L[j, f] = 1e-15
    if varimax and nf >= 2:
        L, _T, _it2 = FK.varimax(L, True, 1e-5, 1000)
        for f in range(nf):
            s = 0.0
            for j in range(p):
                s += L[j, f]
            if s < 0:
                for j in range(p):
                    L[j, f] = -L[j, f]
    ss = np.zeros(nf)
    for f in range(nf):
        for j in range(p):
            ss[f] += L[j, f] * L[j, f]
    # order by decreasing SS loadings (stable insertion sort: nf is tiny)
    order = np.arange(nf)
    for a in range(1, nf):
        b = a
        while b > 0 and ss[order[b - 1]] < ss[order[b]]:
            t = order[b - 1]
            order[b - 1] = order[b]
            order[b] = t
            b -= 1
    Lo = np.empty((p, nf))
    sso = np.empty(nf)
    for f in range(nf):
        sso[f] = ss[order[f]]
        for j in range(p):
            Lo[j, f] = L[j, order[f]]
    L = Lo
    ss = sso
    W = np.empty((p, nf))
    if bartlett:
        # W = U^-2 L (L' U^-2 L)^-1, column by column through the SPD solve
        A = np.empty((p, nf))
        for j in range(p):
            h2 = 0.0
            for f in range(nf):
                h2 += L[j, f] * L[j, f]
            u2 = 1.0 - h2
            if abs(u2) < 1e-8:
                return np.zeros(p), FAIL_HEYWOOD
            for f in range(nf):
                A[j, f] = L[j, f] / u2
        M = np.zeros((nf, nf))
        for f in range(nf):
            for g in range(nf):
                for j in range(p):
                    M[f, g] += L[j, f] * A[j, g]
        for j in range(p):
            x, ok = _chol_solve(M, A[j].copy())
            if not ok:
                return np.zeros(p), FAIL_HEYWOOD
            W[j] = x
    else:
        for f in range(nf):
            x, ok = _chol_solve(R_scores, L[:, f].copy())
            if not ok:
                return np.zeros(p), FAIL_FACTOR
            W[:, f] = x
    tot = ss.sum()
    comb = np.zeros(p)
    for j in range(p):
        for f in range(nf):
            comb[j] += W[j, f] * ss[f] / tot
    for j in range(p):
        if not np.isfinite(comb[j]):
            return comb, FAIL_FACTOR
    return comb, OK


@njit(cache=True)
def mimic_from_cov(S, m, theta0, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx,
                   max_iter, tol):
    """ML MIMIC estimates from the (y, x) covariance S (divisor N): Fisher scoring with step
    halving, exactly the steps of rima.mimic's optimiser, from the start theta0.

    Returns (theta, ok).
    """
    p = S.shape[0]
    k = p - m
    kt = k + 1
    cross = np.zeros((1, m + kt, m + kt))
    for a in range(m):
        for b in range(m):
            cross[0, a, b] = S[a, b]
        for h in range(k):
            cross[0, a, m + 1 + h] = S[a, m + h]
            cross[0, m + 1 + h, a] = S[m + h, a]
    cross[0, m, m] = 1.0
    for h in range(k):
        for g in range(k):
            cross[0, m + 1 + h, m + 1 + g] = S[m + h, m + g]
    masks = np.ones((1, m), dtype=np.bool_)
    counts = np.ones(1)
    mxx = np.ascontiguousarray(cross[0, m:, m:])
    theta = theta0.copy()
    f, g = MK.objective_and_gradient(theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx,
                                     nu_idx, masks, counts, cross, True)
    if not np.isfinite(f):
        return theta, False
    for _ in range(max_iter):
        gmax = 0.0
        for a in range(g.shape[0]):
            gmax = max(gmax, abs(g[a]))
        if gmax < tol:
            return theta, True
        lam, gam, bmat, psi, th, nu = MK.build_matrices(theta, lam_idx, lam_fix, gam_idx,
                                                        b_idx, psi_idx, th_idx, nu_idx)
        _pit, om = MK.reduced_form(lam, gam, bmat, psi, th, nu)
        dpi, dom = MK.derivatives(theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx,
                                  nu_idx)
        info = MK.expected_information(om, mxx, dpi, dom)
        step, ok = _chol_solve(2.0 * info, -g)
        if not ok:
            return theta, False
        t = 1.0
        moved = False
        while t > 1e-10:
            cand = theta + t * step
            fc, gc = MK.objective_and_gradient(cand, lam_idx, lam_fix, gam_idx, b_idx, psi_idx,
                                               th_idx, nu_idx, masks, counts, cross, True)
            if np.isfinite(fc) and fc <= f + 1e-14 * abs(f):
                moved = True
                break
            t *= 0.5
        if not moved:
            gmax = 0.0
            for a in range(g.shape[0]):
                gmax = max(gmax, abs(g[a]))
            return theta, gmax < 1e-7
        theta, f, g = cand, fc, gc
    gmax = 0.0
    for a in range(g.shape[0]):
        gmax = max(gmax, abs(g[a]))
    return theta, gmax < 1e-7


@njit(cache=True)
def one_replicate(V, w, use_w, counts, pstart, nfac, smc_start, max_iter, min_err, cap,
                  varimax, bartlett, m, ycol, anchor_col, anchor_sign, theta0, lam_idx,
                  lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx, pred, rsm_kind,
                  fixed_lo, fixed_hi, use_fixed, groups, ncat, A0):
    """Everything the pipeline estimates, for one resample given as counts.

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
        comb, st = pillar_weights(R, Ru, nfac[k], smc_start[k], max_iter[k], min_err, cap[k],
                                  varimax[k], bartlett[k])
        if st != OK:
            return st, theta, shares, prof, np.nan, agree
        if anchor_col[k] >= 0:
            c = 0.0
            for a in range(pk):
                c += comb[a] / sd[lo + a] * C_u[lo + a, anchor_col[k]]
            if (c > 0) != (anchor_sign[k] > 0):
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
    est, ok = mimic_from_cov(S, m, theta0, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx,
                             nu_idx, 200, 1e-10)
    if not ok:
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
    pi = np.empty((m, K))
    for j in range(m):
        for k in range(K):
            pi[j, k] = lam[j] * gam[k] + bmat[j, k]
    # residual of the indicator means given the cause means: ymean - B xmean or - Pi xmean
    cy = np.zeros(m)
    cx = np.zeros(K)
    icpt = 0.0
    if pred == 0:
        om = np.empty((m, m))
        for i in range(m):
            for j in range(m):
                om[i, j] = psi * lam[i] * lam[j] + th[i, j]
        cy, ok = _chol_solve(om, lam.copy())
        if not ok:
            return FAIL_MIMIC, theta, shares, prof, np.nan, agree
        for j in range(m):
            cy[j] *= psi
        for k in range(K):
            v = gam[k]
            for j in range(m):
                v -= pi[j, k] * cy[j]
            cx[k] = v
        for j in range(m):
            v = ymean[j]
            for k in range(K):
                v -= pi[j, k] * xmean[k]
            icpt -= cy[j] * v
    elif pred == 1:
        ti, ok = _chol_solve(th, lam.copy())
        if not ok:
            return FAIL_MIMIC, theta, shares, prof, np.nan, agree
        den = 0.0
        for j in range(m):
            den += lam[j] * ti[j]
        for j in range(m):
            cy[j] = ti[j] / den
        for k in range(K):
            v = 0.0
            for j in range(m):
                v -= bmat[j, k] * cy[j]
            cx[k] = v
            icpt += gam[k] * xmean[k]
        for j in range(m):
            v = ymean[j]
            for k in range(K):
                v -= bmat[j, k] * xmean[k]
            icpt -= cy[j] * v
    else:
        for k in range(K):
            cx[k] = gam[k]
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
    r = np.empty(K)
    if rsm_kind == 0:
        for k in range(K):
            cov = 0.0
            vk = 0.0
            for a in range(d):
                cov += T[a, m + k] * Ca[a]
                vk += T[a, m + k] * CT[a, m + k]
            r[k] = abs(cov / np.sqrt(vk * vr))
    else:
        ve = psi
        for k in range(K):
            for h in range(K):
                ve += gam[k] * S[m + k, m + h] * gam[h]
        for k in range(K):
            r[k] = abs(gam[k] * np.sqrt(S[m + k, m + k] / ve))
    tot = 0.0
    for k in range(K):
        tot += r[k]
    for k in range(K):
        shares[k] = 100.0 * r[k] / tot
    # ------------------------------------------------------------ RCI_100 and profiles
    lo_r = np.inf
    hi_r = -np.inf
    gsum = np.zeros(ncat)
    gval = np.zeros(ncat)
    osum = 0.0
    oval = 0.0
    ng = groups.shape[1]
    for i in range(n):
        if counts[i] == 0:
            continue
        rci = c0
        for a in range(d):
            rci += a_v[a] * V[i, a]
        lo_r = min(lo_r, rci)
        hi_r = max(hi_r, rci)
        wi = ce[i]
        osum += wi
        oval += wi * rci
        for g in range(ng):
            c = groups[i, g]
            if c >= 0:
                gsum[c] += wi
                gval[c] += wi * rci
    if use_fixed:
        lo_r = fixed_lo
        hi_r = fixed_hi
    if not (hi_r > lo_r):
        return FAIL_SCALE, theta, shares, prof, np.nan, agree
    span = span_of(lo_r, hi_r)
    for c in range(ncat):
        if gsum[c] > 0:
            prof[c] = to_100(gval[c] / gsum[c], lo_r, span)
    overall = to_100(oval / osum, lo_r, span)
    return OK, theta, shares, prof, overall, agree


@njit(cache=True, nogil=True)
def run_replicates(V, w, use_w, seed, b0, nb, given, pstart, nfac, smc_start, max_iter,
                   min_err, cap, varimax, bartlett, m, ycol, anchor_col, anchor_sign, theta0,
                   lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx, pred, rsm_kind,
                   fixed_lo, fixed_hi, use_fixed, groups, ncat, A0):
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
            V, w, use_w, counts, pstart, nfac, smc_start, max_iter, min_err, cap, varimax,
            bartlett, m, ycol, anchor_col, anchor_sign, theta0, lam_idx, lam_fix, gam_idx,
            b_idx, psi_idx, th_idx, nu_idx, pred, rsm_kind, fixed_lo, fixed_hi, use_fixed,
            groups, ncat, A0)
        status[r] = st
        thetas[r] = th
        shares[r] = sh
        prof[r] = pr
        overall[r] = ov
        agree[r] = ag
    return status, thetas, shares, prof, overall, agree
