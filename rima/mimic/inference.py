"""Standard errors and scaled test statistics, as lavaan computes them with fixed causes.

- se="standard": inverse expected information / N (complete data) or inverse observed
  information (FIML, lavaan's default there).
- se="robust.sem": A^-1 (Delta' W Gamma W Delta) A^-1 / N with A the expected information
  and Gamma lavaan's ADF Gamma for fixed x (indicator variation given the causes only).
- se="robust.huber.white": H^-1 B H^-1 / N with H the observed information and B the
  cross-product of casewise scores.
- Satorra-Bentler: c = tr(U Gamma) / df, U = W - W Delta A^-1 Delta' W, W at Sigma-hat.
- Yuan-Bentler (lavaan's "yuan.bentler.mplus"): c = (tr(W_S Gamma) - tr(H^-1 B)) / df with
  W_S the normal-theory weight at the sample covariance.
"""

import numpy as np

from rima._kernels import mimic as K

_NCHUNKS = 16


def model_matrices(theta, layout):
    lam, gam, bmat, psi, th, nu = K.build_matrices(theta, *layout.args())
    pit, om = K.reduced_form(lam, gam, bmat, psi, th, nu)
    return lam, gam, bmat, psi, th, nu, pit, om


def joint_sigma(pi, om, sxx):
    """Implied covariance of (y, x) with the causes' block fixed at sxx."""
    m, k = pi.shape
    p = m + k
    sig = np.empty((p, p))
    sig[m:, m:] = sxx
    sig[:m, m:] = pi @ sxx
    sig[m:, :m] = sig[:m, m:].T
    sig[:m, :m] = pi @ sxx @ pi.T + om
    return sig


def vech_pairs(p):
    return [(i, j) for j in range(p) for i in range(j, p)]


def nt_weight(sig):
    """W = 1/2 D' (Sigma^-1 kron Sigma^-1) D over vech (lower triangle by columns)."""
    p = sig.shape[0]
    si = np.linalg.inv(sig)
    idx = vech_pairs(p)
    d = np.zeros((p * p, len(idx)))
    for c, (i, j) in enumerate(idx):
        d[i * p + j, c] = 1.0
        d[j * p + i, c] = 1.0
    return 0.5 * d.T @ np.kron(si, si) @ d


def joint_delta(theta, layout, pi, sxx, n_struct):
    """d vech(Sigma) / d theta for the structural (non-intercept) parameters."""
    dpi, dom = K.derivatives(theta, *layout.args())
    m, k = pi.shape
    p = m + k
    idx = vech_pairs(p)
    delta = np.zeros((len(idx), n_struct))
    ds = np.zeros((p, p))
    for a in range(n_struct):
        dp = dpi[a][:, 1:]
        ds[:m, m:] = dp @ sxx
        ds[m:, :m] = ds[:m, m:].T
        ds[:m, :m] = dp @ sxx @ pi.T + pi @ sxx @ dp.T + dom[a]
        delta[:, a] = [ds[i, j] for i, j in idx]
    return delta


def robust_sem_meat(prep, proj):
    """Delta' W Gamma W Delta with lavaan's fixed-x Gamma, proj = Delta' W (q x p*)."""
    m = prep.y.shape[1]
    k = prep.x.shape[1]
    p = m + k
    q = proj.shape[0]
    mats = np.zeros((q, p, p))
    for c, (i, j) in enumerate(vech_pairs(p)):
        if i == j:
            mats[:, i, i] = proj[:, c]
        else:
            mats[:, i, j] = mats[:, j, i] = 0.5 * proj[:, c]
    b_ols = np.linalg.solve(prep.sxx, prep.syx.T).T
    myy = np.ascontiguousarray(mats[:, :m, :m])
    nyx = np.ascontiguousarray(myy @ b_ols + mats[:, :m, m:])
    ww = np.ones(prep.n) if prep.w is None else prep.w
    w2 = ww if prep.w is None else ww ** 2
    return K.fixedx_meat(prep.y, prep.x, ww, w2, prep.ymean, prep.xmean, b_ols, myy, nyx,
                         _NCHUNKS)


def gamma_trace(prep, v):
    """tr(W(V) Gamma) with lavaan's fixed-x Gamma and the normal-theory weight W at V."""
    m = prep.y.shape[1]
    b_ols = np.linalg.solve(prep.sxx, prep.syx.T).T
    # mean of Z_i: the residual covariance of y given x in the indicator block, zero elsewhere
    zbar = np.zeros_like(v)
    zbar[:m, :m] = prep.syy - b_ols @ prep.syx.T
    rmat = np.linalg.cholesky(np.linalg.inv(v)).T      # V^-1 = R'R
    cmat = rmat @ zbar @ rmat.T
    ww = np.ones(prep.n) if prep.w is None else prep.w
    w2 = ww if prep.w is None else ww ** 2
    return K.gamma_trace(prep.y, prep.x, ww, w2, prep.ymean, prep.xmean, b_ols,
                         np.ascontiguousarray(rmat), np.ascontiguousarray(cmat), _NCHUNKS)


def pattern_inverses(om, masks):
    """Omega_oo^-1 of each missingness pattern, embedded in m x m with zeros elsewhere."""
    m = om.shape[0]
    out = np.zeros((len(masks), m, m))
    for p, mk in enumerate(masks):
        o = np.flatnonzero(mk)
        out[p][np.ix_(o, o)] = np.linalg.inv(om[np.ix_(o, o)])
    return out


def score_meat(prep, pit, om, dpi, dom):
    """Mean of w_i^2 s_i s_i' over rows (the Huber-White meat) for the given derivatives."""
    w2 = np.ones(prep.n) if prep.w is None else prep.w ** 2
    b = K.score_crossproduct(prep.y, prep.x, w2, prep.ymean, prep.xmean, pit,
                             pattern_inverses(om, prep.masks), prep.pattern,
                             np.ascontiguousarray(dpi), np.ascontiguousarray(dom), _NCHUNKS)
    return b / prep.n


def sandwich(bread, meat, n):
    bi = np.linalg.inv(bread)
    return bi @ meat @ bi / n
