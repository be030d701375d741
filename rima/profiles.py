"""Results by profile variable (soum, sex of head, ...): any number of profile variables.

For each category: households, sum of weights, weighted mean RCI_100 with its standard
error and 95 % confidence interval, weighted pillar means and the RSM within the group.

The standard error is the linearised one of a domain mean (a ratio estimator) in a
one-stage design with sampling weights, as R's survey::svyby(~y, ~group, svymean) computes
it: sqrt(N/(N-1) Σ_{i in group} w_i² (y_i - ȳ)²) / Σ_{i in group} w_i, where N counts all
scored households (the group is a domain of the sample, its size is random). The interval
uses Student's t with n_group - 1 degrees of freedom.
"""

import numpy as np
import pandas as pd
from scipy import stats

from rima.errors import RimaInputError
from rima.rsm import rsm_shares

MISSING_LABEL = "(missing)"


def weighted_mean_se(y, w=None, n_design=None):
    """Weighted mean and its linearised SE; `n_design` = sample size of the whole design."""
    y = np.asarray(y, dtype=float)
    n = y.size if n_design is None else int(n_design)
    w = np.ones(y.size) if w is None else np.asarray(w, dtype=float)
    sw = w.sum()
    m = float(w @ y / sw)
    if n < 2:
        return m, np.nan
    se = float(np.sqrt(n / (n - 1) * np.sum(w**2 * (y - m) ** 2)) / sw)
    return m, se


def weighted_mean_ci(values, weights=None, level=0.95, n_design=None):
    """(mean, se, lower, upper) of one vector, as survey::svymean and confint(df = n - 1).

    `n_design` is the sample size of the whole design when `values` is one domain of it
    (see the module docstring); by default the vector is the whole sample. The interval
    uses Student's t with len(values) - 1 degrees of freedom; with one value the SE and
    the bounds are NaN.
    """
    if not 0 < level < 1:
        raise RimaInputError(f"level must be in (0, 1), got {level!r}")
    mean, se = weighted_mean_se(values, weights, n_design)
    n = np.size(values)
    t = stats.t.ppf(0.5 + level / 2, n - 1) if n > 1 else np.nan
    return mean, se, mean - t * se, mean + t * se


def profile_table(scores: pd.DataFrame, groups: pd.Series, pillar_names, weights=None,
                  rsm_kind="correlation", mimic_params=None, level=0.95):
    """One row per category of `groups` over the rows of `scores` with status "ok"."""
    ok = (scores["status"] == "ok").to_numpy()
    g = groups.astype(object).where(groups.notna(), MISSING_LABEL).to_numpy()[ok]
    pillar_names = list(pillar_names)
    rci100 = scores["RCI_100"].to_numpy(dtype=float)[ok]
    rci = scores["RCI"].to_numpy(dtype=float)[ok]
    pillars = scores[pillar_names].to_numpy(dtype=float)[ok]
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    # one factorisation and a stable sort instead of a comparison over all rows per
    # category: the rows of each category keep their order, so every sum is unchanged
    codes, categories = pd.factorize(g)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(categories)))])
    n_design = int(ok.sum())
    recs = []
    for code in sorted(range(len(categories)), key=lambda c: str(categories[c])):
        rows = order[bounds[code]:bounds[code + 1]]
        wm = None if w is None else w[rows]
        mean, se, lower, upper = weighted_mean_ci(rci100[rows], wm, level, n_design=n_design)
        n = len(rows)
        rec = {"category": categories[code], "households": n,
               "sum_weights": float(n if wm is None else wm.sum()),
               "mean_RCI_100": mean, "se": se, "ci_lower": lower, "ci_upper": upper}
        for j, p in enumerate(pillar_names):
            rec[f"mean_{p}"] = weighted_mean_se(pillars[rows, j], wm)[0]
        if n > 2:
            shares = rsm_shares(pd.DataFrame(pillars[rows], columns=pillar_names), rci[rows],
                                wm, rsm_kind, mimic_params)
            for p, share in zip(shares["pillar"], shares["share"]):
                rec[f"rsm_{p}"] = share
        else:
            for p in pillar_names:
                rec[f"rsm_{p}"] = np.nan
        recs.append(rec)
    return pd.DataFrame(recs)


def profiles(scores, data, profile_vars, pillar_names, weights=None, rsm_kind="correlation",
             mimic_params=None):
    """{profile variable: table} for every profile variable."""
    return {v: profile_table(scores, data[v], pillar_names, weights, rsm_kind, mimic_params)
            for v in profile_vars}
