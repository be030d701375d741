"""Numba kernels for exploratory factor analysis, following R psych's numerics.

Every function is a pure function of small dense arrays (p x p correlation matrices,
p x k loadings). Eigenvalues are returned in decreasing order, as R's `eigen` does; the
sign of eigenvectors is arbitrary here and fixed later by psych's column-sum convention.
"""

import numpy as np
from numba import njit

from rima._kernels.linalg import lu_solve

DBL_EPS = 2.220446049250313e-16


@njit(cache=True)
def eig_desc(A):
    vals, vecs = np.linalg.eigh(A)
    return vals[::-1].copy(), np.ascontiguousarray(vecs[:, ::-1])


@njit(cache=True)
def smc(R):
    """Squared multiple correlations 1 - 1/diag(R^-1), clipped to [0, 1] as psych does."""
    inv = np.linalg.inv(R)
    p = R.shape[0]
    out = np.empty(p)
    for j in range(p):
        v = 1.0 - 1.0 / inv[j, j]
        out[j] = min(max(v, 0.0), 1.0)
    return out


@njit(cache=True, inline='always')
def pa_iterate(R, nf, start, min_err, max_iter, cap):
    """psych's iterated principal axis.

    Stops when |Σh²_new - Σh²_old| < min_err or after max_iter eigen steps (max_iter=1 is
    the one-step principal factor). `cap` > 0 bounds each communality at cap (the "bound"
    Heywood option); cap <= 0 leaves them free, as psych does.
    Returns loadings, communalities, eigenvalues of the last reduced matrix, iterations,
    and a status (0 ok, 1 iteration limit, 2 negative eigenvalue among retained factors).
    """
    p = R.shape[0]
    Rm = R.copy()
    for j in range(p):
        Rm[j, j] = start[j]
    comm = 0.0
    for j in range(p):
        comm += start[j]
    err = comm
    it = 0
    status = 0
    L = np.zeros((p, nf))
    vals = np.zeros(p)
    h2 = start.copy()
    while err > min_err:
        vals, vecs = eig_desc(Rm)
        neg = False
        for f in range(nf):
            if vals[f] < 0:
                neg = True
        if neg:
            status = 2
            break
        for f in range(nf):
            s = np.sqrt(vals[f])
            for j in range(p):
                L[j, f] = vecs[j, f] * s
        comm1 = 0.0
        for j in range(p):
            v = 0.0
            for f in range(nf):
                v += L[j, f] * L[j, f]
            h2[j] = v
        if cap > 0:
            for j in range(p):
                if h2[j] > cap:
                    # rescale the row so the communality equals the cap
                    sc = np.sqrt(cap / h2[j])
                    for f in range(nf):
                        L[j, f] *= sc
                    h2[j] = cap
        for j in range(p):
            comm1 += h2[j]
            Rm[j, j] = h2[j]
        err = abs(comm - comm1)
        comm = comm1
        it += 1
        if it >= max_iter:
            if err > min_err:
                status = 1
            err = 0.0
    return L, h2, vals, it, status


@njit(cache=True)
def uls_loadings(R, psi, nf):
    """Loadings from the eigen decomposition of R - diag(psi) (psych's FAout.wls)."""
    p = R.shape[0]
    S = R.copy()
    for j in range(p):
        S[j, j] -= psi[j]
    vals, vecs = eig_desc(S)
    L = np.empty((p, nf))
    for f in range(nf):
        s = np.sqrt(max(vals[f], 0.0))
        for j in range(p):
            L[j, f] = vecs[j, f] * s
    return L


@njit(cache=True)
def minres_objective(psi, R, nf):
    """psych's minres fit: sum of squared off-diagonal residuals (lower triangle)."""
    p = R.shape[0]
    S = R.copy()
    for j in range(p):
        S[j, j] = 1.0 - psi[j]
    vals, vecs = eig_desc(S)
    for f in range(p):
        if vals[f] < DBL_EPS:
            vals[f] = 100.0 * DBL_EPS
    tot = 0.0
    for i in range(p):
        for j in range(i):
            m = 0.0
            for f in range(nf):
                m += vecs[i, f] * vecs[j, f] * vals[f]
            d = S[i, j] - m
            tot += d * d
    return tot


@njit(cache=True)
def minres_gradient(psi, R, nf):
    """psych's FAgr.minres: diag(ΛΛ' + diag(psi) - R) with Λ from R - diag(psi)."""
    p = R.shape[0]
    L = uls_loadings(R, psi, nf)
    g = np.empty(p)
    for j in range(p):
        m = 0.0
        for f in range(nf):
            m += L[j, f] * L[j, f]
        g[j] = m + psi[j] - R[j, j]
    return g


@njit(cache=True)
def _scaled(R, psi):
    p = R.shape[0]
    S = np.empty((p, p))
    for i in range(p):
        for j in range(p):
            S[i, j] = R[i, j] / np.sqrt(psi[i] * psi[j])
    return S


@njit(cache=True)
def ml_objective(psi, R, nf):
    """psych's FAfn (the factanal likelihood concentrated on the uniquenesses)."""
    p = R.shape[0]
    vals, _ = eig_desc(_scaled(R, psi))
    e = 0.0
    for f in range(nf, p):
        e += np.log(vals[f]) - vals[f]
    return -(e - nf + p)


@njit(cache=True)
def ml_loadings(R, psi, nf):
    p = R.shape[0]
    vals, vecs = eig_desc(_scaled(R, psi))
    L = np.empty((p, nf))
    for f in range(nf):
        s = np.sqrt(max(vals[f] - 1.0, 0.0))
        for j in range(p):
            L[j, f] = np.sqrt(psi[j]) * vecs[j, f] * s
    return L


@njit(cache=True)
def ml_gradient(psi, R, nf):
    p = R.shape[0]
    L = ml_loadings(R, psi, nf)
    g = np.empty(p)
    for j in range(p):
        m = 0.0
        for f in range(nf):
            m += L[j, f] * L[j, f]
        g[j] = (m + psi[j] - R[j, j]) / (psi[j] * psi[j])
    return g


@njit(cache=True)
def varimax(L, normalize, eps, maxit):
    """R's stats::varimax: stops when the criterion grows by less than a factor (1 + eps)."""
    p, k = L.shape
    x = L.copy()
    sc = np.ones(p)
    if normalize:
        for j in range(p):
            s = 0.0
            for f in range(k):
                s += x[j, f] * x[j, f]
            sc[j] = np.sqrt(s)
            for f in range(k):
                x[j, f] /= sc[j]
    T = np.eye(k)
    d = 0.0
    iters = 0
    for _ in range(maxit):
        iters += 1
        z = x @ T
        colsq = np.zeros(k)
        for f in range(k):
            for j in range(p):
                colsq[f] += z[j, f] * z[j, f]
        M = np.empty((p, k))
        for j in range(p):
            for f in range(k):
                M[j, f] = z[j, f] ** 3 - z[j, f] * colsq[f] / p
        B = x.T @ M
        u, s, vt = np.linalg.svd(B)
        T = u @ vt
        dpast = d
        d = s.sum()
        if d < dpast * (1.0 + eps):
            break
    z = x @ T
    if normalize:
        for j in range(p):
            for f in range(k):
                z[j, f] *= sc[j]
    return z, T, iters


@njit(cache=True)
def promax_from_varimax(x, vT, m):
    """Promax power step on varimax loadings x (rotation vT), as stats::promax / psych::Promax.

    Returns loadings, the full rotation matrix U and Phi = U^-1 U^-T.
    """
    p, k = x.shape
    Q = np.empty((p, k))
    for j in range(p):
        for f in range(k):
            Q[j, f] = x[j, f] * abs(x[j, f]) ** (m - 1)
    U = np.linalg.lstsq(x, Q)[0]
    d = np.diag(np.linalg.inv(U.T @ U))
    for f in range(k):
        s = np.sqrt(d[f])
        for i in range(k):
            U[i, f] *= s
    z = x @ U
    Ufull = vT @ U
    ui = np.linalg.inv(Ufull)
    Phi = ui @ ui.T
    return z, Ufull, Phi


@njit(cache=True)
def _oblimin_vgq(L, gam):
    p, k = L.shape
    L2 = L * L
    X = np.zeros((p, k))
    for j in range(p):
        for f in range(k):
            s = 0.0
            for g in range(k):
                if g != f:
                    s += L2[j, g]
            X[j, f] = s
    if gam != 0.0:
        cm = np.zeros(k)
        for f in range(k):
            for j in range(p):
                cm[f] += X[j, f]
        for j in range(p):
            for f in range(k):
                X[j, f] -= gam / p * cm[f]
    Gq = L * X
    f = (L2 * X).sum() / 4.0
    return Gq, f


@njit(cache=True)
def oblimin(A, gam, eps, maxit):
    """GPArotation's GPFoblq with the oblimin criterion (gam=0: quartimin), no normalisation."""
    k = A.shape[1]
    T = np.eye(k)
    al = 1.0
    L = A @ np.linalg.inv(T).T
    Gq, f = _oblimin_vgq(L, gam)
    G = -(L.T @ Gq @ np.linalg.inv(T)).T
    converged = False
    it = 0
    Tt = T
    for it in range(maxit + 1):
        colsum = np.zeros(k)
        for a in range(k):
            for b in range(k):
                colsum[b] += T[a, b] * G[a, b]
        Gp = G - T * colsum.reshape((1, k))
        s = np.sqrt((Gp * Gp).sum())
        if s < eps:
            converged = True
            break
        al = 2.0 * al
        ft = f
        Gqt = Gq
        for _ in range(11):
            X = T - al * Gp
            v = np.empty(k)
            for b in range(k):
                ss = 0.0
                for a in range(k):
                    ss += X[a, b] * X[a, b]
                v[b] = 1.0 / np.sqrt(ss)
            Tt = X * v.reshape((1, k))
            L = A @ np.linalg.inv(Tt).T
            Gqt, ft = _oblimin_vgq(L, gam)
            if f - ft > 0.5 * s * s * al:
                break
            al = al / 2.0
        T = Tt
        f = ft
        Gq = Gqt
        G = -(L.T @ Gqt @ np.linalg.inv(Tt)).T
    Phi = T.T @ T
    return L, Phi, T, it, converged


# ---------------------------------------------------------------- psych's conventions
# One implementation of each rule that turns a correlation matrix into a pillar's score
# weights: rima.factor (the fit) and rima._kernels.bootstrap (every replicate) both call
# these functions, so a rule changed here changes both. numba optimises and generates
# machine code for each kernel with every kernel it calls linked in, so a helper called
# from one place only is inlined there (inline='always'): compiled as its own kernel, its
# code (and that of everything it calls, such as the eigen solver) would be compiled again
# in each caller on a first run. Helpers that the Python side also calls (order_loadings,
# unrotated_signs, smc) stay separate kernels, compiled once and linked.

PA, PF, PCA = 0, 1, 2                  # extractions done here (minres and ml: rima.factor)
ROT_NONE, ROT_VARIMAX, ROT_PROMAX, ROT_OBLIMIN = 0, 1, 2, 3
HEYWOOD_H2 = 1.0 - 1e-12               # a communality this high is a Heywood case
ZERO_U2 = 1e-8                         # |uniqueness| below this: Bartlett weights undefined
PILLAR_OK = 0
PILLAR_FACTOR_FAILED = 2               # negative eigenvalue among the retained factors,
                                       # singular system or non-finite weights
PILLAR_HEYWOOD = 3                     # zero uniqueness (Bartlett) or Heywood with "error"


@njit(cache=True, inline='always')
def pa_start(R, nf, smc_start):
    """Starting communalities of principal axis: squared multiple correlations (pf, or
    smc=True) or 1 (psych's fa default)."""
    if smc_start and nf <= R.shape[0]:
        return smc(R)
    return np.ones(R.shape[0])


@njit(cache=True, inline='always')
def pca_loadings(R, nf):
    """psych::principal's loadings: leading eigenvectors times sqrt(eigenvalue) (eigenvalues
    floored at machine epsilon); returns (loadings, eigenvalues)."""
    vals, vecs = eig_desc(R)
    p = R.shape[0]
    L = np.empty((p, nf))
    for f in range(nf):
        s = np.sqrt(max(vals[f], DBL_EPS))
        for j in range(p):
            L[j, f] = vecs[j, f] * s
    return L, vals


@njit(cache=True)
def column_signs(L):
    """psych's sign rule: +1 or -1 per column so that its loadings sum positive (a zero
    sum keeps +1)."""
    p, k = L.shape
    sg = np.ones(k)
    for f in range(k):
        s = 0.0
        for j in range(p):
            s += L[j, f]
        if s < 0:
            sg[f] = -1.0
    return sg


@njit(cache=True)
def _apply_signs(L, phi, sg):
    p, k = L.shape
    for f in range(k):
        for j in range(p):
            L[j, f] *= sg[f]
    for f in range(k):
        for g in range(k):
            phi[f, g] *= sg[f] * sg[g]


@njit(cache=True)
def ss_loadings(L, phi):
    """Variance accounted for by each factor: diag(Phi L'L) (colSums(L^2) when Phi = I)."""
    p, k = L.shape
    ll = np.zeros((k, k))
    for f in range(k):
        for g in range(k):
            s = 0.0
            for j in range(p):
                s += L[j, f] * L[j, g]
            ll[f, g] = s
    ss = np.zeros(k)
    for f in range(k):
        for g in range(k):
            ss[f] += phi[f, g] * ll[g, f]
    return ss


@njit(cache=True)
def _order(L, phi, ev):
    """Columns (and Phi) in decreasing `ev`, ties in their order (a stable sort)."""
    k = ev.shape[0]
    order = np.arange(k)
    for a in range(1, k):
        b = a
        while b > 0 and ev[order[b - 1]] < ev[order[b]]:
            t = order[b - 1]
            order[b - 1] = order[b]
            order[b] = t
            b -= 1
    p = L.shape[0]
    Lo = np.empty((p, k))
    po = np.empty((k, k))
    for f in range(k):
        for j in range(p):
            Lo[j, f] = L[j, order[f]]
        for g in range(k):
            po[f, g] = phi[order[f], order[g]]
    return Lo, po


@njit(cache=True)
def _cov2cor(C):
    k = C.shape[0]
    out = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            out[a, b] = C[a, b] / np.sqrt(C[a, a] * C[b, b])
    return out


@njit(cache=True)
def unrotated_signs(L0):
    """psych's first sign step: columns signed to positive sums, zero loadings nudged to
    1e-15 (as psych does before rotating)."""
    p, k = L0.shape
    U = np.empty((p, k))
    sg = column_signs(L0)
    for f in range(k):
        for j in range(p):
            v = L0[j, f] * sg[f]
            U[j, f] = 1e-15 if v == 0.0 else v
    return U


@njit(cache=True)
def orthogonal_rotation(U, rotation, varimax_eps, maxit):
    """Loadings after "none" or "varimax" (R's stats::varimax with Kaiser normalisation);
    returns (loadings, converged). Oblique rotations: `oblique_rotation`, kept apart so
    that kernels which never use them do not compile them."""
    if rotation == ROT_VARIMAX and U.shape[1] >= 2:
        z, _T, it = varimax(U, True, varimax_eps, maxit)
        return z, it < maxit
    return U.copy(), True


@njit(cache=True)
def oblique_rotation(U, rotation, pca, varimax_eps, oblimin_eps, maxit):
    """Loadings and Phi after "promax" (psych::fa: Kaiser-normalised psych::Promax;
    psych::principal: stats::promax) or "oblimin" (GPArotation's quartimin); returns
    (loadings, Phi, converged)."""
    p, k = U.shape
    if rotation == ROT_PROMAX:
        if pca:
            x, T, _it = varimax(U, True, 1e-5, 1000)
            z, Uf, _phi = promax_from_varimax(x, T, 4.0)
            ui = np.linalg.inv(Uf)
            return z, _cov2cor(ui @ ui.T), True
        h = np.empty(p)
        Ln = np.empty((p, k))
        for j in range(p):
            s = 0.0
            for f in range(k):
                s += U[j, f] * U[j, f]
            h[j] = np.sqrt(s)
            for f in range(k):
                Ln[j, f] = U[j, f] / h[j]
        x, T, _it = varimax(Ln, True, varimax_eps, maxit)
        z, _Uf, phi = promax_from_varimax(x, T, 4.0)
        for j in range(p):
            for f in range(k):
                z[j, f] *= h[j]
        return z, phi, True
    z, phi, _T, _it, ok = oblimin(U, 0.0, oblimin_eps, maxit)
    return z, phi, ok


@njit(cache=True)
def order_loadings(L, phi, pca):
    """psych's last step on rotated loadings: columns signed to positive sums and ordered
    by variance accounted for, diag(Phi L'L) (psych::principal: ordered by diag(L'L) first,
    then signed). Returns (loadings, Phi) as new arrays."""
    k = L.shape[1]
    L = L.copy()
    phi = phi.copy()
    if pca and k > 1:
        L, phi = _order(L, phi, ss_loadings(L, np.eye(k)))
        _apply_signs(L, phi, column_signs(L))
    else:
        _apply_signs(L, phi, column_signs(L))
        if k > 1:
            L, phi = _order(L, phi, ss_loadings(L, phi))
    return L, phi


@njit(cache=True, inline='always')
def score_weights(R_scores, L, phi, bartlett):
    """psych::factor.scores weights on z-scores: Bartlett W = U^-2 L (L'U^-2 L)^-1 with
    U^2 = 1 - diag(L Phi L'), or Thurstone regression W = R^-1 L Phi (also psych::principal's
    component weights). Returns (W (p, k), status: PILLAR_OK, PILLAR_HEYWOOD (a zero
    uniqueness) or PILLAR_FACTOR_FAILED (singular system, non-finite weights))."""
    p, k = L.shape
    LP = np.zeros((p, k))
    for j in range(p):
        for f in range(k):
            s = 0.0
            for g in range(k):
                s += L[j, g] * phi[g, f]
            LP[j, f] = s
    if bartlett:
        A = np.empty((p, k))
        for j in range(p):
            h2 = 0.0
            for f in range(k):
                h2 += LP[j, f] * L[j, f]
            u2 = 1.0 - h2
            if abs(u2) < ZERO_U2:
                return np.zeros((p, k)), PILLAR_HEYWOOD
            for f in range(k):
                A[j, f] = L[j, f] / u2
        M = np.zeros((k, k))
        for f in range(k):
            for g in range(k):
                for j in range(p):
                    M[f, g] += L[j, f] * A[j, g]
        # W = A M^-1 = (M^-1 A')' since M is symmetric
        Wt, ok = lu_solve(M, np.ascontiguousarray(A.T))
        W = np.ascontiguousarray(Wt.T)
    else:
        W, ok = lu_solve(R_scores, LP)
    if not ok:
        return W, PILLAR_FACTOR_FAILED
    for j in range(p):
        for f in range(k):
            if not np.isfinite(W[j, f]):
                return W, PILLAR_FACTOR_FAILED
    return W, PILLAR_OK


@njit(cache=True, inline='always')
def variance_weights(ss):
    """The reference tool's weights of a pillar's factors: SS_j / sum of SS."""
    # loops, not `ss / ss.sum()`: the same sum in the same order, without compiling
    # numba's array-expression machinery for two operations on a few numbers
    tot = 0.0
    for f in range(ss.shape[0]):
        tot += ss[f]
    out = np.empty(ss.shape[0])
    for f in range(ss.shape[0]):
        out[f] = ss[f] / tot
    return out


@njit(cache=True, inline='always')
def combined_weights(W, vw):
    """The pillar score's weights on z-scores: sum_j vw_j W[:, j]."""
    p, k = W.shape
    out = np.zeros(p)
    for j in range(p):
        for f in range(k):
            out[j] += W[j, f] * vw[f]
    return out


@njit(cache=True)
def pillar_extract(R, nf, method, smc_start, min_err, max_iter, cap):
    """A pillar's unrotated loadings from its correlations by principal axis (pa, pf:
    psych's iteration from SMC or unit communalities, `cap` > 0 the "bound" Heywood option)
    or components (pca), signed by psych's first sign step.

    Returns (loadings, eigenvalues, iterations, status: pa_iterate's, 2 = a negative
    eigenvalue among the retained factors).
    """
    if method == PCA:
        L0, vals = pca_loadings(R, nf)
        return unrotated_signs(L0), vals, 0, 0
    L0, _h2, vals, it, st = pa_iterate(R, nf, pa_start(R, nf, smc_start), min_err,
                                       max_iter, cap)
    return unrotated_signs(L0), vals, it, st


@njit(cache=True)
def pillar_weights(R_scores, L, phi, pca, bartlett):
    """A pillar's weights from its rotated loadings: psych's final sign and order
    (`order_loadings`), Bartlett or regression score weights (components for pca), the
    variance weights SS_j / sum SS and the combined weights on z-scores.

    Returns (loadings, Phi, W, SS loadings, variance weights, combined weights, status).
    """
    p = L.shape[0]
    Lo, po = order_loadings(L, phi, pca)
    W, status = score_weights(R_scores, Lo, po, bartlett and not pca)
    ss = ss_loadings(Lo, po)
    vw = variance_weights(ss)
    comb = combined_weights(W, vw)
    if status == PILLAR_OK:
        for j in range(p):
            if not np.isfinite(comb[j]):
                status = PILLAR_FACTOR_FAILED
    return Lo, po, W, ss, vw, comb, status


@njit(cache=True)
def communalities(U):
    """Row sums of squared (unrotated) loadings."""
    p, k = U.shape
    h2 = np.zeros(p)
    for j in range(p):
        for f in range(k):
            h2[j] += U[j, f] * U[j, f]
    return h2
