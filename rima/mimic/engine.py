"""`fit`: estimation, inference, fit measures and the lavaan-style parameter table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize, special

from rima._kernels import mimic as K
from rima._kernels import rsm as RK
from rima.config import by_rows
from rima.errors import DataError, SpecError
from rima.mimic import estimate as E
from rima.mimic import fit_measures as FM
from rima.mimic import inference as I
from rima.mimic.results import MimicResult
from rima.mimic.syntax import as_model

if TYPE_CHECKING:
    from rima.mimic.syntax import MimicModel
    from rima.moments import Moments

_LOG2PI = np.log(2 * np.pi)


def _resolve(estimator, se, test, missing, weighted):
    """lavaan's choice of SE type, test and information for the given options."""
    est = E.check_options(estimator, se, missing, test)
    fiml = missing in ("fiml", "ml")
    if est == "MLR" or (weighted and est == "ML" and se in (None, "standard")):
        se_, test_, info = "robust.huber.white", "yuan.bentler.mplus", "observed"
    elif est == "MLM":
        if fiml:
            raise SpecError("estimator 'MLM' needs complete data (use 'MLR' with fiml)")
        se_, test_, info = "robust.sem", "satorra.bentler", "expected"
    else:
        se_ = se or "standard"
        if se_ == "robust":
            se_ = "robust.huber.white" if fiml else "robust.sem"
        test_ = "standard"
        info = "observed" if (fiml or se_ == "robust.huber.white") else "expected"
    if weighted and est == "ML" and se_ == "robust.sem":
        # lavaan 0.6 pairs sampling weights with the Yuan-Bentler test whatever the SEs
        test_ = "yuan.bentler.mplus"
    if test is not None:
        test_ = test
    if fiml and (se_ == "robust.sem" or test_ == "satorra.bentler"):
        raise SpecError("robust.sem / satorra.bentler need complete data; with missing='fiml'"
                        " use estimator='MLR'")
    return est, se_, test_, info


@by_rows(lambda model, data=None, *a, **k: 0 if data is None else len(data))
def fit(model: str | dict | MimicModel, data: pd.DataFrame | None = None,
        estimator: str = "ML", se: str | None = None, missing: str = "listwise",
        sampling_weights: str | np.ndarray | None = None,
        sample_cov: np.ndarray | pd.DataFrame | None = None,
        sample_mean: np.ndarray | None = None, sample_nobs: int | None = None,
        test: str | None = None, level: float = 0.95, sample_moments: Moments | None = None,
        gamma: np.ndarray | None = None) -> MimicResult:
    """Fit a one-latent MIMIC model by maximum likelihood, as lavaan's `cfa()` would.

    Parameters
    ----------
    model : str, dict or MimicModel
        lavaan syntax (``RCI =~ y1 + y2 + y3; RCI ~ x1 + x2``), a dict or a MimicModel.
    data : DataFrame, optional
        The model's columns, one row per household.
    estimator : {"ML", "MLM", "MLR"}, default "ML"
        "MLM": robust.sem SEs + Satorra-Bentler; "MLR": Huber-White + Yuan-Bentler.
    se : {"standard", "robust.sem", "robust.huber.white"}, optional
        Default the estimator's.
    missing : {"listwise", "fiml"}, default "listwise"
        Rows with a missing cause are excluded either way and counted in
        `MimicResult.excluded`; under FIML a row with every indicator missing is kept, as
        lavaan keeps it.
    sampling_weights : str or ndarray, optional
        Column name or array; then robust SEs, as lavaan: Huber-White by default;
        se="robust.sem" or estimator="MLM" as lavaan 0.6 computes them with weights,
        from the Gamma of the unweighted rows.
    sample_cov, sample_mean, sample_nobs : optional
        Instead of data, read like lavaan's sample.cov (divisor N - 1, rescaled to N).
    test : str, optional
        lavaan test name; default the estimator's.
    level : float, default 0.95
        Confidence level of the intervals.
    sample_moments : Moments, optional
        Instead of data, the `rima.moments.Moments` of the complete rows' observed columns
        in the model's order (indicators, then causes), e.g. merged over partitions.
    gamma : ndarray, optional
        With `sample_moments`, lavaan's fixed-x Gamma (`inference.gamma_from_blocks` over
        the same rows): the robust.sem SEs and the Satorra-Bentler test are then
        available too.

    Returns
    -------
    MimicResult
        Parameter table, fit measures, R², predictions.

    Raises
    ------
    SpecError
        Invalid syntax or settings, or an unidentified model.
    DataError
        Missing columns, too few rows, or robust SEs asked from summary statistics.
    ConvergenceError
        The optimiser did not converge.

    Examples
    --------
    >>> df = rima.simulate(n_households=400, seed=3).households
    >>> res = rima.mimic.fit("R =~ fcs + hdds + log_food_exp_ae; R ~ herd_su + training",
    ...                      df)
    >>> res.params.columns[:4].tolist()
    ['lhs', 'op', 'rhs', 'est']
    >>> res.converged
    True
    """
    mm = as_model(model)
    weighted = sampling_weights is not None
    est, se_, test_, info_kind = _resolve(estimator, se, test, missing, weighted)
    fiml_req = missing in ("fiml", "ml")
    with_gamma = gamma is not None and se_ in ("standard", "robust.sem") and test_ in (
        "standard", "satorra.bentler")
    if data is None and (se_ != "standard" or test_ != "standard") and not with_gamma:
        raise DataError(f"se={se_!r} / test={test_!r} need the data rows, not summary "
                        "statistics")
    if sample_moments is not None:
        if data is not None or fiml_req:
            raise DataError("sample_moments replaces complete data: give no data and "
                            "missing='listwise'")
        prep = E.prepare_from_moments(mm, sample_moments)
    else:
        prep = E.prepare(mm, data, "fiml" if fiml_req else "listwise", sampling_weights,
                         sample_cov, sample_mean, sample_nobs)
    if gamma is not None:
        prep.gamma = np.asarray(gamma, dtype=float)
    layout = E.make_layout(mm)
    theta, fval, iters = E.optimise(mm, layout, prep)
    improper = E.improper_messages(mm, layout, theta)
    E.warn_improper(improper)
    m, k = len(mm.indicators), len(mm.causes)
    n = prep.n
    q = layout.n_struct
    meanstructure = fiml_req
    n_par = q + (m if meanstructure else 0)
    lam, gam, bmat, psi, th, nu, pit, om = I.model_matrices(theta, layout)
    pi = pit[:, 1:]
    sxx = prep.sxx

    # ---------------------------------------------------------------- information
    mxx = np.zeros((k + 1, k + 1))
    mxx[0, 0] = 1.0
    mxx[1:, 1:] = sxx
    if info_kind == "expected" and not prep.fiml:
        dpi, dom = K.derivatives(theta, *layout.args())
        info = K.expected_information(om, mxx, dpi, dom)[:n_par, :n_par]
    else:
        info = E.observed_information(theta, layout, prep)[:n_par, :n_par]
    meat = None
    if se_ == "standard":
        vcov = np.linalg.inv(info) / n
    elif se_ == "robust.sem":
        sig = I.joint_sigma(pi, om, sxx)
        w_hat = I.nt_weight(sig)
        delta = I.joint_delta(theta, layout, pi, sxx, q)
        b0 = I.robust_sem_meat(prep, delta.T @ w_hat)
        vcov = I.sandwich(info, b0, n)
        if test_ == "yuan.bentler.mplus":
            # the h0 trace of the test: casewise score meat against the expected information
            dpi, dom = K.derivatives(theta, *layout.args())
            meat = I.score_meat(prep, pit, om, dpi[:n_par], dom[:n_par])
    else:
        dpi, dom = K.derivatives(theta, *layout.args())
        meat = I.score_meat(prep, pit, om, dpi[:n_par], dom[:n_par])
        vcov = I.sandwich(info, meat, n)

    # ---------------------------------------------------------------- fit measures
    fm = _fit_measures(mm, layout, prep, theta, fval, pi, om, n_par, test_, info, meat,
                       meanstructure)

    # ---------------------------------------------------------------- parameter table
    params = _param_table(mm, layout, prep, theta, vcov, lam, gam, bmat, psi, th, pi, om,
                          meanstructure, level)
    sig_yy = pi @ sxx @ pi.T + om
    var_eta = gam @ sxx @ gam + psi
    r2 = {y: 1.0 - th[j, j] / sig_yy[j, j] for j, y in enumerate(mm.indicators)}
    r2[mm.latent] = 1.0 - psi / var_eta
    # implied indicator means at the training means of the causes
    ymean = prep.ymean + nu
    matrices = {"lam": lam, "gam": gam, "b": bmat, "psi": psi, "theta": th}
    return MimicResult(model=mm, params=params, fit_measures=fm, r2=r2, converged=True,
                       iterations=iters, nobs=n, norig=prep.n_orig, excluded=prep.excluded,
                       improper=improper, estimator="MLR" if est == "MLR" else est, se=se_,
                       test=test_, missing="fiml" if fiml_req else "listwise",
                       matrices=matrices, means=(ymean, prep.xmean.copy()), vcov=vcov,
                       used_rows=prep.used)


def _logdet(a):
    sign, ld = np.linalg.slogdet(a)
    return ld if sign > 0 else np.nan


def _fit_measures(mm, layout, prep, theta, fval, pi, om, n_par, test_, info, meat,
                  meanstructure):
    m, k = len(mm.indicators), len(mm.causes)
    n = prep.n
    sxx = prep.sxx
    q = layout.n_struct
    df = mm.degrees_of_freedom()
    bdf = m * (m + 1) // 2 + m * k - m
    # lavaan's logl with fixed.x is the likelihood of y given x (no marginal part for x)
    x_part = 0.0
    s = sig = None
    if not prep.fiml:
        s = np.block([[prep.syy, prep.syx], [prep.syx.T, sxx]])
        syx_ols = prep.syx @ np.linalg.inv(sxx)
        s_cond = prep.syy - syx_ols @ prep.syx.T
        x2 = n * (fval - _logdet(s_cond) - m)
        logl = -0.5 * n * (m * _LOG2PI + fval) + x_part
        logl1 = -0.5 * n * (m * _LOG2PI + _logdet(s_cond) + m)
        bx2 = n * (np.sum(np.log(np.diag(prep.syy))) + _logdet(sxx) - _logdet(s))
        sig = I.joint_sigma(pi, om, sxx)
    else:
        nobs_y = float((prep.masks.sum(axis=1) * prep.counts).sum())
        logl = -0.5 * nobs_y * _LOG2PI - 0.5 * n * fval + x_part
        sat_logl, pit1, om1 = _saturated_fiml_logl(prep, m, k)
        logl1 = sat_logl - 0.5 * nobs_y * _LOG2PI + x_part
        x2 = 2.0 * (logl1 - logl)
        lb = 0.0
        ww = np.ones(n) if prep.w is None else prep.w
        for j in range(m):
            o = ~np.isnan(prep.y[:, j])
            mu = np.average(prep.y[o, j], weights=ww[o])
            v = np.average((prep.y[o, j] - mu) ** 2, weights=ww[o])
            nj = ww[o].sum()
            lb += -0.5 * nj * (_LOG2PI + np.log(v) + 1.0)
        bx2 = 2.0 * (logl1 - (lb + x_part))
    means = None
    if prep.fiml:
        # lavaan's residuals under FIML are taken against the unrestricted (h1) ML moments;
        # with complete causes these are the causes' sample moments and the saturated
        # regression of y on x.
        s = I.joint_sigma(pit1[:, 1:], om1, sxx)
        sig = I.joint_sigma(pi, om, sxx)
        nu = theta[layout.nu_idx]
        means = (np.concatenate([prep.ymean + pit1[:, 0], prep.xmean]),
                 np.concatenate([prep.ymean + nu, prep.xmean]))
    scaling = bscaling = traces = None
    if test_ == "satorra.bentler":
        scaling, bscaling = _sb_factors(prep, theta, layout, pi, om, q, df, bdf)
    elif test_ == "yuan.bentler.mplus" and prep.fiml:
        scaling, bscaling, traces = _yb_factors_fiml(prep, info, meat, df, bdf, m, k,
                                                     pit1, om1)
    elif test_ == "yuan.bentler.mplus":
        scaling, bscaling, traces = _yb_factors(prep, info, meat, df, bdf)
    gfi = _gfi_inputs(prep, s, sig, means, m, k)
    robust = None
    if prep.fiml:
        pit_hat = I.model_matrices(theta, layout)[6]
        version = "V3" if scaling is not None else "V6"
        xx3, _, c3, xx3_b, c3_b = _fiml_corrected(prep, theta, layout, pit_hat, om, pit1,
                                                  om1, m, k, n_par, version)
        robust = (xx3, c3, xx3_b, c3_b)
    return FM.assemble(npar=n_par, n=n, x2=x2, df=df, bx2=bx2, bdf=bdf, logl=logl,
                       logl1=logl1, scaling=scaling, bscaling=bscaling, s=s, sig=sig, m=m,
                       means=means, trace_h1=None if traces is None else traces[0],
                       trace_h0=None if traces is None else traces[1], robust=robust,
                       gfi=gfi)


def _gfi_inputs(prep, s, sig, means, m, k):
    """lavaan's WLS.obs / WLS.est vectors and WLS.V weight for the GFI family."""
    if s is None:
        return None
    p = m + k
    pairs = I.vech_pairs(p)
    keep = np.array([j < m for _, j in pairs], dtype=float)
    if means is None:
        w = I.nt_weight(sig) * np.outer(keep, keep)
        return (np.array([s[i, j] for i, j in pairs]),
                np.array([sig[i, j] for i, j in pairs]), w)
    # FIML: the expected information summed over the missingness patterns
    wm = np.zeros((p, p))
    wc = np.zeros((len(pairs), len(pairs)))
    for mk, cnt in zip(prep.masks, prep.counts):
        o = np.concatenate([np.flatnonzero(mk), np.arange(m, p)])
        kinv = np.zeros((p, p))
        kinv[np.ix_(o, o)] = np.linalg.inv(sig[np.ix_(o, o)])
        wm += cnt * kinv
        wc += cnt * _vech_weight(kinv, pairs)
    tot = prep.counts.sum()
    wm[m:, :] = 0.0
    wm[:, m:] = 0.0
    wc *= np.outer(keep, keep)
    w = np.zeros((p + len(pairs), p + len(pairs)))
    w[:p, :p] = wm / tot
    w[p:, p:] = wc / tot
    if prep.w is None:
        # lavaan's sample statistics under FIML without weights: available-case means
        # and pairwise-complete covariances (divisor n_pair - 1) rescaled by (N - 1) / N
        z = np.hstack([prep.y, prep.x])
        mean_o = np.nanmean(z, axis=0)
        cov_o = pd.DataFrame(z).cov().to_numpy() * (prep.n - 1) / prep.n
    else:
        # with sampling weights they are the EM (h1) moments
        mean_o, cov_o = means[0], s
    obs = np.concatenate([mean_o, [cov_o[i, j] for i, j in pairs]])
    est = np.concatenate([means[1], [sig[i, j] for i, j in pairs]])
    return obs, est, w


def _vech_weight(kinv, pairs):
    """1/2 D' (K kron K) D over the given vech pairs, for a (possibly embedded) inverse K."""
    a = np.array([i for i, _ in pairs])
    b = np.array([j for _, j in pairs])
    sym = kinv[np.ix_(a, a)] * kinv[np.ix_(b, b)] + kinv[np.ix_(a, b)] * kinv[np.ix_(b, a)]
    # an off-diagonal covariance occurs twice in Sigma, a variance once
    mult = np.where(a == b, 1.0, 2.0)
    return 0.25 * sym * np.outer(mult, mult)


def _sb_factors(prep, theta, layout, pi, om, q, df, bdf):
    """Satorra-Bentler: tr(U Gamma) = tr(W Gamma) - tr(A^-1 Delta' W Gamma W Delta)."""
    m = pi.shape[0]
    sxx = prep.sxx
    sig = I.joint_sigma(pi, om, sxx)
    w = I.nt_weight(sig)
    delta = I.joint_delta(theta, layout, pi, sxx, q)
    a0 = delta.T @ w @ delta
    b0 = I.robust_sem_meat(prep, delta.T @ w)
    c = (I.nacov_trace(prep, sig) - np.trace(np.linalg.solve(a0, b0))) / df
    # baseline: indicators independent of each other and of the causes
    p = sig.shape[0]
    sig_b = np.zeros_like(sig)
    sig_b[m:, m:] = sxx
    sig_b[np.arange(m), np.arange(m)] = np.diag(prep.syy)
    wb = I.nt_weight(sig_b)
    idx = I.vech_pairs(p)
    db = np.zeros((len(idx), m))
    for j in range(m):
        db[idx.index((j, j)), j] = 1.0
    ab = db.T @ wb @ db
    bb = I.robust_sem_meat(prep, db.T @ wb)
    cb = (I.nacov_trace(prep, sig_b) - np.trace(np.linalg.solve(ab, bb))) / bdf
    return c, cb


def _yb_factors(prep, info, meat, df, bdf):
    """Yuan-Bentler (lavaan's "yuan.bentler.mplus"): h1 trace with W at the sample S."""
    s = np.block([[prep.syy, prep.syx], [prep.syx.T, prep.sxx]])
    tr_h1 = I.gamma_trace(prep, s)
    tr_h0 = np.trace(np.linalg.solve(info, meat))
    c = (tr_h1 - tr_h0) / df
    # baseline: independent normal indicators; observed information of a variance at its
    # MLE is 1 / (2 v^2), its score (e^2 - v) / (2 v^2).
    ww = np.ones(prep.n) if prep.w is None else prep.w
    e = prep.y - prep.ymean
    v = np.diag(prep.syy)
    tr_b = float(np.sum((ww ** 2) @ (e ** 2 - v) ** 2 / prep.n / (2 * v ** 2)))
    return c, (tr_h1 - tr_b) / bdf, (tr_h1, tr_h0)


def _saturated_fiml_logl(prep, m, k):
    """Unrestricted FIML log-likelihood of y given x~ (constants excluded), by L-BFGS on
    the Cholesky factor of Omega, polished with Newton steps."""
    kt = k + 1
    tot = prep.cross.sum(axis=0)
    # complete-case-like start from pooled cross-products
    myy = tot[:m, :m] / prep.counts.sum()
    myx = tot[:m, m:] / prep.counts.sum()
    mxx = tot[m:, m:] / prep.counts.sum()
    pit0 = np.linalg.solve(mxx, myx.T).T
    om0 = myy - pit0 @ mxx @ pit0.T + 0.1 * np.eye(m)
    il = np.tril_indices(m)
    l0 = np.linalg.cholesky(om0)[il]
    n = prep.counts.sum()

    def unpack(v):
        pit = v[:m * kt].reshape(m, kt)
        low = np.zeros((m, m))
        low[il] = v[m * kt:]
        return pit, low

    def fg(v):
        pit, low = unpack(v)
        om = low @ low.T
        val, g_pi, g_om = K.pattern_objective(pit, om, prep.masks, prep.counts, prep.cross,
                                              True)
        if not np.isfinite(val):
            return 1e300, np.zeros_like(v)
        g_low = 2.0 * g_om @ low
        return val / n, np.concatenate([g_pi.ravel(), g_low[il]]) / n

    v0 = np.concatenate([pit0.ravel(), l0])
    res = optimize.minimize(fg, v0, jac=True, method="L-BFGS-B",
                            options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15})
    v = res.x
    for _ in range(5):
        f0, g0 = fg(v)
        h = np.empty((len(v), len(v)))
        for a in range(len(v)):
            step = 1e-6 * max(1.0, abs(v[a]))
            vp, vm = v.copy(), v.copy()
            vp[a] += step
            vm[a] -= step
            h[:, a] = (fg(vp)[1] - fg(vm)[1]) / (2 * step)
        h = 0.5 * (h + h.T)
        try:
            cand = v - np.linalg.solve(h, g0)
        except np.linalg.LinAlgError:
            break
        if fg(cand)[0] <= f0:
            v = cand
        if np.max(np.abs(g0)) < 1e-12:
            break
    pit, low = unpack(v)
    return -0.5 * n * fg(v)[0], pit, low @ low.T


def _linear_info_meat(prep, pit, om, dpi, dom):
    """Observed information (half the Hessian of the objective / N) and score meat of a
    model whose parameters enter Pi~ and Omega linearly along dpi / dom."""
    n = prep.counts.sum()
    q = dpi.shape[0]

    def grad(phi):
        p_ = pit + np.tensordot(phi, dpi, axes=1)
        o_ = om + np.tensordot(phi, dom, axes=1)
        _, g_pi, g_om = K.pattern_objective(p_, o_, prep.masks, prep.counts, prep.cross, True)
        return (np.tensordot(dpi, g_pi, axes=([1, 2], [0, 1]))
                + np.tensordot(dom, g_om, axes=([1, 2], [0, 1]))) / n

    h = np.empty((q, q))
    for a in range(q):
        e = np.zeros(q)
        e[a] = 1e-5
        h[:, a] = (grad(e) - grad(-e)) / 2e-5
    info = 0.25 * (h + h.T)
    meat = I.score_meat(prep, pit, om, dpi, dom)
    return info, meat


def _unit_derivatives(m, kt, means, slopes, cov_pairs):
    """Derivative arrays for parameters that are single entries of Pi~ / Omega."""
    q = len(means) + len(slopes) + len(cov_pairs)
    dpi = np.zeros((q, m, kt))
    dom = np.zeros((q, m, m))
    a = 0
    for j in means:
        dpi[a, j, 0] = 1.0
        a += 1
    for j, h in slopes:
        dpi[a, j, h] = 1.0
        a += 1
    for i, j in cov_pairs:
        dom[a, i, j] = dom[a, j, i] = 1.0
        a += 1
    return dpi, dom


def _yb_factors_fiml(prep, info, meat, df, bdf, m, k, pit1, om1):
    kt = k + 1
    d1 = _unit_derivatives(m, kt, range(m), [(j, h) for j in range(m) for h in range(1, kt)],
                           [(i, j) for j in range(m) for i in range(j, m)])
    a1, b1 = _linear_info_meat(prep, pit1, om1, *d1)
    tr_h1 = np.trace(np.linalg.solve(a1, b1))
    tr_h0 = np.trace(np.linalg.solve(info, meat))
    c = (tr_h1 - tr_h0) / df
    mu, v = _fiml_baseline(prep, m, k)
    pit_b = np.zeros((m, kt))
    pit_b[:, 0] = mu
    db = _unit_derivatives(m, kt, range(m), [], [(j, j) for j in range(m)])
    ab, bb = _linear_info_meat(prep, pit_b, np.diag(v), *db)
    cb = (tr_h1 - np.trace(np.linalg.solve(ab, bb))) / bdf
    return c, cb, (tr_h1, tr_h0)


def _fiml_baseline(prep, m, k):
    """FIML estimates of the baseline model (each indicator on its own): available-case
    means and variances, in the centred coordinates of prep."""
    ww = np.ones(prep.n) if prep.w is None else prep.w
    mu = np.empty(m)
    v = np.empty(m)
    for j in range(m):
        o = ~np.isnan(prep.y[:, j])
        mu[j] = np.average(prep.y[o, j] - prep.ymean[j], weights=ww[o])
        v[j] = np.average((prep.y[o, j] - prep.ymean[j] - mu[j]) ** 2, weights=ww[o])
    return mu, v


def _moment_pairs(m, k):
    """The unrestricted moments lavaan keeps free with fixed causes: indicator means, then
    the vech (lower triangle by columns) covariances that involve an indicator."""
    return [(i, j) for i, j in I.vech_pairs(m + k) if j < m]


def _joint_discrepancy(mu, sig, mu_t, s_t):
    """Normal-theory ML discrepancy F(mu, Sigma; mu~, S~) with means."""
    si = np.linalg.inv(sig)
    d = mu_t - mu
    return (_logdet(sig) - _logdet(s_t) + np.trace(s_t @ si) - sig.shape[0]
            + d @ si @ d)


def _fiml_corrected(prep, theta, layout, pit, om, pit1, om1, m, k, n_par, version):
    """The FIML-corrected statistics lavaan uses for its robust CFI/TLI/RMSEA under missing
    data (Zhang & Savalei's FIML-C): the model's and the baseline's ML statistic against the
    EM (h1) moments, each with a correction factor built from the h1 observed (Wm) and
    first-order (Jm) information under FIML and the complete-data information at the h1
    moments (Wc). version "V3" when a scaled test is reported, "V6" otherwise.

    All h1 quantities are in the moment parametrisation with the causes' moments fixed:
    phi = (indicator means, covariances involving an indicator). Wm and Jm come from the
    regression form of the likelihood through the Jacobian d(Pi~, Omega)/d phi at the h1
    point (exact there, since the h1 gradient vanishes)."""
    kt = k + 1
    pi = pit[:, 1:]
    sxx = prep.sxx
    sxx_inv = np.linalg.inv(sxx)
    pi1 = pit1[:, 1:]
    pairs = _moment_pairs(m, k)
    nphi = m + len(pairs)
    # Jacobian of (Pi~, Omega) with respect to phi at the h1 point (causes centred: xbar = 0)
    jpi = np.zeros((nphi, m, kt))
    jom = np.zeros((nphi, m, m))
    for j in range(m):
        jpi[j, j, 0] = 1.0
    for c, (i, j) in enumerate(pairs):
        a = m + c
        if i < m:
            jom[a, i, j] = jom[a, j, i] = 1.0
        else:
            # sigma_{y_j, x_h}: Pi = Syx Sxx^-1, Omega = Syy - Pi Sxx Pi'
            h = i - m
            e = np.zeros((m, k))
            e[j, h] = 1.0
            dpi = e @ sxx_inv
            jpi[a, :, 1:] = dpi
            jom[a] = -(dpi @ sxx @ pi1.T + pi1 @ sxx @ dpi.T)
    wm, jm = _linear_info_meat(prep, pit1, om1, jpi, jom)
    wmi = np.linalg.inv(wm)
    # complete-data normal-theory information at the h1 moments, causes' moments fixed
    s_t = I.joint_sigma(pi1, om1, sxx)
    st_inv = np.linalg.inv(s_t)
    allpairs = I.vech_pairs(m + k)
    sel = [allpairs.index(pq) for pq in pairs]
    wc = np.zeros((nphi, nphi))
    wc[:m, :m] = st_inv[:m, :m]
    wc[m:, m:] = I.nt_weight(s_t)[np.ix_(sel, sel)]
    mu_t = np.concatenate([pit1[:, 0], np.zeros(k)])

    # model Jacobian d phi / d theta at the estimates
    dpi_m, dom_m = K.derivatives(theta, *layout.args())
    delta = np.zeros((nphi, n_par))
    for a in range(n_par):
        dp = dpi_m[a][:, 1:]
        ds = np.zeros((m + k, m + k))
        ds[:m, m:] = dp @ sxx
        ds[m:, :m] = ds[:m, m:].T
        ds[:m, :m] = dp @ sxx @ pi.T + pi @ sxx @ dp.T + dom_m[a]
        delta[:m, a] = dpi_m[a][:, 0]
        delta[m:, a] = [ds[i, j] for i, j in pairs]
    mu_hat = np.concatenate([pit[:, 0], np.zeros(k)])
    xx3 = prep.n * _joint_discrepancy(mu_hat, I.joint_sigma(pi, om, sxx), mu_t, s_t)

    gamma = wmi @ jm @ wmi if version == "V3" else None

    def k_fimlc(dl):
        # lavaan takes the model information here as Delta' Wm Delta ("h1" observed info)
        u = wm - wm @ dl @ np.linalg.solve(dl.T @ wm @ dl, dl.T @ wm)
        if version == "V3":
            return np.trace(u @ wmi @ wc @ wmi @ u @ gamma)
        return np.trace(wc @ wmi @ u @ wmi)

    df = nphi - n_par
    c3 = k_fimlc(delta) / df
    # baseline: indicator means and variances free, all covariances zero
    mu_b, v_b = _fiml_baseline(prep, m, k)
    delta_b = np.zeros((nphi, 2 * m))
    for j in range(m):
        delta_b[j, j] = 1.0
        delta_b[m + pairs.index((j, j)), m + j] = 1.0
    sig_b = np.zeros((m + k, m + k))
    sig_b[m:, m:] = sxx
    sig_b[np.arange(m), np.arange(m)] = v_b
    xx3_b = prep.n * _joint_discrepancy(np.concatenate([mu_b, np.zeros(k)]), sig_b, mu_t,
                                        s_t)
    bdf = nphi - 2 * m
    c3_b = k_fimlc(delta_b) / bdf
    return xx3, df, c3, xx3_b, c3_b


def _param_table(mm, layout, prep, theta, vcov, lam, gam, bmat, psi, th, pi, om,
                 meanstructure, level):
    _m, k = len(mm.indicators), len(mm.causes)
    lv = mm.latent
    sxx = prep.sxx
    sd_x = np.sqrt(np.diag(sxx))
    var_eta = gam @ sxx @ gam + psi
    sd_eta = np.sqrt(var_eta)
    sig_yy = pi @ sxx @ pi.T + om
    sd_y = np.sqrt(np.diag(sig_yy))
    se_all = np.sqrt(np.clip(np.diag(vcov), 0, None))
    free = {row: a for a, row in enumerate(layout.rows) if a < len(se_all)}
    rows = []

    def add(lhs, op, rhs, est, std_lv, std_all):
        a = free.get((lhs, op, rhs))
        se = se_all[a] if a is not None else 0.0
        rows.append((lhs, op, rhs, est, se, std_lv, std_all, a is not None))

    for j, y in enumerate(mm.indicators):
        add(lv, "=~", y, lam[j], lam[j] * sd_eta, lam[j] * sd_eta / sd_y[j])
    # the RSM's standardised coefficients (rima._kernels.rsm, as the bootstrap computes them)
    gam_all = RK.std_coefficients(np.array(gam, dtype=np.float64), float(psi),
                               np.array(sxx, dtype=np.float64))
    for h, x in enumerate(mm.causes):
        add(lv, "~", x, gam[h], gam[h] / sd_eta, gam_all[h])
    for y, x in mm.direct_effects:
        j, h = mm.indicators.index(y), mm.causes.index(x)
        add(y, "~", x, bmat[j, h], bmat[j, h], bmat[j, h] * sd_x[h] / sd_y[j])
    for a_, b_ in mm.residual_covariances:
        i, j = mm.indicators.index(a_), mm.indicators.index(b_)
        std_all = th[i, j] / np.sqrt(th[i, i] * th[j, j]) if th[i, i] * th[j, j] > 0 else np.nan
        add(a_, "~~", b_, th[i, j], th[i, j], std_all)
    for j, y in enumerate(mm.indicators):
        add(y, "~~", y, th[j, j], th[j, j], th[j, j] / sig_yy[j, j])
    add(lv, "~~", lv, psi, psi / var_eta, psi / var_eta)
    for h in range(k):
        for g in range(h, k):
            v = sxx[h, g]
            add(mm.causes[h], "~~", mm.causes[g], v, v, v / (sd_x[h] * sd_x[g]))
    if meanstructure:
        # Internally the intercepts are those of the centred causes; lavaan's are at x = 0:
        # nu = ybar_c + nu_c - Pi xbar, with its standard error by the delta method.
        nu_true = prep.ymean + theta[layout.nu_idx] - pi @ prep.xmean
        dpi, _ = K.derivatives(theta, *layout.args())
        jac = dpi[:vcov.shape[0], :, 0].T - np.einsum("ajh,h->ja", dpi[:vcov.shape[0], :, 1:],
                                                       prep.xmean)
        se_nu = np.sqrt(np.clip(np.einsum("ja,ab,jb->j", jac, vcov, jac), 0, None))
        for j, y in enumerate(mm.indicators):
            se_all[layout.nu_idx[j]] = se_nu[j]
            add(y, "~1", "", nu_true[j], nu_true[j], nu_true[j] / sd_y[j])
        for h, x in enumerate(mm.causes):
            add(x, "~1", "", prep.xmean[h], prep.xmean[h], prep.xmean[h] / sd_x[h])
        add(lv, "~1", "", 0.0, 0.0, 0.0)
    tab = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est", "se", "std.lv", "std.all",
                                      "free"])
    zcrit = special.ndtri(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(tab["free"], tab["est"] / tab["se"], np.nan)
    tab["z"] = z
    tab["pvalue"] = 2 * special.ndtr(-np.abs(z))
    tab["ci.lower"] = tab["est"] - zcrit * tab["se"]
    tab["ci.upper"] = tab["est"] + zcrit * tab["se"]
    cols = ["lhs", "op", "rhs", "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv",
            "std.all"]
    return tab[cols].reset_index(drop=True)
