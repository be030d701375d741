"""Exploratory factor analysis matching R's psych.

`FactorAnalysis` reproduces `psych::fa` (methods pa, minres, ml; psych's one-step principal
factor as `pf`) and `psych::principal` (`pca`), with psych's rotations, sign and order
conventions and factor scores. Two numerical modes:

* ``mode="psych"`` (default) replays psych's own stopping rules (principal axis stops when
  the sum of communalities changes by less than 0.001, at most 50 iterations; varimax stops
  when its criterion improves by a factor of less than 1 + 1e-5; minres and ml use L-BFGS-B
  with psych's settings), so results agree with psych to about 1e-6 rather than being the
  exact optimum.
* ``mode="converged"`` runs every iteration to a tight tolerance.

Divisors are explicit: correlations do not depend on them; the standardisation used for
scores divides by the n - 1 standard deviation (psych's `scale`).

`rima.FactorModel` (rima.factor_estimator) is the same analysis as a scikit-learn
estimator. This module does not import scikit-learn, whose import costs about a second, so
that the pipeline, which needs no estimator protocol, does not pay for it.
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from rima._kernels import factor as _k
from rima.errors import ConvergenceError, DataError, HeywoodWarning, RimaInputError, RimaWarning
from rima.lbfgsb import MSG_LNSRCH, minimize_lbfgsb
from rima.moments import (
    Moments,
    compute_moments,
    has_nonfinite,
    pairwise_moments,
    standardised_scores,
)

METHODS = ("pa", "pf", "minres", "ml", "pca")
ROTATIONS = ("none", "varimax", "promax", "oblimin")
SCORES = ("bartlett", "regression")
RULES = ("kaiser", "cumvar95", "parallel")
MODES = ("psych", "converged")
HEYWOOD = ("warn", "bound", "error")

_quiet = threading.local()


@contextmanager
def quiet():
    """FactorAnalysis fits in this thread inside the block show no warnings (missing rows
    left out, an extraction that stopped early, a Heywood case) and no floating-point
    warnings. Unlike `warnings.catch_warnings`, which changes the filters of every
    thread, it leaves the warnings of other threads alone (the build runs recipes side by
    side)."""
    before = getattr(_quiet, "on", False)
    _quiet.on = True
    try:
        with np.errstate(all="ignore"):
            yield
    finally:
        _quiet.on = before


def _warn(message, category, stacklevel):
    if not getattr(_quiet, "on", False):
        warnings.warn(message, category, stacklevel=stacklevel + 1)


# psych's optimiser bounds on uniquenesses for minres and ml
_PSI_LOWER = 0.005
_PARSCALE = 0.01
_FACTR = 1e7
_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class _Settings:
    pa_min_err: float
    pa_max_iter: int
    varimax_eps: float
    oblimin_eps: float
    rot_maxit: int
    opt_ftol: float
    opt_maxiter: int


_PSYCH = _Settings(1e-3, 50, 1e-5, 1e-5, 1000, _FACTR * _EPS, 100)
_CONVERGED = _Settings(1e-12, 10_000, 1e-14, 1e-12, 100_000, 1e-15, 10_000)


@dataclass
class Extraction:
    loadings: np.ndarray  # p x k, psych sign and order, rotated
    phi: np.ndarray | None  # factor correlations for oblique rotations
    communalities: np.ndarray
    values: np.ndarray  # eigenvalues of the reduced matrix (psych's $values)
    iterations: int
    converged: bool
    unrotated: np.ndarray
    psi: np.ndarray | None  # the optimiser's uniquenesses (minres, ml)


# ---------------------------------------------------------------- validation helpers


def check_correlation(R: np.ndarray, names: list[str]) -> None:
    """Raise a RimaInputError naming the variables when R is (near) singular."""
    p = R.shape[0]
    if not np.all(np.isfinite(R)):
        raise DataError("the correlation matrix contains non-finite values")
    dup = []
    for i in range(p):
        for j in range(i):
            if abs(R[i, j]) > 1 - 1e-10:
                dup.append(f"{names[j]!r} and {names[i]!r}")
    if dup:
        raise DataError(
            "perfectly correlated (duplicate or rescaled) variables: " + "; ".join(dup)
            + ". Drop one of each pair."
        )
    vals, vecs = np.linalg.eigh(R)
    if vals[0] < 1e-10 * max(vals[-1], 1.0):
        v = vecs[:, 0]
        involved = [names[j] for j in np.flatnonzero(np.abs(v) > 0.05)]
        raise DataError(
            "the correlation matrix is singular (smallest eigenvalue "
            f"{vals[0]:.3g}): variables {', '.join(repr(c) for c in involved)} are linearly "
            "dependent. Drop one of them."
        )


def _comoment_corr(C):
    """Correlations from a co-moment matrix (unit diagonal set exactly)."""
    d = np.sqrt(np.diag(C))
    R = C / np.outer(d, d)
    np.fill_diagonal(R, 1.0)
    return R


def _cov2cor(C):
    d = np.sqrt(np.diag(C))
    return C / np.outer(d, d)


# ---------------------------------------------------------------- extraction


def _lbfgsb(fun, grad, start, upper, R, nf, s: _Settings):
    """psych's optim(method = "L-BFGS-B") call: parscale 0.01, factr 1e7, lmm 5, maxit 100.

    rima.lbfgsb follows the version of L-BFGS-B R runs (scipy's newer version takes a
    different path, which psych's early stop leaves ~1e-5 away); the converged mode runs
    the same routine to a tight tolerance.
    """
    x0 = np.asarray(start, dtype=float) / _PARSCALE
    seen = []  # every (point, value) the optimiser asked for

    def f(x):
        v = fun(x * _PARSCALE, R, nf)
        seen.append((x.copy(), v))
        return v

    def g(x):
        return grad(x * _PARSCALE, R, nf) * _PARSCALE

    res = minimize_lbfgsb(
        f, g, x0, _PSI_LOWER / _PARSCALE, upper / _PARSCALE, m=5, factr=s.opt_ftol / _EPS,
        pgtol=0.0 if s is _PSYCH else 1e-12, maxit=s.opt_maxiter)
    psi = res.x * _PARSCALE
    ok = res.converged
    if not ok and res.message == MSG_LNSRCH:
        # The line search found no acceptable step from the returned point. psych's minres
        # gradient is not the exact gradient of its objective, so near the optimum the
        # search can stall where f is flat to rounding (inputs 1e-16 away from psych's can
        # end there while psych's own run stops by factr). If none of the steps it tried
        # lowers f by more than the factr test allows, the point is as converged as that
        # test can tell.
        reached = min(i for i, (x, _) in enumerate(seen) if np.array_equal(x, res.x))
        tried = [v for _, v in seen[reached + 1:]]
        ok = bool(tried) and min(tried) > res.fun - s.opt_ftol * max(abs(res.fun), 1.0)
    if not ok:
        # a line search can fail at a point that is already optimal to machine precision;
        # judge convergence by the projected gradient there
        gp = grad(psi, R, nf)
        gp = np.where((psi <= _PSI_LOWER * (1 + 1e-12)) & (gp > 0), 0.0, gp)
        gp = np.where((psi >= upper * (1 - 1e-12)) & (gp < 0), 0.0, gp)
        ok = bool(np.max(np.abs(gp)) < 1e-6)
    return psi, res.n_iter, ok


def _extract(R, nf, method, smc, s: _Settings, heywood):
    """Unrotated loadings (before psych's sign step), communalities, values, iterations."""
    if method in ("pa", "pf"):
        smc_start, min_err, max_iter, cap = _pa_arguments(method, smc, heywood, s)
        L, h2, vals, it, status = _k.pa_iterate(R, nf, _k.pa_start(R, nf, smc_start),
                                                min_err, max_iter, cap)
        if status == 2:
            raise _negative_eigenvalue(nf)
        converged = status == 0 or method == "pf"
        return L, h2, vals, it, converged, None
    if method in ("minres", "ml"):
        sm = _k.smc(R)
        upper = max(sm.max(), 1.0)
        start = np.diag(R) - sm
        if method == "minres":
            psi, it, ok = _lbfgsb(_k.minres_objective, _k.minres_gradient, start, upper, R, nf, s)
            L = _k.uls_loadings(R, psi, nf)
        else:
            psi, it, ok = _lbfgsb(_k.ml_objective, _k.ml_gradient, start, upper, R, nf, s)
            L = _k.ml_loadings(R, psi, nf)
        h2 = (L**2).sum(axis=1)
        Sm = R.copy()
        np.fill_diagonal(Sm, h2)
        vals = np.linalg.eigvalsh(Sm)[::-1]
        return L, h2, vals, it, ok, psi
    if method == "pca":
        L, vals = _k.pca_loadings(R, nf)
        return L, (L**2).sum(axis=1), vals, 0, True, None
    raise RimaInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


ROTATION_CODES = {"none": _k.ROT_NONE, "varimax": _k.ROT_VARIMAX, "promax": _k.ROT_PROMAX,
                  "oblimin": _k.ROT_OBLIMIN}
KERNEL_METHODS = {"pa": _k.PA, "pf": _k.PF, "pca": _k.PCA}


def settings(mode) -> _Settings:
    """The stopping rules of a mode ("psych" or "converged")."""
    return _PSYCH if mode == "psych" else _CONVERGED


def _pa_arguments(method, smc, heywood, s: _Settings):
    """Principal axis: (start from SMC, tolerance, iterations, communality cap)."""
    smc_start = method == "pf" or bool(smc)
    max_iter = 1 if method == "pf" else s.pa_max_iter
    cap = 1.0 - _PSI_LOWER if heywood == "bound" else -1.0
    return smc_start, s.pa_min_err, max_iter, cap


@dataclass(frozen=True)
class KernelArguments:
    """A pillar's settings as the kernels take them; the fit and the bootstrap's replicates
    read them from here, so both pass the same ones."""

    extract: tuple       # pillar_extract's after (R, n_factors): method, smc, tol, iter, cap
    rotation: int        # ROT_* code
    varimax_eps: float
    oblimin_eps: float
    rot_maxit: int
    pca: bool
    bartlett: bool       # Bartlett (else regression / component) score weights

    @property
    def oblique(self) -> bool:
        return self.rotation in (_k.ROT_PROMAX, _k.ROT_OBLIMIN)


def kernel_arguments(method, rotation, scores, smc=False, heywood="warn",
                     mode="psych") -> KernelArguments:
    """The kernel settings of a pillar extracted by pa, pf or pca."""
    if method not in KERNEL_METHODS:
        raise RimaInputError(f"method {method!r} is not estimated by the pillar kernel "
                             f"({', '.join(KERNEL_METHODS)})")
    s = settings(mode)
    smc_start, min_err, max_iter, cap = _pa_arguments(method, smc, heywood, s)
    return KernelArguments((KERNEL_METHODS[method], smc_start, min_err, max_iter, cap),
                           ROTATION_CODES[rotation], s.varimax_eps, s.oblimin_eps,
                           s.rot_maxit, method == "pca", scores == "bartlett")


def rotate_loadings(U, rotation, pca, mode="psych"):
    """psych's rotation of signed unrotated loadings: (loadings, Phi (identity when
    orthogonal), oblique, converged). Orthogonal rotations run the kernel the bootstrap's
    replicates run; oblique ones their own (compiled only when used)."""
    s = settings(mode)
    code = ROTATION_CODES[rotation]
    k = U.shape[1]
    if code in (_k.ROT_PROMAX, _k.ROT_OBLIMIN) and k >= 2:
        L, phi, ok = _k.oblique_rotation(U, code, pca, s.varimax_eps, s.oblimin_eps,
                                         s.rot_maxit)
        return L, phi, True, bool(ok)
    if code == _k.ROT_NONE or k < 2:
        # no rotation: the kernel would return a copy; not calling it keeps varimax out of
        # the first fit's compile when no pillar rotates
        return U.copy(), np.eye(k), False, True
    L, ok = _k.orthogonal_rotation(U, code, s.varimax_eps, s.rot_maxit)
    return L, np.eye(k), False, bool(ok)


def scores_on_weighted(method, weighted_scores) -> bool:
    """Whether score weights are solved on the weighted correlations: psych::principal
    (weight=) does so for components, psych::fa(weight=) does not for factors (unless
    weighted_scores)."""
    return bool(weighted_scores) or method == "pca"


def _negative_eigenvalue(nf):
    return ConvergenceError(
        f"principal axis factoring with {nf} factor(s) met a negative eigenvalue among "
        "the retained factors (too many factors for these data, where psych returns "
        "NaN loadings); try fewer factors or smc=False")


def fit_extraction(R, nf, method="pa", rotation="none", smc=False, mode="psych",
                   heywood="warn") -> Extraction:
    """Extraction + rotation + psych's sign/order conventions on a correlation matrix."""
    s = settings(mode)
    if rotation not in ROTATION_CODES:
        raise RimaInputError(
            f"unknown rotation {rotation!r}; choose one of {', '.join(ROTATIONS)}")
    L0, _h2, vals, it, ok, psi = _extract(R, nf, method, smc, s, heywood)
    U = _k.unrotated_signs(np.ascontiguousarray(L0, dtype=float))
    L, phi, oblique, rot_ok = rotate_loadings(U, rotation, method == "pca", mode)
    L, phi = _k.order_loadings(L, phi, method == "pca")
    return Extraction(loadings=L, phi=phi if oblique else None,
                      communalities=_k.communalities(U), values=vals, iterations=int(it),
                      converged=bool(ok and rot_ok), unrotated=U, psi=psi)


def score_weights(R, L, phi, kind):
    """psych::factor.scores weights on standardised data (Thurstone regression or Bartlett);
    NaN where they are undefined (a zero uniqueness, a singular system)."""
    if kind not in SCORES:
        raise RimaInputError(f"unknown scores {kind!r}; choose one of {', '.join(SCORES)}")
    W, status = _score_weights(R, L, phi, kind == "bartlett")
    return W if status == _k.PILLAR_OK else np.full_like(W, np.nan)


def _score_weights(R, L, phi, bartlett):
    k = L.shape[1]
    Phi = np.eye(k) if phi is None else np.ascontiguousarray(phi, dtype=float)
    return _k.score_weights(np.ascontiguousarray(R, dtype=float),
                            np.ascontiguousarray(L, dtype=float), Phi, bool(bartlett))


# ---------------------------------------------------------------- sampling adequacy


def kmo(R):
    """Kaiser-Meyer-Olkin measure (overall, per variable) as psych::KMO computes it."""
    Q = np.linalg.inv(R)
    P = _cov2cor(Q)
    np.fill_diagonal(P, 0.0)
    r = R.copy()
    np.fill_diagonal(r, 0.0)
    r2, q2 = (r**2), (P**2)
    overall = r2.sum() / (r2.sum() + q2.sum())
    per = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    return float(overall), per


def bartlett_sphericity(R, n):
    """psych::cortest.bartlett: -log|R| (n - 1 - (2p + 5)/6) on p(p - 1)/2 df."""
    p = R.shape[0]
    _sign, logdet = np.linalg.slogdet(R)
    chisq = -logdet * (n - 1 - (2 * p + 5) / 6)
    df = p * (p - 1) / 2
    return float(chisq), float(df), float(special.chdtrc(df, chisq))


# ---------------------------------------------------------------- number of factors


def cumvar95_factors(R, threshold=0.95):
    """The reference tool's rule: minres with k = p, unrotated; smallest k whose cumulative
    share of SS loadings (SS_j / Σ SS) exceeds the threshold. Returns (k, SS, shares)."""
    p = R.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = fit_extraction(R, p, method="minres", rotation="none", smc=True)
    ss = (ex.loadings**2).sum(axis=0)
    share = np.cumsum(ss) / ss.sum()
    k = int(np.flatnonzero(share > threshold)[0]) + 1
    return k, ss, share


def kaiser_factors(R):
    return max(1, int((np.linalg.eigvalsh(R) > 1).sum()))


def parallel_factors(R, n_obs, n_iter=20, quantile=0.95, random_state=0):
    """Horn's parallel analysis on principal-component eigenvalues: keep the leading
    eigenvalues of R exceeding the `quantile` of eigenvalues from normal data of the same
    shape (seeded). Returns (k, observed eigenvalues, simulated thresholds)."""
    p = R.shape[0]
    rng = np.random.default_rng(random_state)
    sims = np.empty((n_iter, p))
    for i in range(n_iter):
        Z = rng.standard_normal((int(n_obs), p))
        sims[i] = np.linalg.eigvalsh(compute_moments(Z).corr())[::-1]
    thr = np.quantile(sims, quantile, axis=0)
    obs = np.linalg.eigvalsh(R)[::-1]
    below = np.flatnonzero(~(obs > thr))
    k = int(below[0]) if below.size else p
    return max(1, k), obs, thr


# ---------------------------------------------------------------- the analysis


class FactorAnalysis:
    """Exploratory factor analysis (one RIMA-II pillar), psych-compatible.

    Parameters in ``__init__``, learned state in attributes ending in ``_``, as a
    scikit-learn estimator; `rima.FactorModel` adds the scikit-learn protocol itself.

    Parameters
    ----------
    n_factors : int, "kaiser", "cumvar95" (reference rule) or "parallel" (Horn, seeded)
    method : "pa" (iterated principal axis), "pf" (one step from SMC), "minres", "ml", "pca"
    rotation : "none", "varimax", "promax", "oblimin"
    scores : "bartlett" or "regression" (Thurstone); pca always uses component weights
    smc : start principal axis from squared multiple correlations (True) or 1 (False)
    mode : "psych" (replay psych's stopping rules) or "converged"
    heywood : "warn" (psych's behaviour plus a HeywoodWarning), "bound" (cap communalities
        at 0.995, psych's optimiser bound), or "error"
    missing : "error", "listwise" (drop incomplete rows, with a warning naming how many)
        or "pairwise" (pairwise-complete correlations; scores need complete rows)
    weighted_scores : with sample weights, standardise scores and build regression weights
        with the weighted moments; False (default) does what psych does: fa(weight=) weights
        only the correlation matrix the factors are extracted from, principal(weight=) also
        solves its component weights on it (data still standardised without weights).
    """

    def __init__(self, n_factors="cumvar95", method="pa", rotation="none", scores="bartlett",
                 smc=False, mode="psych", heywood="warn", missing="listwise",
                 weighted_scores=False, parallel_iter=20, random_state=0):
        self.n_factors = n_factors
        self.method = method
        self.rotation = rotation
        self.scores = scores
        self.smc = smc
        self.mode = mode
        self.heywood = heywood
        self.missing = missing
        self.weighted_scores = weighted_scores
        self.parallel_iter = parallel_iter
        self.random_state = random_state

    # -- parameter checks
    def _check_params(self, p):
        for name, val, allowed in (("method", self.method, METHODS),
                                   ("rotation", self.rotation, ROTATIONS),
                                   ("scores", self.scores, SCORES),
                                   ("mode", self.mode, MODES),
                                   ("heywood", self.heywood, HEYWOOD),
                                   ("missing", self.missing, ("error", "listwise", "pairwise"))):
            if val not in allowed:
                raise RimaInputError(f"{name}={val!r} is not one of {', '.join(allowed)}")
        nf = self.n_factors
        if isinstance(nf, str):
            if nf not in RULES:
                raise RimaInputError(
                    f"n_factors={nf!r} is not an integer or one of {', '.join(RULES)}")
        elif isinstance(nf, (int, np.integer)) and not isinstance(nf, bool):
            if not 1 <= nf <= p:
                raise RimaInputError(f"n_factors={nf} must be between 1 and {p} (the variables)")
        else:
            raise RimaInputError(f"n_factors={nf!r} is not an integer or one of {RULES}")
        if self.method == "pca" and self.scores == "bartlett":
            raise RimaInputError(
                "scores='bartlett' is not defined for method='pca' (components have no "
                "uniquenesses); use scores='regression'")

    # -- data handling
    def _prepare(self, X, sample_weight):
        if isinstance(X, pd.DataFrame):
            names = [str(c) for c in X.columns]
            nonnum = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
            if nonnum:
                raise DataError(f"non-numeric column(s): {', '.join(map(str, nonnum))}")
            A = X.to_numpy(dtype=np.float64)
        else:
            A = np.asarray(X, dtype=np.float64)
            if A.ndim != 2:
                raise DataError("X must be 2-D (rows x variables)")
            names = [f"x{j + 1}" for j in range(A.shape[1])]
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float).ravel()
        self.rows_used_ = np.ones(A.shape[0], dtype=bool)
        if not has_nonfinite(A):
            return A, names, w
        if np.isinf(A).any():
            r, c = np.argwhere(np.isinf(A))[0]
            raise DataError(f"infinite value in column {names[c]!r} at row {int(r) + 1}")
        miss = np.isnan(A)
        if miss.any() and self.missing != "pairwise":
            if self.missing == "error":
                r, c = np.argwhere(miss)[0]
                raise DataError(f"missing value in column {names[c]!r} at row {int(r) + 1}")
            keep = ~miss.any(axis=1)
            _warn(f"{int((~keep).sum())} row(s) with missing values were left out "
                  "(listwise); see rows_used_", RimaWarning, stacklevel=3)
            self.rows_used_ = keep
            A = A[keep]
            if w is not None:
                w = w[keep]
        return A, names, w

    def fit(self, X: pd.DataFrame | np.ndarray, y: Any = None,
            sample_weight: np.ndarray | pd.Series | None = None) -> FactorAnalysis:
        """Fit the factor analysis to the rows of X.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
            One row per household, one column per variable; a DataFrame's column names
            become the variable names (an array's are x1, x2, ...).
        y : None
            Ignored; present for scikit-learn's estimator protocol.
        sample_weight : array-like of shape (n_samples,), optional
            Survey weights: they weight the correlation matrix (``psych::fa(weight=)``).

        Returns
        -------
        self
            The fitted analysis.

        Raises
        ------
        DataError
            Non-numeric, infinite or constant columns, perfectly correlated or linearly
            dependent variables, too few rows, a missing value with ``missing="error"``,
            or undefined score weights (a Heywood case with Bartlett scores).
        ConvergenceError
            Principal axis factoring met a negative eigenvalue among the retained factors.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> f = rng.standard_normal(500)
        >>> X = np.column_stack([f + rng.standard_normal(500) for _ in range(4)])
        >>> fa = rima.FactorAnalysis(n_factors=1).fit(X)
        >>> fa.n_factors_, fa.loadings_.shape
        (1, (4, 1))
        >>> bool((fa.loadings_["F1"] > 0.5).all())
        True
        """
        A, names, w = self._prepare(X, sample_weight)
        n, p = A.shape
        if p < 2:
            raise DataError("factor analysis needs at least 2 variables")
        if n <= p:
            raise DataError(f"{n} usable rows for {p} variables: need more rows than variables")
        if self.missing == "pairwise" and has_nonfinite(A):
            pm_u = pairwise_moments(A, names=names)
            pm = pm_u if w is None else pairwise_moments(A, w, names=names)
            self._check_constant(np.diag(pm_u.m2_pairs), names)
            R = pm.corr()
            R_u = pm_u.corr()
            self.mean_ = np.nanmean(A, axis=0)
            self.scale_ = np.nanstd(A, axis=0, ddof=1)
        else:
            mu = compute_moments(A, names=names)
            self._check_constant(np.diag(mu.comoment), names)
            R_u = mu.corr()
            if w is not None:
                mw = compute_moments(A, w, names=names)
                R = mw.corr()
            else:
                mw, R = mu, R_u
            src = mw if (w is not None and self.weighted_scores) else mu
            self.mean_ = src.mean.copy()
            self.scale_ = src.std(ddof=1)
        # psych::principal(weight=) solves its component weights on the weighted
        # correlations; psych::fa(weight=) rebuilds unweighted ones for its factor scores
        weighted_r = w is not None and scores_on_weighted(self.method, self.weighted_scores)
        R_scores = R if weighted_r else R_u
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = p
        self._fit_correlation(R, n, names, R_scores=R_scores)
        return self

    def _check_constant(self, m2, names):
        const = [names[j] for j in np.flatnonzero(~(m2 > 0))]
        if const:
            raise DataError(f"constant column(s) cannot enter a factor analysis: {', '.join(const)}")

    def fit_correlation(self, R: np.ndarray, n_obs: int,
                        names: list[str] | None = None) -> FactorAnalysis:
        """Fit from a correlation matrix and its number of observations.

        The model has no means or standard deviations, so it cannot `transform` data.

        Parameters
        ----------
        R : ndarray of shape (p, p)
            A correlation (or covariance, rescaled to correlations) matrix.
        n_obs : int
            The number of observations behind it (more than p).
        names : list of str, optional
            Variable names; default x1, x2, ...

        Returns
        -------
        self

        Raises
        ------
        DataError
            R is not square and symmetric, has a non-positive diagonal, is singular, or
            `n_obs` is not larger than p.
        """
        R = np.asarray(R, dtype=float)
        if R.ndim != 2 or R.shape[0] != R.shape[1]:
            raise DataError("the correlation matrix must be square")
        if not np.allclose(R, R.T, atol=1e-12):
            raise DataError("the correlation matrix is not symmetric")
        p = R.shape[0]
        names = [f"x{j + 1}" for j in range(p)] if names is None else [str(c) for c in names]
        if np.any(np.diag(R) <= 0):
            raise DataError("the matrix has a non-positive diagonal")
        R = _cov2cor(R)
        if n_obs <= p:
            raise DataError(f"n_obs={n_obs} for {p} variables: need more rows than variables")
        self.mean_ = None
        self.scale_ = None
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = p
        self._fit_correlation(R, int(n_obs), names, R_scores=R)
        return self

    def fit_moments(self, moments: Moments, weighted: Moments | None = None,
                    names: list[str] | None = None) -> FactorAnalysis:
        """Fit from the moments of the variables' rows (`rima.moments.Moments`), as `fit`
        would from the rows themselves: the same correlation matrix, `mean_` and n - 1
        `scale_`. Moments merged from partitions (`merge_moments`) fit a pillar whose rows
        never sit in one memory.

        Parameters
        ----------
        moments : Moments
            Unweighted moments of the variables (one column each, in order).
        weighted : Moments, optional
            Weighted moments of the same rows: the factors are then extracted from the
            weighted correlations (psych::fa(weight=)), while `mean_`, `scale_` and
            regression weights stay unweighted, as psych does (component weights are
            solved on the weighted correlations, as psych::principal(weight=)).
        names : list of str, optional
            Variable names; default `moments.names`.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Too few rows for the variables, or a constant variable.
        """
        names = list(moments.names) if names is None else [str(c) for c in names]
        n = int(moments.n_obs)
        p = len(names)
        if n <= p:
            raise DataError(f"{n} usable rows for {p} variables: need more rows than "
                            "variables")
        m2 = np.diag(moments.comoment)
        self._check_constant(m2, names)
        R = _cov2cor(_comoment_corr(moments.comoment if weighted is None
                                    else weighted.comoment))
        # psych: without weighted_scores the score weights, mean_ and scale_ are unweighted,
        # except principal(weight=)'s component weights, solved on the weighted correlations
        src = weighted if (weighted is not None and self.weighted_scores) else moments
        weighted_r = weighted is None or scores_on_weighted(self.method, self.weighted_scores)
        R_scores = R if weighted_r else _cov2cor(_comoment_corr(moments.comoment))
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = p
        self._fit_correlation(R, n, names, R_scores=R_scores)
        self.mean_ = src.mean.copy()
        self.scale_ = np.sqrt(np.diag(src.comoment) / (src.sum_weights - 1.0))
        self.rows_used_ = np.ones(n, dtype=bool)
        return self

    def _fit_correlation(self, R, n, names, R_scores):
        p = R.shape[0]
        self._check_params(p)
        check_correlation(R, names)
        self.n_obs_ = n
        self.correlation_ = R
        self.n_factors_rule_ = self.n_factors if isinstance(self.n_factors, str) else "fixed"
        self.cumvar95_ = None
        self.parallel_ = None
        if self.n_factors == "kaiser":
            k = kaiser_factors(R)
        elif self.n_factors == "cumvar95":
            k, ss, share = cumvar95_factors(R)
            self.cumvar95_ = {"ss": ss, "cumulative_share": share}
        elif self.n_factors == "parallel":
            k, obs, thr = parallel_factors(R, n, self.parallel_iter, 0.95, self.random_state)
            self.parallel_ = {"observed": obs, "threshold": thr}
        else:
            k = int(self.n_factors)
        self.n_factors_ = k
        pca = self.method == "pca"
        if self.method in KERNEL_METHODS:
            # the kernels every bootstrap replicate runs, with the same settings
            ka = kernel_arguments(self.method, self.rotation, self.scores, self.smc,
                                  self.heywood, self.mode)
            U, vals, it, st = _k.pillar_extract(np.ascontiguousarray(R), k, *ka.extract)
            if st == 2:
                raise _negative_eigenvalue(k)
            ok, psi = st == 0 or self.method == "pf", None
        else:
            L0, _h2, vals, it, ok, psi = _extract(R, k, self.method, self.smc,
                                                  settings(self.mode), self.heywood)
            U = _k.unrotated_signs(np.ascontiguousarray(L0, dtype=float))
        L, phi, oblique, rot_ok = rotate_loadings(U, self.rotation, pca, self.mode)
        L, phi, W, ss, vw, comb, status = _k.pillar_weights(
            np.ascontiguousarray(R_scores), L, phi, pca, self.scores == "bartlett")
        ex = Extraction(loadings=L, phi=phi if oblique else None,
                        communalities=_k.communalities(U), values=vals, iterations=int(it),
                        converged=bool(ok and rot_ok), unrotated=U, psi=psi)
        if not ex.converged:
            _warn(f"the {self.method} extraction (or the {self.rotation} rotation) stopped "
                  f"before meeting its tolerance ({ex.iterations} iterations); results may be "
                  "imprecise", RimaWarning, stacklevel=3)
        h2 = ex.communalities
        self._heywood_check(h2, names)
        cols = [f"F{j + 1}" for j in range(k)]
        self.loadings_ = pd.DataFrame(ex.loadings, index=names, columns=cols)
        self.unrotated_loadings_ = pd.DataFrame(ex.unrotated, index=names, columns=cols)
        self.phi_ = None if ex.phi is None else pd.DataFrame(ex.phi, index=cols, columns=cols)
        self.communalities_ = pd.Series(h2, index=names, name="communality")
        self.uniquenesses_ = pd.Series(1.0 - h2, index=names, name="uniqueness")
        self.eigenvalues_ = np.linalg.eigvalsh(R)[::-1].copy()
        self.reduced_eigenvalues_ = ex.values
        self.ss_loadings_ = ss
        self.proportion_var_ = ss / p
        self.cumulative_var_ = np.cumsum(ss) / p
        self.variance_weights_ = vw
        self.fit_uniquenesses_ = None if ex.psi is None else pd.Series(ex.psi, index=names)
        self.n_iter_ = ex.iterations
        self.converged_ = ex.converged
        self.scores_kind_ = "components" if self.method == "pca" else self.scores
        if status != _k.PILLAR_OK:
            raise DataError(
                f"{self.scores_kind_} score weights are not finite: uniquenesses of "
                + ", ".join(repr(names[j]) for j in np.flatnonzero(np.abs(1.0 - h2) < 1e-8))
                + " are zero (Heywood case or too many factors); use fewer factors, "
                "heywood='bound' or scores='regression'")
        self.score_weights_ = pd.DataFrame(W, index=names, columns=cols)
        # the pillar score's weights on z-scores (score weights times variance weights)
        self.combined_weights_ = pd.Series(comb, index=names, name="weight")
        self.kmo_, self.kmo_per_variable_ = kmo(R)
        self.kmo_per_variable_ = pd.Series(self.kmo_per_variable_, index=names)
        chisq, df, pval = bartlett_sphericity(R, n)
        self.bartlett_sphericity_ = {"chisq": chisq, "df": df, "p_value": pval}
        self.scale_ddof_ = 1  # scale_ is the n - 1 standard deviation, as psych's scale()

    def _heywood_check(self, h2, names):
        self.heywood_variables_ = [names[j] for j in np.flatnonzero(h2 >= _k.HEYWOOD_H2)]
        bounded = self.heywood == "bound" and self.method in ("pa", "pf")
        at_cap = [names[j] for j in np.flatnonzero(h2 >= 1.0 - _PSI_LOWER - 1e-12)]
        if self.heywood_variables_:
            msg = (
                "Heywood case: communality >= 1 for "
                + ", ".join(f"{names[j]!r} ({h2[j]:.4f})"
                            for j in np.flatnonzero(h2 >= _k.HEYWOOD_H2))
                + f" (method={self.method}); its uniqueness is not positive, so Bartlett "
                "weights and the fit are improper"
            )
            if self.heywood == "error":
                raise DataError(msg)
            _warn(msg, HeywoodWarning, stacklevel=4)
        elif bounded and at_cap:
            self.heywood_variables_ = at_cap
            _warn("Heywood case bounded: communality capped at 0.995 for "
                  + ", ".join(repr(c) for c in at_cap), HeywoodWarning, stacklevel=4)

    # -- scoring
    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Factor scores of the rows of X.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
            A DataFrame is read by the fitted variable names; an array must hold the
            fitted variables in order.

        Returns
        -------
        ndarray of shape (n_samples, n_factors_)
            ``((X - mean_) / scale_) @ score_weights_``.

        Raises
        ------
        RimaInputError
            The model is not fitted, or was fitted from a correlation matrix.
        DataError
            A fitted column is missing, the width is wrong, or a cell is missing or not
            finite (the message names the column and row).
        """
        if getattr(self, "loadings_", None) is None:
            raise RimaInputError(f"{type(self).__name__} is not fitted")
        if self.mean_ is None:
            raise RimaInputError(
                "this model was fitted from a correlation matrix; scores need the data means "
                "and standard deviations")
        if isinstance(X, pd.DataFrame):
            names = list(self.feature_names_in_)
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise DataError(f"column(s) missing for scoring: {', '.join(missing)}")
            A = X[names].to_numpy(dtype=np.float64)
        else:
            A = np.asarray(X, dtype=np.float64)
        if A.ndim != 2 or A.shape[1] != len(self.feature_names_in_):
            raise DataError(f"expected {len(self.feature_names_in_)} columns to score")
        if has_nonfinite(A):
            r, c = np.argwhere(~np.isfinite(A))[0]
            raise DataError(
                f"missing or non-finite value in column {self.feature_names_in_[c]!r} at row "
                f"{int(r) + 1}; scores need complete rows")
        return standardised_scores(A, self.mean_, self.scale_, self.score_weights_.to_numpy())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the columns `transform` returns.

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn's transformer protocol.

        Returns
        -------
        ndarray of str
            ``F1`` .. ``Fk``.
        """
        return np.asarray(list(self.loadings_.columns), dtype=object)

    def pillar_score(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The RIMA-II pillar score: factor scores weighted by their share of variance.

        ``Σ_j w_j F_j`` with ``w_j = SS_j / Σ retained SS`` (`variance_weights_`).

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
            As in `transform`.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.transform(X) @ self.variance_weights_

    # -- reporting
    def summary(self) -> str:
        """A printable table of the fit: settings, loadings, communalities, variance.

        Returns
        -------
        str
        """
        L = self.loadings_
        k = self.n_factors_
        lines = [
            "Factor analysis (psych-compatible)",
            "=" * 60,
            f"method: {self.method}   rotation: {self.rotation}   scores: {self.scores_kind_}",
            f"mode: {self.mode}   n_obs: {self.n_obs_}   variables: {L.shape[0]}",
            (f"n_factors: {k} (rule: {self.n_factors_rule_})   iterations: {self.n_iter_}   "
            f"converged: {self.converged_}"),
            (f"KMO: {self.kmo_:.3f}   Bartlett sphericity: chi2={self.bartlett_sphericity_['chisq']:.2f}"
            f" df={self.bartlett_sphericity_['df']:.0f} p={self.bartlett_sphericity_['p_value']:.3g}"),
            "score standardisation: mean and n - 1 standard deviation",
            "-" * 60,
        ]
        tab = L.copy()
        tab["h2"] = self.communalities_
        tab["u2"] = self.uniquenesses_
        lines.append(tab.to_string(float_format=lambda v: f"{v: .3f}"))
        lines.append("-" * 60)
        var = pd.DataFrame(
            [self.ss_loadings_, self.proportion_var_, self.cumulative_var_,
             self.variance_weights_],
            index=["SS loadings", "Proportion Var", "Cumulative Var", "Variance weight"],
            columns=L.columns)
        lines.append(var.to_string(float_format=lambda v: f"{v: .3f}"))
        if self.phi_ is not None:
            lines += ["-" * 60, "Factor correlations", self.phi_.to_string(
                float_format=lambda v: f"{v: .3f}")]
        if self.heywood_variables_:
            lines += ["-" * 60, "Heywood case: " + ", ".join(self.heywood_variables_)]
        return "\n".join(lines)
