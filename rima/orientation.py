"""Pillar orientation: which sign a pillar score gets, and the sign checks on the result.

A factor's sign is arbitrary; the reference procedure (psych) makes each factor's loadings
sum to a positive number, so a pillar points wherever most of its variables point. When
"bad" variables (distances, dependency) dominate a pillar, that rule makes the pillar
measure their opposite, and with a small sample the direction can flip from one survey to
the next. The rule applied by default (`orientation = "capacity"`, docs/orientation.md):

1. a declared anchor: the sign that makes the pillar correlate with the anchor variable
   as asked (`[options.anchor]`);
2. otherwise the food-security indicators: the sign that makes the pillar correlate
   positively with their composite (mean of the z-scored indicators), when that
   correlation is distinguishable from zero (|t| >= 1.96 with n - 2 df);
3. otherwise the variables: psych's convention on the variables with the declared
   `negative` ones reversed (the pillar rises with its variables on balance).

`orientation = "reference"` keeps psych's convention (with anchors and `negative` as
declared), which is what Shiny RIMA does.

Neither the RCI nor the RSM shares depend on these signs: the MIMIC coefficient of a
pillar changes sign with it and the RSM uses |correlations|.
"""

from __future__ import annotations

import warnings

import numpy as np

from rima.errors import OrientationWarning

T_CRITICAL = 1.96

RULE_ANCHOR = "anchor"
RULE_FOOD_SECURITY = "food security"
RULE_VARIABLES = "variables (psych sign convention)"


def composite(Y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean of the indicators z-scored on `rows` (NaN where a row has none of them)."""
    Y = np.asarray(Y, dtype=float)
    mean = np.nanmean(Y[rows], axis=0)
    sd = np.nanstd(Y[rows], axis=0, ddof=1)
    sd[~(sd > 0)] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean((Y - mean) / sd, axis=1)


def correlation(x, y, w=None) -> tuple[float, int]:
    """Weighted Pearson correlation over the rows where both are finite, and that count."""
    both = np.isfinite(x) & np.isfinite(y)
    n = int(both.sum())
    if n < 3:
        return float("nan"), n
    x, y = x[both], y[both]
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)[both]
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    sxy = np.sum(w * (x - xm) * (y - ym))
    den = np.sqrt(np.sum(w * (x - xm) ** 2) * np.sum(w * (y - ym) ** 2))
    return (float(sxy / den) if den > 0 else float("nan")), n


def decisive(r: float, n: int) -> bool:
    """Whether a correlation of r over n rows is distinguishable from zero (|t| >= 1.96)."""
    if not np.isfinite(r) or n < 3:
        return False
    if abs(r) >= 1.0:
        return True
    return abs(r) * np.sqrt((n - 2) / (1.0 - r * r)) >= T_CRITICAL


def weight_warnings(pillar: str, weights, negative) -> list[str]:
    """Messages for variables whose net weight in the pillar has the unexpected sign: a
    variable not declared `negative` that lowers the pillar, or a declared one that raises
    it."""
    out = []
    w = np.asarray(weights, dtype=float)
    tol = 1e-8 * (np.max(np.abs(w)) if w.size else 0.0)
    for v, x in zip(weights.index, w):
        neg = v in negative
        if (x < -tol and not neg):
            out.append(f"pillar {pillar}: {v} has a negative net weight ({x:.3g}): households "
                       f"with more {v} score lower on {pillar}; if higher {v} means less "
                       "capacity, declare it in [options] negative")
        elif x > tol and neg:
            out.append(f"pillar {pillar}: {v} is declared negative but has a positive net "
                       f"weight ({x:.3g}): households with more {v} score higher on {pillar}")
    return out


def coefficient_warnings(params, names) -> list[str]:
    """Messages for pillars whose MIMIC coefficient (RCI ~ pillar) is negative."""
    out = []
    reg = params[params["op"] == "~"].set_index("rhs")
    for p in names:
        if p in reg.index:
            est = float(reg.loc[p, "est"])
            if est < 0:
                out.append(f"pillar {p}: its MIMIC coefficient is negative ({est:.3f}): "
                           f"households with more {p} are predicted less resilient, holding "
                           "the other pillars fixed")
    return out


def warn_all(messages) -> None:
    for m in messages:
        warnings.warn(m, OrientationWarning, stacklevel=3)
