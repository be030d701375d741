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
from numba import njit, prange


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
    om = psi * np.outer(lam, lam) + th
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


@njit(cache=True)
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
        obs = np.where(masks[p])[0]
        mo = obs.shape[0]
        if mo == 0 or counts[p] == 0:
            continue
        om_oo = np.empty((mo, mo))
        for a in range(mo):
            for b in range(mo):
                om_oo[a, b] = om[obs[a], obs[b]]
        # Cholesky by hand so a non-PD block is reported instead of raising.
        chol = np.zeros((mo, mo))
        ok = True
        for a in range(mo):
            s = om_oo[a, a]
            for c in range(a):
                s -= chol[a, c] * chol[a, c]
            if s <= 0.0:
                ok = False
                break
            chol[a, a] = np.sqrt(s)
            for b in range(a + 1, mo):
                t = om_oo[b, a]
                for c in range(a):
                    t -= chol[b, c] * chol[a, c]
                chol[b, a] = t / chol[a, a]
        if not ok:
            return np.inf, g_pi, g_om
        logdet = 0.0
        for a in range(mo):
            logdet += 2.0 * np.log(chol[a, a])
        om_inv = np.linalg.inv(om_oo)
        mp = cross[p]
        # residual cross-product C = A M A' with A = [I_o, -Pi~_o] on the (y_o, x~) block
        myy = np.empty((mo, mo))
        myx = np.empty((mo, kt))
        for a in range(mo):
            for b in range(mo):
                myy[a, b] = mp[obs[a], obs[b]]
            for b in range(kt):
                myx[a, b] = mp[obs[a], m + b]
        mxx = mp[m:, m:].copy()
        pio = np.empty((mo, kt))
        for a in range(mo):
            pio[a] = pit[obs[a]]
        pmx = pio @ mxx
        cmat = myy - pio @ myx.T - myx @ pio.T + pmx @ pio.T
        total += counts[p] * logdet + np.sum(om_inv * cmat)
        if with_grad:
            go = counts[p] * om_inv - om_inv @ cmat @ om_inv
            gp = 2.0 * om_inv @ (pmx - myx)
            for a in range(mo):
                for b in range(mo):
                    g_om[obs[a], obs[b]] += go[a, b]
                for b in range(kt):
                    g_pi[obs[a], b] += gp[a, b]
    return total, g_pi, g_om


@njit(cache=True)
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
            grad[a] = (np.sum(g_pi * dpi[a]) + np.sum(g_om * dom[a])) / n
    return val / n, grad


@njit(cache=True)
def expected_information(om, mxx, dpi, dom):
    """Unit expected information of the regression of y on x~ (x~ second moments mxx).

    I_ab = tr(Omega^-1 dPi_a M dPi_b') + 1/2 tr(Omega^-1 dOmega_a Omega^-1 dOmega_b).
    """
    q = dpi.shape[0]
    om_inv = np.linalg.inv(om)
    info = np.zeros((q, q))
    left_pi = np.empty_like(dpi)
    left_om = np.empty_like(dom)
    for a in range(q):
        left_pi[a] = om_inv @ np.ascontiguousarray(dpi[a]) @ mxx
        left_om[a] = om_inv @ dom[a] @ om_inv
    for a in range(q):
        for b in range(a + 1):
            v = np.sum(left_pi[a] * dpi[b]) + 0.5 * np.sum(left_om[a] * dom[b])
            info[a, b] = v
            info[b, a] = v
    return info


@njit(cache=True, parallel=True)
def score_crossproduct(y, x, w, ycenter, xcenter, pit, om_inv_p, pattern, dpi, dom, nchunks):
    """Sum over rows of w_i s_i s_i' for the casewise scores s_i of log p(y_i,obs | x_i).

    Rows are centred at (ycenter, xcenter) and x~ = (1, x - xcenter). om_inv_p[p] is the
    inverse of Omega over the indicators observed in pattern p, embedded in an m x m matrix
    with zeros elsewhere, so one formula covers complete rows and FIML rows:
    s_a = u' dPi_a x~ + 1/2 u' dOmega_a u - 1/2 tr(Omega_p^-1 dOmega_a), u = Omega_p^-1 e.
    Parallel over a fixed chunking, so the sum is deterministic.
    """
    n, m = y.shape
    k = x.shape[1]
    q = dpi.shape[0]
    npat = om_inv_p.shape[0]
    c = np.empty((npat, q))
    for p in range(npat):
        for a in range(q):
            c[p, a] = 0.5 * np.sum(om_inv_p[p] * dom[a])
    out = np.zeros((nchunks, q, q))
    size = (n + nchunks - 1) // nchunks
    for ch in prange(nchunks):
        lo = ch * size
        hi = min(n, lo + size)
        acc = np.zeros((q, q))
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
        out[ch] = acc
    total = np.zeros((q, q))
    for ch in range(nchunks):
        total += out[ch]
    for a in range(q):
        for b in range(a):
            total[b, a] = total[a, b]
    return total


@njit(cache=True, parallel=True)
def gamma_trace(y, x, w, w2, ymean, xmean, b_ols, rmat, cmat, nchunks):
    """tr(W Gamma) for lavaan's fixed-x Gamma and W = 1/2 D'(V^-1 kron V^-1)D, in one pass.

    With V^-1 = R'R and Z_i = d_i d_i' - dh_i dh_i' (d = (y, x) centred, dh the same with y
    replaced by its OLS fit), v' W v = 1/2 ||R (Z_i - Zbar) R'||_F^2, and with a = R d,
    b = R dh, C = R Zbar R' that norm is (a'a)^2 + (b'b)^2 - 2 (a'b)^2 - 2 a'Ca + 2 b'Cb
    + ||C||^2, so no p* x p* matrix is ever formed.
    Returns sum_i w2_i v_i' W v_i / sum w.
    """
    n, m = y.shape
    k = x.shape[1]
    p = m + k
    cc = np.sum(cmat * cmat)
    out = np.zeros(nchunks)
    size = (n + nchunks - 1) // nchunks
    for ch in prange(nchunks):
        lo = ch * size
        hi = min(n, lo + size)
        acc = 0.0
        d = np.empty(p)
        dh = np.empty(p)
        a = np.empty(p)
        b = np.empty(p)
        for i in range(lo, hi):
            for h in range(k):
                d[m + h] = x[i, h] - xmean[h]
                dh[m + h] = d[m + h]
            for j in range(m):
                d[j] = y[i, j] - ymean[j]
                t = 0.0
                for h in range(k):
                    t += b_ols[j, h] * d[m + h]
                dh[j] = t
            aa = 0.0
            bb = 0.0
            ab = 0.0
            for r in range(p):
                ta = 0.0
                tb = 0.0
                for c in range(p):
                    ta += rmat[r, c] * d[c]
                    tb += rmat[r, c] * dh[c]
                a[r] = ta
                b[r] = tb
                aa += ta * ta
                bb += tb * tb
                ab += ta * tb
            aca = 0.0
            bcb = 0.0
            for r in range(p):
                ua = 0.0
                ub = 0.0
                for c in range(p):
                    ua += cmat[r, c] * a[c]
                    ub += cmat[r, c] * b[c]
                aca += a[r] * ua
                bcb += b[r] * ub
            acc += w2[i] * 0.5 * (aa * aa + bb * bb - 2.0 * ab * ab - 2.0 * aca + 2.0 * bcb + cc)
        out[ch] = acc
    return out.sum() / w.sum()


@njit(cache=True, parallel=True, fastmath=True)
def fixedx_meat(y, x, w, w2, ymean, xmean, b_ols, myy, nyx, nchunks):
    """Delta' W Gamma W Delta (the robust.sem meat) in one pass, without forming vech rows.

    With fixed causes lavaan's Gamma row is vech(d d' - dh dh'), d = (y, x) centred and dh
    the same with y replaced by its OLS fit on x. Its projection on parameter a is
    s_a = r' Myy_a r + 2 r' Nyx_a xc, where r = yc - B_ols xc is the OLS residual,
    Myy_a the indicator block of the symmetric matrix representing row a of Delta' W and
    Nyx_a = Myy_a B_ols + Myx_a. Returns sum_i w2_i (s_i - s)(s_i - s)' / sum w with
    s = sum_i w_i s_i / sum w.
    """
    n, m = y.shape
    k = x.shape[1]
    q = myy.shape[0]
    # s_a is linear in the products r_j r_l (j <= l) and r_j xc_h: precompute its weights
    nf = m * (m + 1) // 2 + m * k
    gmat = np.zeros((q, nf))
    for a in range(q):
        f = 0
        for j in range(m):
            for l in range(j, m):
                gmat[a, f] = myy[a, j, l] if l == j else 2.0 * myy[a, j, l]
                f += 1
            for h in range(k):
                gmat[a, f] = 2.0 * nyx[a, j, h]
                f += 1
    out = np.zeros((nchunks, q, q))
    outa = np.zeros((nchunks, q))
    outb = np.zeros((nchunks, q))
    size = (n + nchunks - 1) // nchunks
    for ch in prange(nchunks):
        lo = ch * size
        hi = min(n, lo + size)
        acc = np.zeros((q, q))
        acca = np.zeros(q)
        accb = np.zeros(q)
        xc = np.empty(k)
        r = np.empty(m)
        s = np.empty(q)
        feat = np.empty(nf)
        for i in range(lo, hi):
            for h in range(k):
                xc[h] = x[i, h] - xmean[h]
            for j in range(m):
                v = y[i, j] - ymean[j]
                for h in range(k):
                    v -= b_ols[j, h] * xc[h]
                r[j] = v
            f = 0
            for j in range(m):
                for l in range(j, m):
                    feat[f] = r[j] * r[l]
                    f += 1
                for h in range(k):
                    feat[f] = r[j] * xc[h]
                    f += 1
            for a in range(q):
                t = 0.0
                for f in range(nf):
                    t += gmat[a, f] * feat[f]
                s[a] = t
            wi = w2[i]
            for a in range(q):
                acca[a] += wi * s[a]
                accb[a] += w[i] * s[a]
                for b in range(a + 1):
                    acc[a, b] += wi * s[a] * s[b]
        out[ch] = acc
        outa[ch] = acca
        outb[ch] = accb
    sw = w.sum()
    sw2 = w2.sum()
    g = np.zeros((q, q))
    va = np.zeros(q)
    mv = np.zeros(q)
    for ch in range(nchunks):
        g += out[ch]
        va += outa[ch]
        mv += outb[ch]
    mv /= sw
    for a in range(q):
        for b in range(a + 1):
            g[a, b] = (g[a, b] - mv[a] * va[b] - va[a] * mv[b] + sw2 * mv[a] * mv[b]) / sw
            g[b, a] = g[a, b]
    return g


@njit(cache=True)
def linear_scores(y, x, intercept, coef_x, coef_y):
    """intercept + x @ coef_x + y @ coef_y, row by row (NaN where an input is NaN)."""
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        v = intercept
        for h in range(coef_x.shape[0]):
            v += x[i, h] * coef_x[h]
        for j in range(coef_y.shape[0]):
            v += y[i, j] * coef_y[j]
        out[i] = v
    return out
