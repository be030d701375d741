"""Maximum-likelihood estimation of the MIMIC model (lavaan conventions).

Conventions reproduced from lavaan (`cfa()` / `sem()` defaults): covariance divisor N,
causes fixed at their sample moments (`fixed.x = TRUE`), sampling weights normalised to sum
to N, rows with a missing cause excluded (and counted), FIML over indicator missingness.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from rima._kernels import mimic as K
from rima.errors import ConvergenceError, DataError, ImproperSolutionWarning, SpecError
from rima.mimic.syntax import MimicModel
from rima.moments import compute_moments, moments_if_complete
from rima.row_status import missing_reason


@dataclass
class Layout:
    """Where each free parameter sits in the model matrices, and its lavaan row."""

    lam_idx: np.ndarray
    lam_fix: np.ndarray
    gam_idx: np.ndarray
    b_idx: np.ndarray
    psi_idx: int
    th_idx: np.ndarray
    nu_idx: np.ndarray
    rows: list          # (lhs, op, rhs) of each free parameter, lavaan order
    n_struct: int       # free parameters other than the intercepts

    def args(self):
        return (self.lam_idx, self.lam_fix, self.gam_idx, self.b_idx, self.psi_idx,
                self.th_idx, self.nu_idx)


def make_layout(model: MimicModel) -> Layout:
    m, k = len(model.indicators), len(model.causes)
    lv = model.latent
    rows = []
    lam_idx = np.full(m, -1, dtype=np.int64)
    lam_fix = np.zeros(m)
    for j, (y, val) in enumerate(model.loading_values().items()):
        if val is None:
            lam_idx[j] = len(rows)
            rows.append((lv, "=~", y))
        else:
            lam_fix[j] = val
    gam_idx = np.full(k, -1, dtype=np.int64)
    for h, x in enumerate(model.causes):
        gam_idx[h] = len(rows)
        rows.append((lv, "~", x))
    b_idx = np.full((m, k), -1, dtype=np.int64)
    for y, x in model.direct_effects:
        b_idx[model.indicators.index(y), model.causes.index(x)] = len(rows)
        rows.append((y, "~", x))
    th_idx = np.full((m, m), -1, dtype=np.int64)
    for a, b in model.residual_covariances:
        i, j = model.indicators.index(a), model.indicators.index(b)
        th_idx[i, j] = th_idx[j, i] = len(rows)
        rows.append((a, "~~", b))
    for j, y in enumerate(model.indicators):
        th_idx[j, j] = len(rows)
        rows.append((y, "~~", y))
    psi_idx = len(rows)
    rows.append((lv, "~~", lv))
    n_struct = len(rows)
    nu_idx = np.arange(n_struct, n_struct + m, dtype=np.int64)
    for y in model.indicators:
        rows.append((y, "~1", ""))
    return Layout(lam_idx, lam_fix, gam_idx, b_idx, psi_idx, th_idx, nu_idx, rows, n_struct)


# ----------------------------------------------------------------------------- data

def _moments(z, w):
    """Weighted means and covariance (divisor: sum of weights = n) of complete rows."""
    mo = compute_moments(z, weights=w)
    return np.asarray(mo.mean, dtype=float), np.asarray(mo.comoment, dtype=float) / mo.n_obs


@dataclass
class Prepared:
    y: np.ndarray | None          # (n, m) used rows (NaN allowed under FIML)
    x: np.ndarray | None          # (n, k)
    w: np.ndarray | None          # normalised weights (sum n) or None
    n: int
    n_orig: int
    excluded: dict                # reason -> count
    used: np.ndarray | None       # boolean mask over the input rows
    ymean: np.ndarray
    xmean: np.ndarray
    syy: np.ndarray
    syx: np.ndarray
    sxx: np.ndarray
    masks: np.ndarray
    counts: np.ndarray
    cross: np.ndarray
    fiml: bool
    pattern: np.ndarray | None = None   # pattern index of each used row
    gamma: np.ndarray | None = None     # fixed-x Gamma, filled on first use (inference)
    nacov: np.ndarray | None = None     # its unweighted twin with sampling weights (robust.sem)


def columns_of(data, names, what):
    """The named columns as one float64 array (a single copy), with clear errors."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise DataError("data must be a pandas DataFrame with the model's columns")
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise DataError(f"{what} column(s) not in the data: {', '.join(missing)}")
    for c in names:
        col = data[c]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise DataError(f"column {c!r} is not numeric (dtype {col.dtype})")
    # no contiguous copy: the kernels take either layout, and a DataFrame whose columns
    # share one float block hands its values over without copying
    return data[names].to_numpy(dtype=float, na_value=np.nan)


def prepare(model: MimicModel, data, missing, sampling_weights, sample_cov, sample_mean,
            sample_nobs) -> Prepared:
    m, k = len(model.indicators), len(model.causes)
    if data is None:
        return _prepare_moments(model, sample_cov, sample_mean, sample_nobs, sampling_weights)
    z = columns_of(data, model.observed, "model")
    y, x = z[:, :m], z[:, m:]
    n_orig = len(y)
    w = None
    if sampling_weights is not None:
        if isinstance(sampling_weights, str):
            w = columns_of(data, [sampling_weights], "sampling weight")[:, 0]
            wname = sampling_weights
        else:
            w = np.asarray(sampling_weights, dtype=float).ravel()
            wname = "sampling_weights"
            if len(w) != n_orig:
                raise DataError(f"sampling_weights has {len(w)} values for {n_orig} rows")
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            raise DataError(f"{wname}: {bad.sum()} missing, negative or infinite weight(s) "
                            f"(first at row {np.argmax(bad) + 1})")
        if w.sum() <= 0:
            raise DataError(f"{wname}: the sampling weights sum to zero")
    fiml = missing == "fiml"
    if n_orig >= m + k + 1:
        # the common case, every row complete, needs this one pass over the data
        wn = None if w is None else w * (n_orig / w.sum())
        mo = moments_if_complete(z, wn)
        if mo is not None:
            return _complete_prepared(y, x, wn, n_orig, n_orig, {}, np.ones(n_orig, bool),
                                      mo.mean, mo.comoment / n_orig, m, fiml)
    bad = np.isinf(z)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"infinite value in column {model.observed[c]!r} (row {r + 1})")
    excluded = {}
    used = _used_rows(model, y, x, fiml, excluded)
    if not used.all():
        z = z[used]
        y, x = z[:, :m], z[:, m:]
    n = len(y)
    if w is not None:
        w = w[used]
        if w.sum() <= 0:
            raise DataError("sampling weights of the used rows sum to zero")
        w = w * (n / w.sum())
    if n < m + k + 1:
        raise DataError(f"only {n} usable row(s) for {m + k} variables")
    if not fiml or not np.isnan(y).any():
        mean, cov = _moments(z, w)
        return _complete_prepared(y, x, w, n, n_orig, excluded, used, mean, cov, m, fiml)
    return _fiml_prepared(y, x, w, n, n_orig, excluded, used, m, k)


def prepare_from_moments(model: MimicModel, moments) -> Prepared:
    """What `prepare` builds from complete unweighted rows, from their moments instead
    (same arithmetic: the mean and the co-moment over n)."""
    m, k = len(model.indicators), len(model.causes)
    n = int(moments.n_obs)
    if moments.weighted:
        raise DataError("sample_moments must be unweighted (sampling weights need the rows)")
    if moments.mean.shape[0] != m + k:
        raise DataError(f"sample_moments has {moments.mean.shape[0]} columns for the model's "
                        f"{m + k} ({', '.join(model.observed)})")
    if n < m + k + 1:
        raise DataError(f"only {n} usable row(s) for {m + k} variables")
    return _complete_prepared(None, None, None, n, n, {}, None, moments.mean,
                              moments.comoment / n, m, False)


def _used_rows(model, y, x, fiml, excluded):
    """Rows entering the fit; fills `excluded` with reason -> count (a row missing several
    values is counted under each of them)."""
    m, k = y.shape[1], x.shape[1]
    xmiss = np.isnan(x).any(axis=1)
    for c in range(k):
        cnt = int(np.isnan(x[:, c]).sum())
        if cnt:
            excluded[missing_reason([model.causes[c]])] = cnt
    ymiss = np.isnan(y)
    if fiml:
        # as lavaan (fixed.x): a row with every indicator missing adds nothing to the
        # likelihood of y given x but is an observation: it counts in N and in the causes'
        # moments, which move std.all, R² and every N-dependent fit measure
        return ~xmiss
    for c in range(m):
        cnt = int((ymiss[:, c] & ~xmiss).sum())
        if cnt:
            excluded[missing_reason([model.indicators[c]])] = cnt
    return ~xmiss & ~ymiss.any(axis=1)


def _complete_prepared(y, x, w, n, n_orig, excluded, used, mean, cov, m, fiml):
    cross = K.complete_cross(np.ascontiguousarray(cov, dtype=float), m, float(n))
    return Prepared(y, x, w, n, n_orig, excluded, used, mean[:m], mean[m:], cov[:m, :m],
                    cov[:m, m:], cov[m:, m:], np.ones((1, m), dtype=np.bool_),
                    np.array([float(n)]), cross, fiml,
                    None if y is None else np.zeros(len(y), dtype=np.int64))


def _fiml_prepared(y, x, w, n, n_orig, excluded, used, m, k):
    ww = np.ones(n) if w is None else w
    xmean, sxx = _moments(x, w)
    # Centre y at its available-case means: any centring works, this one keeps the
    # cross-products well conditioned.
    obs = ~np.isnan(y)
    ymean = np.array([np.average(y[obs[:, j], j], weights=ww[obs[:, j]]) for j in range(m)])
    yc = np.where(obs, y - ymean, 0.0)
    xt = np.hstack([np.ones((n, 1)), x - xmean])
    z = np.hstack([yc, xt])
    keys, inv = np.unique(obs, axis=0, return_inverse=True)
    inv = inv.ravel()
    masks = keys.astype(np.bool_)
    counts = np.zeros(len(keys))
    cross = np.zeros((len(keys), m + 1 + k, m + 1 + k))
    for p in range(len(keys)):
        sel = inv == p
        zp = z[sel]
        counts[p] = ww[sel].sum()
        cross[p] = (zp * ww[sel, None]).T @ zp
    return Prepared(y, x, w, n, n_orig, excluded, used, ymean, xmean, None, None, sxx, masks,
                    counts, cross, True, inv.astype(np.int64))


def _prepare_moments(model, sample_cov, sample_mean, sample_nobs, sampling_weights):
    import pandas as pd

    if sample_cov is None:
        raise DataError("give either data or sample_cov (with sample_nobs)")
    if sampling_weights is not None:
        raise DataError("sampling_weights needs the data rows, not summary statistics")
    if sample_nobs is None:
        raise DataError("sample_nobs is required with sample_cov")
    n = int(sample_nobs)
    names = model.observed
    if isinstance(sample_cov, pd.DataFrame):
        missing = [c for c in names if c not in sample_cov.columns]
        if missing:
            raise DataError(f"sample_cov lacks variable(s): {', '.join(missing)}")
        cov = sample_cov.loc[names, names].to_numpy(dtype=float)
    else:
        cov = np.asarray(sample_cov, dtype=float)
        if cov.shape != (len(names), len(names)):
            raise DataError(f"sample_cov must be {len(names)} x {len(names)} in the order "
                            f"{', '.join(names)}")
    if not np.allclose(cov, cov.T) or np.linalg.eigvalsh(cov).min() <= 0:
        raise DataError("sample_cov is not symmetric positive definite")
    # lavaan reads sample.cov as the unbiased (N - 1) estimate and rescales it to divisor N.
    cov = cov * (n - 1) / n
    if sample_mean is None:
        mean = np.zeros(len(names))
    elif isinstance(sample_mean, pd.Series):
        mean = sample_mean.loc[names].to_numpy(dtype=float)
    else:
        mean = np.asarray(sample_mean, dtype=float)
    m = len(model.indicators)
    return _complete_prepared(None, None, None, n, n, {}, None, mean, cov, m, False)


# ----------------------------------------------------------------------------- fitting

def starting_values(model: MimicModel, layout: Layout, prep: Prepared) -> np.ndarray:
    """Start from the OLS reduced form: loadings from the leading eigenvector of the
    indicator covariance, gamma by least squares on the OLS slopes."""
    m = len(model.indicators)
    q = len(layout.rows)
    tot = prep.cross.sum(axis=0) / prep.counts.sum()
    syy, syx, sxx = tot[:m, :m], tot[:m, m + 1:], tot[m + 1:, m + 1:]
    sd = np.sqrt(np.diag(syy))
    pi = np.linalg.solve(sxx, syx.T).T
    om = syy - pi @ sxx @ pi.T
    _vals, vecs = np.linalg.eigh(syy / np.outer(sd, sd))
    v = vecs[:, -1] * sd
    fixed_j = int(np.argmax(layout.lam_idx < 0))
    lam = v / v[fixed_j] * layout.lam_fix[fixed_j]
    for j in range(m):
        if layout.lam_idx[j] < 0:
            lam[j] = layout.lam_fix[j]
    gam = pi.T @ lam / (lam @ lam)
    off = [om[i, j] / (lam[i] * lam[j]) for i in range(m) for j in range(i)
           if abs(lam[i] * lam[j]) > 1e-12]
    psi = max(np.median(off) if off else 0.0, 0.05 * om[fixed_j, fixed_j] / lam[fixed_j] ** 2)
    th = np.maximum(np.diag(om) - psi * lam ** 2, 0.1 * np.diag(om))
    theta = np.zeros(q)
    for j in range(m):
        if layout.lam_idx[j] >= 0:
            theta[layout.lam_idx[j]] = lam[j]
        theta[layout.th_idx[j, j]] = th[j]
    for h in range(len(model.causes)):
        theta[layout.gam_idx[h]] = gam[h]
    theta[layout.psi_idx] = psi
    theta[layout.nu_idx] = 0.0
    return theta


def _objective(theta, layout, prep, with_grad=True):
    return K.objective_and_gradient(theta, *layout.args(), prep.masks, prep.counts, prep.cross,
                                    with_grad)


def _expected_info(theta, layout, mxx):
    lam, gam, bmat, psi, th, nu = K.build_matrices(theta, *layout.args())
    _, om = K.reduced_form(lam, gam, bmat, psi, th, nu)
    dpi, dom = K.derivatives(theta, *layout.args())
    return K.expected_information(om, mxx, dpi, dom)


def observed_information(theta, layout, prep):
    """Half the Hessian of the objective, by central differences of the analytic gradient
    (as lavaan computes its observed information)."""
    q = len(theta)
    h = np.empty((q, q))
    for a in range(q):
        step = 1e-5 * max(1.0, abs(theta[a]))
        tp, tm = theta.copy(), theta.copy()
        tp[a] += step
        tm[a] -= step
        gp = _objective(tp, layout, prep)[1]
        gm = _objective(tm, layout, prep)[1]
        h[:, a] = (gp - gm) / (2 * step)
    return 0.25 * (h + h.T)


def optimise(model, layout, prep, start=None, max_iter=K.FISHER_MAX_STEPS, tol=K.FISHER_TOL):
    """Fisher scoring with step halving (`rima._kernels.mimic.fisher_scoring`, which the
    bootstrap's replicates run too); with FIML, a Newton polish on the exact Hessian after
    six Fisher steps."""
    theta = starting_values(model, layout, prep) if start is None else start.copy()
    fisher_steps = min(max_iter, 6) if prep.fiml else max_iter
    theta, f, g, it, status = K.fisher_scoring(theta, *layout.args(), prep.masks, prep.counts,
                                               prep.cross, fisher_steps, tol)
    if status == K.FISHER_BAD_START:
        raise ConvergenceError("starting values give a non-positive-definite implied "
                               "covariance; try other starting values")
    if prep.fiml and status == K.FISHER_MAX_ITER:
        theta, f, g, it, status = _newton(layout, prep, theta, f, g, it, max_iter, tol)
    if not K.fisher_converged(status, g):
        raise ConvergenceError(
            f"ML estimation did not converge: Fisher scoring with step halving from "
            f"reduced-form starting values stopped after {it} iteration(s) with largest "
            f"gradient {np.max(np.abs(g)):.3g}; check the scaling of the variables and "
            "whether the model is identified")
    return theta, f, it


def _newton(layout, prep, theta, f, g, it, max_iter, tol):
    """Newton steps on the observed information (FIML), with the same step halving."""
    status = K.FISHER_MAX_ITER
    while it < max_iter:
        it += 1
        info = observed_information(theta, layout, prep)
        try:
            step = -np.linalg.solve(2.0 * info, g)
        except np.linalg.LinAlgError:
            step = -g
        t = 1.0
        while t > 1e-10:
            cand = theta + t * step
            fc, gc = _objective(cand, layout, prep)
            if np.isfinite(fc) and fc <= f + 1e-14 * abs(f):
                break
            t *= 0.5
        else:
            return theta, f, g, it, K.FISHER_STALLED
        theta, f, g = cand, fc, gc
        if np.max(np.abs(g)) < tol:
            return theta, f, g, it, K.FISHER_CONVERGED
    return theta, f, g, it, status


def improper_messages(model, layout, theta):
    msgs = []
    for j, y in enumerate(model.indicators):
        v = theta[layout.th_idx[j, j]]
        if v < 0:
            msgs.append(f"negative residual variance of {y} ({v:.4g})")
    if theta[layout.psi_idx] < 0:
        msgs.append(f"negative residual variance of {model.latent} "
                    f"({theta[layout.psi_idx]:.4g})")
    lam, gam, bmat, psi, th, nu = K.build_matrices(theta, *layout.args())
    _, om = K.reduced_form(lam, gam, bmat, psi, th, nu)
    if np.linalg.eigvalsh(om).min() <= 0:
        msgs.append("implied covariance of the indicators is not positive definite")
    if np.linalg.eigvalsh(th).min() <= 0 and not any("residual variance" in s for s in msgs):
        msgs.append("residual covariance matrix of the indicators is not positive definite")
    return msgs


def check_options(estimator, se, missing, test):
    est = str(estimator).upper()
    if est not in ("ML", "MLR", "MLM"):
        raise SpecError(f"estimator {estimator!r} is not supported (ML, MLM or MLR)")
    if se not in (None, "standard", "robust.sem", "robust.huber.white", "robust"):
        raise SpecError(f"se {se!r} is not supported (standard, robust.sem, robust.huber.white)")
    if missing not in ("listwise", "fiml", "ml"):
        raise SpecError(f"missing {missing!r} is not supported (listwise or fiml)")
    if test not in (None, "standard", "satorra.bentler", "yuan.bentler.mplus"):
        raise SpecError(f"test {test!r} is not supported (standard, satorra.bentler, "
                        "yuan.bentler.mplus)")
    return est


def warn_improper(msgs):
    for s in msgs:
        warnings.warn(f"improper MIMIC solution: {s}", ImproperSolutionWarning, stacklevel=3)
