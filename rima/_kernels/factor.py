"""Numba kernels for exploratory factor analysis, following R psych's numerics.

Every function is a pure function of small dense arrays (p x p correlation matrices,
p x k loadings). Eigenvalues are returned in decreasing order, as R's `eigen` does; the
sign of eigenvectors is arbitrary here and fixed later by psych's column-sum convention.
"""

import numpy as np
from numba import njit

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


@njit(cache=True)
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
