"""Survey-weighted regressions with soum-clustered standard errors, estimated by statsmodels.

Every analysis in this package (shock effects, panel predictions) goes through
`fit_regression`, so one convention holds everywhere:

- point estimates: weighted least squares (OLS) or the weighted pseudo-likelihood
  (logit / probit, a binomial GLM with the survey weights as variance weights), which are
  the estimates of R's ``survey::svyglm`` and of Stata's ``[pweight=]``;
- standard errors: the cluster-robust sandwich with clusters = soums and Stata's
  small-sample factor G/(G-1) x (N-1)/(N-K) (statsmodels' default, equal to
  ``sandwich::vcovCL(type = "HC1")``). ``survey::svyglm`` uses G/(G-1) only, so its standard
  errors are smaller by sqrt((N-1)/(N-K)) — a fraction of a per cent at survey sizes.
  The bread is the inverse expected information, R's glm convention (the same as the
  observed one for OLS and logit; for the probit Stata's observed Hessian differs slightly);
- confidence intervals and p-values: Student t with G - 1 degrees of freedom, because with
  about 24 soums the normal approximation is too optimistic for soum-level shocks.

Rows with a missing value in a variable the model needs are not used; each one keeps the
reason in `row_status`, and the counts are in `excluded`, so nothing disappears silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rima.errors import DataError, RimaInputError
from rima.row_status import missing_reason

KINDS = ("ols", "logit", "probit")


@dataclass
class RegressionResult:
    """One fitted regression.

    kind : "ols", "logit" or "probit"
    outcome : name of the dependent variable
    params : DataFrame (term, est, se, t, pvalue, ci_lower, ci_upper), one row per term
    nobs : rows used; n_clusters : clusters among them (None when not clustered)
    sum_weights : total weight of the rows used
    row_status : Series indexed like the input frame: "ok" or why the row was not used
    excluded : {reason: number of rows}
    fit : the statsmodels results object (for anything not summarised here; its own
          `bse` are model-based — the robust covariance is `vcov`)
    """

    kind: str
    outcome: str
    params: pd.DataFrame
    nobs: int
    n_clusters: int | None
    sum_weights: float
    row_status: pd.Series
    excluded: dict = field(default_factory=dict)
    level: float = 0.95
    cluster: str | None = None
    weight: str | None = None
    fit: object = field(default=None, repr=False)
    vcov_matrix: np.ndarray | None = field(default=None, repr=False)
    df: int | None = None

    def coef(self, term: str) -> pd.Series:
        """The row of `params` for `term` (KeyError naming the known terms otherwise)."""
        rows = self.params[self.params["term"] == term]
        if rows.empty:
            raise KeyError(f"no term {term!r}; terms are {self.params['term'].tolist()}")
        return rows.iloc[0]

    @property
    def vcov(self) -> pd.DataFrame:
        names = self.params["term"].tolist()
        return pd.DataFrame(self.vcov_matrix, index=names, columns=names)

    def summary(self) -> str:
        head = {"ols": "Weighted least squares", "logit": "Weighted logit",
                "probit": "Weighted probit"}[self.kind]
        lines = [
            f"{head}: {self.outcome}",
            (f"  observations {self.nobs}   sum of weights {self.sum_weights:.1f}   "
            f"weight {self.weight or '(none)'}"),
        ]
        if self.cluster:
            lines.append(
                f"  standard errors clustered by {self.cluster} ({self.n_clusters} clusters), "
                f"t with {self.n_clusters - 1} df"
            )
        else:
            lines.append("  heteroskedasticity-robust (HC1) standard errors")
        for reason, count in self.excluded.items():
            lines.append(f"  not used: {count} row(s), {reason}")
        pct = round(100 * self.level)
        lines.append("")
        lines.append(
            f"  {'term':<28}{'estimate':>11}{'std.err':>10}{'t':>8}{'p':>9}"
            f"{'[' + str(pct) + '% CI':>12}{']':>11}"
        )
        for r in self.params.itertuples():
            lines.append(
                f"  {r.term:<28}{r.est:>11.4f}{r.se:>10.4f}{r.t:>8.2f}{r.pvalue:>9.4f}"
                f"{r.ci_lower:>12.4f}{r.ci_upper:>11.4f}"
            )
        return "\n".join(lines)


def fit_regression(
    frame: pd.DataFrame,
    outcome: str,
    terms,
    *,
    kind: str = "ols",
    weight: str | None = None,
    cluster: str | None = None,
    level: float = 0.95,
    subset=None,
    subset_reason: str = "outside the subset",
) -> RegressionResult:
    """Fit `outcome` on `terms` (column names of `frame`; a constant is added).

    kind : "ols", "logit" or "probit" (the outcome must then be 0/1)
    weight : column of survey weights (None = equal weights)
    cluster : column of cluster ids, e.g. "soum" (None = HC1 robust errors)
    level : confidence level of the intervals
    subset : boolean mask of the rows to use (the others get `subset_reason` as status)
    """
    import statsmodels.api as sm
    import statsmodels.stats.sandwich_covariance as sandwich
    from scipy import stats

    if kind not in KINDS:
        raise RimaInputError(f"model kind must be one of {list(KINDS)}, got {kind!r}")
    if not 0 < level < 1:
        raise RimaInputError(f"level must be between 0 and 1, got {level!r}")
    terms = list(terms)
    if not terms:
        raise RimaInputError("a regression needs at least one term")
    if len(set(terms)) != len(terms):
        raise RimaInputError(f"terms are repeated: {terms}")
    if "const" in terms:
        raise RimaInputError("'const' is the intercept's name; rename that column")
    needed = [outcome, *terms] + [c for c in (weight, cluster) if c]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise DataError(f"column(s) not found: {missing}")

    numeric = {}
    for col in [outcome, *terms] + ([weight] if weight else []):
        try:
            numeric[col] = pd.to_numeric(frame[col], errors="raise").astype(float).to_numpy()
        except (TypeError, ValueError):
            raise DataError(f"column {col!r} must be numeric for the regression") from None

    status = np.full(len(frame), "ok", dtype=object)
    if subset is not None:
        subset = np.asarray(subset, dtype=bool)
        if subset.shape != (len(frame),):
            raise RimaInputError(f"subset must have one entry per row ({len(frame)})")
        status[~subset] = subset_reason
    for col in dict.fromkeys(needed):
        if col == cluster:
            bad = frame[col].isna().to_numpy()
        else:
            bad = ~np.isfinite(numeric[col])
        status[(status == "ok") & bad] = missing_reason([col])
    if weight:
        w_all = numeric[weight]
        bad = (status == "ok") & (w_all <= 0)
        status[bad] = f"non-positive weight in {weight}"
    use = status == "ok"
    row_status = pd.Series(status, index=frame.index, name="status")
    excluded = pd.Series(status[~use]).value_counts().to_dict() if (~use).any() else {}

    n = int(use.sum())
    k = len(terms) + 1
    if n <= k:
        raise DataError(
            f"regression of {outcome!r} has {n} usable row(s) for {k} coefficients"
            + (f"; not used: {excluded}" if excluded else "")
        )
    y = numeric[outcome][use]
    X = np.column_stack([np.ones(n)] + [numeric[t][use] for t in terms])
    names = ["const", *terms]
    const_cols = [t for j, t in enumerate(terms, start=1) if np.ptp(X[:, j]) == 0]
    if const_cols:
        raise DataError(
            f"term(s) {const_cols} do not vary among the {n} usable rows, so their effect "
            "cannot be estimated"
        )
    if np.linalg.matrix_rank(X) < k:
        raise DataError(f"terms {terms} are collinear (one is a combination of the others)")
    w = numeric[weight][use] if weight else np.ones(n)
    if kind != "ols":
        vals = set(np.unique(y).tolist())
        if not vals <= {0.0, 1.0}:
            raise DataError(f"{kind} outcome {outcome!r} must be 0/1, found values {sorted(vals)[:6]}")
        if len(vals) < 2:
            raise DataError(f"{kind} outcome {outcome!r} takes only the value {vals.pop()} "
                            "among the usable rows; there is nothing to model")

    if cluster:
        codes, uniques = pd.factorize(frame.loc[use, cluster], sort=True)
        n_clusters = len(uniques)
        if n_clusters < 2:
            raise DataError(f"clustered standard errors need at least 2 values of {cluster!r}")
        df_t = n_clusters - 1
    else:
        # one household per cluster turns the cluster sandwich into HC1
        codes = np.arange(n)
        n_clusters = None
        df_t = n - k

    if kind == "ols":
        fit = sm.WLS(y, X, weights=w).fit()
        bread = np.asarray(fit.normalized_cov_params)
        scores = X * (w * np.asarray(fit.resid))[:, None]
    else:
        link = sm.families.links.Logit() if kind == "logit" else sm.families.links.Probit()
        model = sm.GLM(y, X, family=sm.families.Binomial(link=link), var_weights=w)
        fit = model.fit(tol=1e-12, maxiter=200)
        if not fit.converged:
            raise RimaInputError(f"{kind} of {outcome!r} did not converge (separation?)")
        # Bread from the expected information, as R's glm / survey::svyglm use; for the
        # probit (non-canonical link) the observed Hessian would differ slightly.
        bread = np.linalg.inv(-model.hessian(fit.params, observed=False))
        scores = model.score_obs(fit.params)
    vcov = sandwich.cov_cluster((scores, bread), codes, use_correction=True)

    est = np.asarray(fit.params)
    se = np.sqrt(np.diag(vcov))
    tval = est / se
    crit = stats.t.ppf(0.5 + level / 2, df_t)
    params = pd.DataFrame(
        {
            "term": names,
            "est": est,
            "se": se,
            "t": tval,
            "pvalue": 2 * stats.t.sf(np.abs(tval), df_t),
            "ci_lower": est - crit * se,
            "ci_upper": est + crit * se,
        }
    )
    return RegressionResult(
        kind=kind,
        outcome=outcome,
        params=params,
        nobs=n,
        n_clusters=n_clusters,
        sum_weights=float(w.sum()),
        row_status=row_status,
        excluded=excluded,
        level=level,
        cluster=cluster,
        weight=weight,
        fit=fit,
        vcov_matrix=vcov,
        df=df_t,
    )
