"""Numba kernels for the one-latent MIMIC model with fixed exogenous causes.

With the causes x fixed at their sample moments, the ML discrepancy of the joint (y, x)
covariance structure reduces to the multivariate regression of the indicators y on
x~ = (1, x):

    y = Pi~ x~ + e,  Pi~ = [nu, Lambda gamma' + B],  Var e = Omega = psi Lambda Lambda' + Theta

so every kernel below works on the m indicators and cross-product matrices, never on
the rows, except the explicitly row-wise passes (casewise scores, fourth moments,
predictions). Missing indicator values are handled pattern by pattern: each pattern keeps
its own cross-product matrix M_p = sum over its rows of [y; x~][y; x~]' (unobserved
entries zero), which makes the FIML likelihood cost independent of n as well.

Parameter layout: integer maps give, for every model-matrix entry, the index of the free
parameter that sets it or -1 when the entry is fixed (value taken from the fixed arrays).
"""

import numpy as np
from numba import njit

from rima._kernels.linalg import lu_solve_vector
from rima._kernels.moments import BLOCK, block_summary
from rima._kernels.threads import run_blocks


@njit(cache=True)
def cholesky_lower(A):
    """(L, ok): L lower triangular with L L' = A; ok=False, instead of an exception, when A
    is not positive definite, so callers can report it (an infinite objective, a failed
    replicate)."""
    p = A.shape[0]
    L = np.zeros((p, p))
    for i in range(p):
        s = A[i, i]
        for c in range(i):
            s -= L[i, c] * L[i, c]
        if not (s > 0.0):
            return L, False
        L[i, i] = np.sqrt(s)
        for j in range(i + 1, p):
            t = A[j, i]
            for c in range(i):
                t -= L[j, c] * L[i, c]
            L[j, i] = t / L[i, i]
    return L, True


# Small dense algebra as plain loops: the matrices here are a few indicators wide, and
# numba's np.linalg / `@` lowering (LAPACK and BLAS wrappers for every layout pair) made
# up most of the MIMIC kernels' first-run compile time.
@njit(cache=True)
def small_inverse(A):
    """A^-1 by Gauss-Jordan elimination with partial pivoting; LinAlgError if singular."""
    p = A.shape[0]
    M = A.copy()
    inv = np.eye(p)
    for c in range(p):
        piv = c
        big = abs(M[c, c])
        for r in range(c + 1, p):
            if abs(M[r, c]) > big:
                big = abs(M[r, c])
                piv = r
        if not (big > 0.0):
            raise np.linalg.LinAlgError("Matrix is singular to machine precision.")
        if piv != c:
            for j in range(p):
                M[c, j], M[piv, j] = M[piv, j], M[c, j]
                inv[c, j], inv[piv, j] = inv[piv, j], inv[c, j]
        d = M[c, c]
        for j in range(p):
            M[c, j] /= d
            inv[c, j] /= d
        for r in range(p):
            if r != c:
                f = M[r, c]
                if f != 0.0:
                    for j in range(p):
                        M[r, j] -= f * M[c, j]
                        inv[r, j] -= f * inv[c, j]
    return inv


@njit(cache=True)
def mat_mul(A, B):
    """A @ B."""
    n, k = A.shape
    m = B.shape[1]
    out = np.zeros((n, m))
    for i in range(n):
        for c in range(k):
            a = A[i, c]
            for j in range(m):
                out[i, j] += a * B[c, j]
    return out


@njit(cache=True)
def mat_mul_t(A, B):
    """A @ B.T."""
    n, k = A.shape
    m = B.shape[0]
    out = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for c in range(k):
                s += A[i, c] * B[j, c]
            out[i, j] = s
    return out


@njit(cache=True)
def frobenius(A, B):
    """sum(A * B) over all entries, in row-major order (np.sum's order)."""
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s += A[i, j] * B[i, j]
    return s


@njit(cache=True)
def build_matrices(theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx):
    """Model matrices (Lambda, gamma, B, psi, Theta, nu) from the free-parameter vector."""
    m = lam_idx.shape[0]
    k = gam_idx.shape[0]
    lam = np.empty(m)
    for j in range(m):
        lam[j] = theta[lam_idx[j]] if lam_idx[j] >= 0 else lam_fix[j]
    gam = np.zeros(k)
    for h in range(k):
        if gam_idx[h] >= 0:
            gam[h] = theta[gam_idx[h]]
    bmat = np.zeros((m, k))
    for j in range(m):
        for h in range(k):
            if b_idx[j, h] >= 0:
                bmat[j, h] = theta[b_idx[j, h]]
    psi = theta[psi_idx]
    th = np.zeros((m, m))
    for j in range(m):
        for i in range(m):
            if th_idx[j, i] >= 0:
                th[j, i] = theta[th_idx[j, i]]
    nu = np.zeros(m)
    for j in range(m):
        if nu_idx[j] >= 0:
            nu[j] = theta[nu_idx[j]]
    return lam, gam, bmat, psi, th, nu


@njit(cache=True)
def reduced_form(lam, gam, bmat, psi, th, nu):
    """Pi~ = [nu, Lambda gamma' + B] (m x (1 + k)) and Omega = psi Lambda Lambda' + Theta."""
    m = lam.shape[0]
    k = gam.shape[0]
    pit = np.empty((m, k + 1))
    for j in range(m):
        pit[j, 0] = nu[j]
        for h in range(k):
            pit[j, h + 1] = lam[j] * gam[h] + bmat[j, h]
    om = np.empty((m, m))
    for j in range(m):
        for i in range(m):
            om[j, i] = psi * (lam[j] * lam[i]) + th[j, i]
    return pit, om


@njit(cache=True)
def derivatives(theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx):
    """d Pi~ / d theta_a (q, m, 1 + k) and d Omega / d theta_a (q, m, m)."""
    lam, gam, _bmat, psi, _th, _nu = build_matrices(
        theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx)
    q = theta.shape[0]
    m = lam.shape[0]
    k = gam.shape[0]
    dpi = np.zeros((q, m, k + 1))
    dom = np.zeros((q, m, m))
    for j in range(m):
        a = lam_idx[j]
        if a >= 0:
            for h in range(k):
                dpi[a, j, h + 1] += gam[h]
            for i in range(m):
                dom[a, j, i] += psi * lam[i]
                dom[a, i, j] += psi * lam[i]
    for h in range(k):
        a = gam_idx[h]
        if a >= 0:
            for j in range(m):
                dpi[a, j, h + 1] += lam[j]
    for j in range(m):
        for h in range(k):
            a = b_idx[j, h]
            if a >= 0:
                dpi[a, j, h + 1] += 1.0
    a = psi_idx
    for j in range(m):
        for i in range(m):
            dom[a, j, i] += lam[j] * lam[i]
    for j in range(m):
        for i in range(m):
            a = th_idx[j, i]
            if a >= 0:
                dom[a, j, i] += 1.0
    for j in range(m):
        a = nu_idx[j]
        if a >= 0:
            dpi[a, j, 0] += 1.0
    return dpi, dom


@njit(cache=True, inline='always')
def pattern_objective(pit, om, masks, counts, cross, with_grad):
    """-2 log-likelihood (up to the constant n m log 2 pi) of y given x~, summed over patterns.

    Returns (value, G_pi (m, 1 + k), G_omega (m, m)) with G the derivatives of the value
    with respect to Pi~ and Omega; value is +inf when some Omega_oo is not positive definite.
    """
    m = pit.shape[0]
    kt = pit.shape[1]
    g_pi = np.zeros((m, kt))
    g_om = np.zeros((m, m))
    total = 0.0
    for p in range(masks.shape[0]):
        mo = 0
        for j in range(m):
            if masks[p, j]:
                mo += 1
        obs = np.empty(mo, dtype=np.int64)
        mo = 0
        for j in range(m):
            if masks[p, j]:
                obs[mo] = j
                mo += 1
        if mo == 0 or counts[p] == 0:
            continue
        om_oo = np.empty((mo, mo))
        for a in range(mo):
            for b in range(mo):
                om_oo[a, b] = om[obs[a], obs[b]]
        chol, ok = cholesky_lower(om_oo)
        if not ok:
            return np.inf, g_pi, g_om
        logdet = 0.0
        for a in range(mo):
            logdet += 2.0 * np.log(chol[a, a])
        om_inv = small_inverse(om_oo)
        mp = cross[p]
        # residual cross-product C = A M A' with A = [I_o, -Pi~_o] on the (y_o, x~) block
        myy = np.empty((mo, mo))
        myx = np.empty((mo, kt))
        for a in range(mo):
            for b in range(mo):
                myy[a, b] = mp[obs[a], obs[b]]
            for b in range(kt):
                myx[a, b] = mp[obs[a], m + b]
        mxx = np.empty((kt, kt))
        for a in range(kt):
            for b in range(kt):
                mxx[a, b] = mp[m + a, m + b]
        pio = np.empty((mo, kt))
        for a in range(mo):
            for b in range(kt):
                pio[a, b] = pit[obs[a], b]
        pmx = mat_mul(pio, mxx)
        t1 = mat_mul_t(pio, myx)
        t2 = mat_mul_t(myx, pio)
        t3 = mat_mul_t(pmx, pio)
        cmat = np.empty((mo, mo))
        for a in range(mo):
            for b in range(mo):
                cmat[a, b] = myy[a, b] - t1[a, b] - t2[a, b] + t3[a, b]
        total += counts[p] * logdet + frobenius(om_inv, cmat)
        if with_grad:
            oco = mat_mul(mat_mul(om_inv, cmat), om_inv)
            for a in range(mo):
                for b in range(kt):
                    pmx[a, b] -= myx[a, b]
            gp = mat_mul(om_inv, pmx)
            for a in range(mo):
                for b in range(mo):
                    g_om[obs[a], obs[b]] += counts[p] * om_inv[a, b] - oco[a, b]
                for b in range(kt):
                    g_pi[obs[a], b] += 2.0 * gp[a, b]
    return total, g_pi, g_om


@njit(cache=True, inline='always')
def objective_and_gradient(theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx,
                           masks, counts, cross, with_grad):
    """Objective (-2 log L / N without constants) and its gradient in the free parameters."""
    lam, gam, bmat, psi, th, nu = build_matrices(
        theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx)
    pit, om = reduced_form(lam, gam, bmat, psi, th, nu)
    n = counts.sum()
    val, g_pi, g_om = pattern_objective(pit, om, masks, counts, cross, with_grad)
    q = theta.shape[0]
    grad = np.zeros(q)
    if with_grad and np.isfinite(val):
        dpi, dom = derivatives(theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx,
                               nu_idx)
        for a in range(q):
            grad[a] = (frobenius(g_pi, dpi[a]) + frobenius(g_om, dom[a])) / n
    return val / n, grad


@njit(cache=True)
def expected_information(om, mxx, dpi, dom):
    """Unit expected information of the regression of y on x~ (x~ second moments mxx).

    I_ab = tr(Omega^-1 dPi_a M dPi_b') + 1/2 tr(Omega^-1 dOmega_a Omega^-1 dOmega_b).
    """
    q = dpi.shape[0]
    om_inv = small_inverse(om)
    info = np.zeros((q, q))
    left_pi = np.empty_like(dpi)
    left_om = np.empty_like(dom)
    for a in range(q):
        # element copies: assigning an array to left_pi[a] would compile numba's
        # shape-mismatch message formatting (seconds of a first run)
        lp = mat_mul(mat_mul(om_inv, dpi[a]), mxx)
        lo = mat_mul(mat_mul(om_inv, dom[a]), om_inv)
        for i in range(lp.shape[0]):
            for j in range(lp.shape[1]):
                left_pi[a, i, j] = lp[i, j]
        for i in range(lo.shape[0]):
            for j in range(lo.shape[1]):
                left_om[a, i, j] = lo[i, j]
    for a in range(q):
        for b in range(a + 1):
            v = frobenius(left_pi[a], dpi[b]) + 0.5 * frobenius(left_om[a], dom[b])
            info[a, b] = v
            info[b, a] = v
    return info


# ------------------------------------------------------------------ estimation
# The ML estimation on complete-data moments and the prediction weights, in one place:
# rima.mimic's fit and every bootstrap replicate call these.

FISHER_CONVERGED = 0
FISHER_BAD_START = 1   # the start gives a non-positive-definite implied covariance
FISHER_STALLED = 2     # no step halving lowered the objective
FISHER_MAX_ITER = 3
LOOSE_TOL = 1e-7       # a stalled or stopped run still counts as converged below this
FISHER_TOL = 1e-10     # largest gradient entry at convergence
FISHER_MAX_STEPS = 500


@njit(cache=True)
def complete_cross(cov, m, n):
    """The one-pattern cross-product array of complete data: n times the second moments of
    (y, 1, x) centred at the means, from the (y, x) covariance (divisor n)."""
    p = cov.shape[0]
    k = p - m
    cross = np.zeros((1, m + 1 + k, m + 1 + k))
    for a in range(m):
        for b in range(m):
            cross[0, a, b] = cov[a, b] * n
        for h in range(k):
            cross[0, a, m + 1 + h] = cov[a, m + h] * n
            cross[0, m + 1 + h, a] = cov[m + h, a] * n
    cross[0, m, m] = n
    for h in range(k):
        for g in range(k):
            cross[0, m + 1 + h, m + 1 + g] = cov[m + h, m + g] * n
    return cross


@njit(cache=True)
def max_abs(g):
    out = 0.0
    for a in range(g.shape[0]):
        out = max(out, abs(g[a]))
    return out


@njit(cache=True)
def fisher_scoring(theta0, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx, masks,
                   counts, cross, max_iter, tol):
    """ML estimates by Fisher scoring with step halving from theta0: each step solves
    2 I d = -g with the expected information I (a gradient step where I is singular) and
    halves it until the objective does not rise; stops when the largest gradient entry is
    below tol, when no halving helps, or after max_iter steps.

    Returns (theta, objective, gradient, steps taken, FISHER_* status).
    """
    m = lam_idx.shape[0]
    kt = cross.shape[1] - m
    mxx = np.zeros((kt, kt))
    for p in range(cross.shape[0]):
        for a in range(kt):
            for b in range(kt):
                mxx[a, b] += cross[p, m + a, m + b]
    ntot = counts.sum()
    for a in range(kt):
        for b in range(kt):
            mxx[a, b] /= ntot
    theta = theta0.copy()
    q = theta.shape[0]
    f, g = np.inf, np.zeros(q)
    step = np.zeros(q)
    cand = theta
    t = 1.0
    it = 0
    start = True
    # one call of the objective, at the start and at every trial step: it is the largest
    # piece of this kernel, and a second call site would compile it twice. Element loops
    # instead of array expressions (theta + t * step, 2 * I, -g): the same arithmetic
    # without compiling numba's broadcasting machinery for each.
    while True:
        if not start:
            cand = np.empty(q)
            for a in range(q):
                cand[a] = theta[a] + t * step[a]
        fc, gc = objective_and_gradient(cand, lam_idx, lam_fix, gam_idx, b_idx, psi_idx,
                                        th_idx, nu_idx, masks, counts, cross, True)
        if start:
            f, g = fc, gc
            if not np.isfinite(f):
                return theta, f, g, 0, FISHER_BAD_START
            start = False
        elif np.isfinite(fc) and fc <= f + 1e-14 * abs(f):
            theta, f, g = cand, fc, gc
            it += 1
        else:
            t *= 0.5
            if t > 1e-10:
                continue
            return theta, f, g, it, FISHER_STALLED
        if it >= max_iter:
            return theta, f, g, it, FISHER_CONVERGED if max_abs(g) < tol else FISHER_MAX_ITER
        if max_abs(g) < tol:
            return theta, f, g, it, FISHER_CONVERGED
        lam, gam, bmat, psi, th, nu = build_matrices(theta, lam_idx, lam_fix, gam_idx,
                                                     b_idx, psi_idx, th_idx, nu_idx)
        _pit, om = reduced_form(lam, gam, bmat, psi, th, nu)
        dpi, dom = derivatives(theta, lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx,
                               nu_idx)
        info = expected_information(om, mxx, dpi, dom)
        info2 = np.empty((q, q))
        neg_g = np.empty(q)
        for a in range(q):
            neg_g[a] = -g[a]
            for b in range(q):
                info2[a, b] = 2.0 * info[a, b]
        step, ok = lu_solve_vector(info2, neg_g)
        if not ok:
            step = neg_g
        t = 1.0


@njit(cache=True)
def fisher_converged(status, g):
    """Whether a Fisher-scoring run counts as converged (its tolerance met, or stalled or
    stopped with every gradient entry below LOOSE_TOL)."""
    if status == FISHER_CONVERGED:
        return True
    return status != FISHER_BAD_START and max_abs(g) < LOOSE_TOL


PRED_REGRESSION, PRED_BARTLETT, PRED_CAUSES = 0, 1, 2


@njit(cache=True)
def prediction_weights(lam, gam, bmat, psi, th, ymean, xmean, observed, method):
    """RCI prediction weights (intercept, on the causes (k,), on the indicators (m,), ok)
    so that RCI = intercept + x'cx + y'cy, conditioned on the `observed` indicators.

    regression (lavPredict's default): E[eta | y_o, x] = gamma'x + psi Lambda_o' Omega_oo^-1
    (y_o - ymean_o - Pi_o (x - xmean)); bartlett: gamma'xmean + w'(y_o - ymean_o - B_o
    (x - xmean)) with w = Theta_oo^-1 Lambda_o / (Lambda_o' Theta_oo^-1 Lambda_o); causes:
    gamma'x. With no indicator observed, regression is E[eta | x] and bartlett undefined
    (NaN). ok=False when the system is singular.
    """
    m = lam.shape[0]
    k = gam.shape[0]
    cy = np.zeros(m)
    if method == PRED_CAUSES:
        return 0.0, gam.copy(), cy, True
    # the observed indicators' positions (loops here and below compile faster than
    # np.flatnonzero and array expressions, with the same arithmetic)
    mo = 0
    for j in range(observed.shape[0]):
        if observed[j]:
            mo += 1
    o = np.empty(mo, dtype=np.int64)
    mo = 0
    for j in range(observed.shape[0]):
        if observed[j]:
            o[mo] = j
            mo += 1
    if mo == 0:
        if method == PRED_REGRESSION:
            return 0.0, gam.copy(), cy, True
        return np.nan, np.full(k, np.nan), np.full(m, np.nan), True
    lo = np.empty(mo)
    A = np.empty((mo, mo))
    for a in range(mo):
        lo[a] = lam[o[a]]
        for b in range(mo):
            if method == PRED_REGRESSION:
                A[a, b] = psi * lam[o[a]] * lam[o[b]] + th[o[a], o[b]]
            else:
                A[a, b] = th[o[a], o[b]]
    x, ok = lu_solve_vector(A, lo)
    if not ok:
        return np.nan, np.full(k, np.nan), np.full(m, np.nan), False
    kv = np.empty(mo)
    if method == PRED_REGRESSION:
        for a in range(mo):
            kv[a] = x[a] * psi
    else:
        den = 0.0
        for a in range(mo):
            den += lo[a] * x[a]
        for a in range(mo):
            kv[a] = x[a] / den
    # the slopes y_o's residual is taken on: Pi = Lambda gamma' + B, or B (bartlett)
    sl = np.empty((mo, k))
    for a in range(mo):
        for h in range(k):
            sl[a, h] = bmat[o[a], h]
            if method == PRED_REGRESSION:
                sl[a, h] += lam[o[a]] * gam[h]
    cx = np.empty(k)
    for h in range(k):
        v = gam[h] if method == PRED_REGRESSION else 0.0
        for a in range(mo):
            v -= sl[a, h] * kv[a]
        cx[h] = v
    icpt = 0.0
    if method == PRED_BARTLETT:
        for h in range(k):
            icpt += gam[h] * xmean[h]
    for a in range(mo):
        r = ymean[o[a]]
        for h in range(k):
            r -= sl[a, h] * xmean[h]
        icpt -= kv[a] * r
    for a in range(mo):
        cy[o[a]] = kv[a]
    return icpt, cx, cy, True


def score_crossproduct(y, x, w, ycenter, xcenter, pit, om_inv_p, pattern, dpi, dom, nchunks):
    """Sum over rows of w_i s_i s_i' for the casewise scores s_i of log p(y_i,obs | x_i).

    Rows are centred at (ycenter, xcenter) and x~ = (1, x - xcenter). om_inv_p[p] is the
    inverse of Omega over the indicators observed in pattern p, embedded in an m x m matrix
    with zeros elsewhere, so one formula covers complete rows and FIML rows:
    s_a = u' dPi_a x~ + 1/2 u' dOmega_a u - 1/2 tr(Omega_p^-1 dOmega_a), u = Omega_p^-1 e.
    Over a fixed chunking (chunks spread over threads), so the sum is deterministic.
    """
    n = y.shape[0]
    q = dpi.shape[0]
    out = np.zeros((nchunks, q, q))
    run_blocks(_crossproduct_chunks, nchunks, n, y, x, w, ycenter, xcenter, pit, om_inv_p,
               pattern, dpi, dom, _pattern_traces(om_inv_p, dom), out)
    return _sum_chunks(out)


@njit(cache=True)
def _pattern_traces(om_inv_p, dom):
    npat = om_inv_p.shape[0]
    q = dom.shape[0]
    c = np.empty((npat, q))
    for p in range(npat):
        for a in range(q):
            c[p, a] = 0.5 * frobenius(om_inv_p[p], dom[a])
    return c


@njit(cache=True)
def _sum_chunks(out):
    nchunks, q, _ = out.shape
    total = np.zeros((q, q))
    for ch in range(nchunks):
        total += out[ch]
    for a in range(q):
        for b in range(a):
            total[b, a] = total[a, b]
    return total


@njit(cache=True, nogil=True)
def _crossproduct_chunks(y, x, w, ycenter, xcenter, pit, om_inv_p, pattern, dpi, dom, c, out,
                         b0, b1):
    n, m = y.shape
    k = x.shape[1]
    q = dpi.shape[0]
    nchunks = out.shape[0]
    size = (n + nchunks - 1) // nchunks
    for ch in range(b0, b1):
        lo = ch * size
        hi = min(n, lo + size)
        acc = out[ch]  # zeros; updated in place (see _feature_blocks)
        xt = np.empty(k + 1)
        e = np.empty(m)
        u = np.empty(m)
        s = np.empty(q)
        for i in range(lo, hi):
            pat = pattern[i]
            oi = om_inv_p[pat]
            xt[0] = 1.0
            for h in range(k):
                xt[h + 1] = x[i, h] - xcenter[h]
            for j in range(m):
                yv = y[i, j]
                if np.isnan(yv):
                    e[j] = 0.0
                    continue
                v = yv - ycenter[j]
                for h in range(k + 1):
                    v -= pit[j, h] * xt[h]
                e[j] = v
            for j in range(m):
                t = 0.0
                for l in range(m):
                    t += oi[j, l] * e[l]
                u[j] = t
            for a in range(q):
                v = -c[pat, a]
                for j in range(m):
                    if u[j] == 0.0:
                        continue
                    t = 0.0
                    for h in range(k + 1):
                        t += dpi[a, j, h] * xt[h]
                    for l in range(m):
                        t += 0.5 * dom[a, j, l] * u[l]
                    v += u[j] * t
                s[a] = v
            wi = w[i]
            for a in range(q):
                for b in range(a + 1):
                    acc[a, b] += wi * s[a] * s[b]


def fixedx_feature_moments(Ay, ycols, yshift, ydiv, Ax, xcols, rows, w2, use_w, w, ymean,
                           xmean, b_ols):
    """Block summaries of the features of lavaan's fixed-x Gamma, in one pass over the rows.

    With the causes fixed, row i's Gamma row is vech(d d' - dh dh'), d = (y, x) centred and
    dh the same with y replaced by its OLS fit B xc. That matrix is linear in the products
    r_j r_l (j <= l) and r_j xc_h, r = yc - B xc the OLS residual, so these m(m+1)/2 + m k
    features carry all of Gamma: Gamma = A Cov(f) A' for a fixed A (see
    rima.mimic.inference.fixedx_gamma). Returns per block the w2-weighted summary
    (weight sum, mean, lower co-moment; rima._kernels.moments.block_summary) and the
    w-weighted feature sums (the centre lavaan uses with sampling weights).

    The rows are read where they lie, never gathered: indicator j of row i is
    (Ay[ycols[j], rows[i]] - yshift[j]) / ydiv[j] (the fit z-scores the indicators of the
    validated block this way) and cause h is Ax[xcols[h], rows[i]] (Ay, Ax: one variable
    per row, any strides); an empty `rows` reads every column of Ay and Ax in order. w2
    and w are indexed by position in `rows`.
    """
    n = rows.shape[0] if rows.shape[0] else Ay.shape[1]
    m = ycols.shape[0]
    k = xcols.shape[0]
    nf = m * (m + 1) // 2 + m * k
    nb = (n + BLOCK - 1) // BLOCK
    bw = np.zeros(nb)
    bm = np.zeros((nb, nf))
    bc = np.zeros((nb, nf, nf))
    bs = np.zeros((nb, nf))
    run_blocks(_feature_blocks, nb, n, Ay, ycols, yshift, ydiv, Ax, xcols, rows, w2, use_w, w,
               ymean, xmean, b_ols, bw, bm, bc, bs)
    return bw, bm, bc, bs


@njit(cache=True)
def _read_block(A, cols, rows, lo, L, shift, div, centre):
    """(A[cols[j], rows[lo + r]] - shift[j]) / div[j] - centre[j] as a (len(cols), L)
    block (rows lo + r themselves when `rows` is empty)."""
    q = cols.shape[0]
    D = np.empty((q, L))
    indexed = rows.shape[0] > 0
    at = rows[lo:lo + L]
    for j in range(q):
        a = A[cols[j]]
        s = shift[j]
        d = div[j]
        c = centre[j]
        # 1-D views on both sides: the loops then run about twice as fast as through
        # 2-D indexing
        dj = D[j]
        if indexed:
            for r in range(L):
                dj[r] = (a[at[r]] - s) / d - c
        else:
            aj = a[lo:lo + L]
            for r in range(L):
                dj[r] = (aj[r] - s) / d - c
    return D


@njit(cache=True, nogil=True)
def _feature_blocks(Ay, ycols, yshift, ydiv, Ax, xcols, rows, w2, use_w, w, ymean, xmean,
                    b_ols, bw, bm, bc, bs, b0, b1):
    n = rows.shape[0] if rows.shape[0] else Ay.shape[1]
    m = ycols.shape[0]
    k = xcols.shape[0]
    nf = bm.shape[1]
    xshift = np.zeros(k)
    xdiv = np.ones(k)
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        L = hi - lo
        xc = _read_block(Ax, xcols, rows, lo, L, xshift, xdiv, xmean)
        res = _read_block(Ay, ycols, rows, lo, L, yshift, ydiv, ymean)
        for j in range(m):
            for h in range(k):
                bjh = b_ols[j, h]
                for r in range(L):
                    res[j, r] -= bjh * xc[h, r]
        F = np.empty((nf, L))
        f = 0
        for j in range(m):
            for l in range(j, m):
                for r in range(L):
                    F[f, r] = res[j, r] * res[l, r]
                f += 1
        for j in range(m):
            for h in range(k):
                for r in range(L):
                    F[f, r] = res[j, r] * xc[h, r]
                f += 1
        if use_w:
            for f in range(nf):
                s = 0.0
                for r in range(L):
                    s += w[lo + r] * F[f, r]
                bs[b, f] = s
        # written in place: assigning arrays to bm[b] / bc[b] would compile numba's
        # shape-mismatch message formatting (seconds of a first run)
        bw[b] = block_summary(F, w2[lo:hi] if use_w else w2, use_w, L, bm[b], bc[b])


def linear_scores(y, x, intercept, coef_x, coef_y):
    """intercept + x @ coef_x + y @ coef_y, row by row (NaN where an input is NaN)."""
    n = x.shape[0]
    out = np.empty(n)
    run_blocks(_linear_blocks, (n + BLOCK - 1) // BLOCK, n, y, x, float(intercept), coef_x,
               coef_y, out)
    return out


@njit(cache=True, nogil=True)
def _linear_blocks(y, x, intercept, coef_x, coef_y, out, b0, b1):
    n = x.shape[0]
    for i in range(b0 * BLOCK, min(n, b1 * BLOCK)):
        v = intercept
        for h in range(coef_x.shape[0]):
            v += x[i, h] * coef_x[h]
        for j in range(coef_y.shape[0]):
            v += y[i, j] * coef_y[j]
        out[i] = v
