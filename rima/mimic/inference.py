"""Standard errors and scaled test statistics, as lavaan computes them with fixed causes.

- se="standard": inverse expected information / N (complete data) or inverse observed
  information (FIML, lavaan's default there).
- se="robust.sem": A^-1 (Delta' W Gamma W Delta) A^-1 / N with A the expected information
  and Gamma lavaan's ADF Gamma for fixed x (indicator variation given the causes only);
  with sampling weights lavaan's Gamma (NACOV) is that of the unweighted rows, and the
  test is Yuan-Bentler with the expected information in its h0 trace.
- se="robust.huber.white": H^-1 B H^-1 / N with H the observed information and B the
  cross-product of casewise scores.
- Satorra-Bentler: c = tr(U Gamma) / df, U = W - W Delta A^-1 Delta' W, W at Sigma-hat.
- Yuan-Bentler (lavaan's "yuan.bentler.mplus"): c = (tr(W_S Gamma) - tr(H^-1 B)) / df with
  W_S the normal-theory weight at the sample covariance.
"""

import numpy as np

from rima._kernels import mimic as K
from rima._kernels.columns import read_only
from rima._kernels.moments import merge_blocks
from rima.moments import compute_moments

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


def _feature_map(b_ols, m, k):
    """A with vech(d d' - dh dh') = A f for the residual features f of
    rima._kernels.mimic.fixedx_feature_moments: the indicator block is
    r r' + r yhat' + yhat r' with yhat = B xc, the indicator-cause block r xc', the cause
    block zero."""
    p = m + k
    n_rr = m * (m + 1) // 2
    rr = {}
    for j in range(m):
        for l in range(j, m):
            rr[(j, l)] = len(rr)

    def rx(j, h):
        return n_rr + j * k + h

    pairs = vech_pairs(p)
    a = np.zeros((len(pairs), n_rr + m * k))
    for c, (i, j) in enumerate(pairs):      # i >= j
        if j >= m:
            continue
        if i >= m:
            a[c, rx(j, i - m)] = 1.0
            continue
        a[c, rr[(j, i)]] += 1.0
        for h in range(k):
            a[c, rx(i, h)] += b_ols[j, h]
            a[c, rx(j, h)] += b_ols[i, h]
    return a


def ols_slopes(sxx, syx):
    """The OLS slopes B of the indicators on the causes (m x k) that centre Gamma's rows."""
    return np.linalg.solve(sxx, syx.T).T


def gamma_feature_blocks(y, x, w, ymean, xmean, b_ols):
    """Block summaries of Gamma's features over these rows (`fixedx_feature_moments`):
    rows split over partitions give blocks that `gamma_from_blocks` merges exactly. y (n,
    m) and x (n, k) are read through their transposes, without a copy."""
    m, k = y.shape[1], x.shape[1]
    return gamma_feature_blocks_at(y.T, np.arange(m), np.zeros(m), np.ones(m), x.T,
                                   np.arange(k), None, w, ymean, xmean, b_ols)


def gamma_feature_blocks_at(Ay, ycols, yshift, ydiv, Ax, xcols, rows, w, ymean, xmean, b_ols):
    """`gamma_feature_blocks` of the indicators (Ay[ycols] - yshift) / ydiv and the causes
    Ax[xcols] (one variable per row of each) at the positions `rows` (None: every
    position), read in place: the fit passes the validated block and its pillar scores
    without gathering the MIMIC's rows."""
    use_w = w is not None
    w1 = np.ascontiguousarray(w, dtype=float) if use_w else np.ones(1)
    w2 = w1 * w1 if use_w else w1
    rows = np.zeros(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    return K.fixedx_feature_moments(
        read_only(np.asarray(Ay, dtype=float)), np.asarray(ycols, dtype=np.int64),
        np.asarray(yshift, dtype=float), np.asarray(ydiv, dtype=float),
        read_only(np.asarray(Ax, dtype=float)), np.asarray(xcols, dtype=np.int64),
        read_only(rows), w2, use_w, w1, np.asarray(ymean, dtype=float),
        np.asarray(xmean, dtype=float), b_ols)


def gamma_at(moments, Ay, ycols, yshift, ydiv, Ax, xcols, rows):
    """lavaan's fixed-x Gamma over the rows whose (unweighted) `moments` of (indicators,
    causes) are known, the rows read in place (`gamma_feature_blocks_at`)."""
    m = len(ycols)
    cov = moments.comoment / moments.n_obs
    b_ols = ols_slopes(cov[m:, m:], cov[:m, m:])
    blocks = gamma_feature_blocks_at(Ay, ycols, yshift, ydiv, Ax, xcols, rows, None,
                                     moments.mean[:m], moments.mean[m:], b_ols)
    return gamma_from_blocks([blocks], b_ols, moments.n_obs)


def gamma_from_blocks(blocks, b_ols, n, sum_w=None):
    """lavaan's fixed-x Gamma from the feature blocks of all rows, in row order (a list
    of `gamma_feature_blocks` results: centred pairwise merges, never raw sums); `sum_w`
    the sum of the normalised sampling weights when weighted."""
    bw, bm, bc, bs = (np.concatenate([b[i] for b in blocks]) for i in range(4))
    m, k = b_ols.shape
    sw2, m2, c2 = merge_blocks(bw, bm, bc)
    if sum_w is not None:
        centre = m2 - bs.sum(axis=0) / sum_w
        cov_f = (c2 + sw2 * np.outer(centre, centre)) / sum_w
    else:
        cov_f = c2 / n
    a = _feature_map(b_ols, m, k)
    return a @ cov_f @ a.T


def fixedx_gamma(prep):
    """lavaan's Gamma for fixed causes (p* x p*, vech by columns): the covariance of
    vech(d_i d_i' - dh_i dh_i') over rows with weights w_i^2 about the w-weighted mean,
    divided by sum w. One pass over the rows per fit (cached on `prep`); every
    tr(W Gamma) of the Yuan-Bentler test (the h1 first-order information) is then a small
    matrix product."""
    if prep.gamma is None:
        prep.gamma = _fixedx_gamma(prep.y, prep.x, prep.w, prep.ymean, prep.xmean,
                                   prep.sxx, prep.syx)
    return prep.gamma


def nacov_gamma(prep):
    """The Gamma lavaan keeps with its sample statistics (NACOV) and uses for robust.sem
    standard errors and the Satorra-Bentler test: with sampling weights lavaan 0.6 builds it
    from the unweighted rows (unweighted means and OLS fit of y on x), so the weights enter
    those SEs only through the estimates and Delta, W. Equal to `fixedx_gamma` without
    weights."""
    if prep.w is None:
        return fixedx_gamma(prep)
    if prep.nacov is None:
        m = prep.y.shape[1]
        mo = compute_moments(np.hstack([prep.y, prep.x]))
        mean = np.asarray(mo.mean, dtype=float)
        cov = np.asarray(mo.comoment, dtype=float) / mo.n_obs
        prep.nacov = _fixedx_gamma(prep.y, prep.x, None, mean[:m], mean[m:], cov[m:, m:],
                                   cov[:m, m:])
    return prep.nacov


def _fixedx_gamma(y, x, w, ymean, xmean, sxx, syx):
    b_ols = ols_slopes(sxx, syx)
    blocks = gamma_feature_blocks(y, x, w, ymean, xmean, b_ols)
    return gamma_from_blocks([blocks], b_ols, len(y), None if w is None else float(w.sum()))


def robust_sem_meat(prep, proj):
    """Delta' W Gamma W Delta with lavaan's fixed-x NACOV Gamma, proj = Delta' W (q x p*)."""
    return proj @ nacov_gamma(prep) @ proj.T


def nacov_trace(prep, v):
    """tr(W Gamma) with lavaan's NACOV Gamma and the normal-theory weight W at V (the
    Satorra-Bentler trace)."""
    return float(np.sum(nt_weight(v) * nacov_gamma(prep)))


def gamma_trace(prep, v):
    """tr(W Gamma) with lavaan's fixed-x Gamma and the normal-theory weight W at V."""
    return float(np.sum(nt_weight(v) * fixedx_gamma(prep)))


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
