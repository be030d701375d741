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

from rima._kernels import orient as _k
from rima._kernels.columns import read_only
from rima.errors import OrientationWarning

T_CRITICAL = _k.T_CRITICAL

RULE_ANCHOR = "anchor"
RULE_FOOD_SECURITY = "food security"
RULE_VARIABLES = "variables (psych sign convention)"
_RULE_NAMES = {_k.RULE_ANCHOR: RULE_ANCHOR, _k.RULE_FOOD_SECURITY: RULE_FOOD_SECURITY,
               _k.RULE_VARIABLES: RULE_VARIABLES}


def composite(Y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean of the indicators z-scored on `rows` (NaN where a row has none of them)."""
    Yt = _columns(Y)
    fs = np.empty(Yt.shape[1])
    _, mean, sd = _k.nan_column_moments(Yt, read_only(np.ascontiguousarray(rows, dtype=bool)))
    _k.composite_correlations(Yt, mean, sd, read_only(np.empty((0, Yt.shape[1]))),
                              read_only(np.ones(Yt.shape[1], dtype=bool)), read_only(np.empty(0)), False,
                              fs=fs)
    return fs


def composite_correlations(Y, P, rows, w=None, ymean=None, ysd=None) -> list:
    """[(correlation, rows used)] of each pillar P[:, k] with the food-security composite
    over the rows where `rows` is True and both are finite (`correlation` for each, in one
    pass over the rows). The composite z-scores the indicators with `ymean` and `ysd` when
    given (the means and n - 1 SDs over `rows`, e.g. from the fit's moments pass), else
    with their means and SDs over `rows`."""
    Yt = _columns(Y)
    Pt = _columns(P)
    rows = read_only(np.ascontiguousarray(rows, dtype=bool))
    if ymean is None or ysd is None:
        _, ymean, ysd = _k.nan_column_moments(Yt, rows)
    use_w = w is not None
    w = read_only(np.ascontiguousarray(w, dtype=float) if use_w else np.empty(0))
    n, r = _k.composite_correlations(Yt, read_only(np.asarray(ymean, dtype=float)),
                                     np.asarray(ysd, dtype=float), Pt, rows, w, use_w)
    return [(float(r[k]), int(n[k])) for k in range(Pt.shape[0])]


def composite_correlations_from_comoment(C, m, n) -> list:
    """`composite_correlations` from the co-moments C of (m indicators, K pillars, the
    composite) over n complete rows, for a caller whose pillars and composite are known
    linear maps of columns it has the co-moments of (the fit's moments pass)."""
    K = C.shape[0] - m - 1
    out = []
    for k in range(K):
        den = np.sqrt(C[m + k, m + k] * C[m + K, m + K])
        # the rule of the pass over rows: a correlation needs three rows and some spread
        out.append((float(C[m + k, m + K] / den) if n >= 3 and den > 0 else float("nan"), n))
    return out


def _columns(A):
    """(k, n) C-contiguous, read-only: one row per column of A (n, k); a column-major A
    is used without a copy."""
    A = np.asarray(A, dtype=float)
    return read_only(np.ascontiguousarray(A.T))


def orient_sign(want: float, anchor_r: float, capacity: bool, fs_r: float, n: int):
    """(sign, rule name) of a pillar by the rule above (`rima._kernels.orient.orient_sign`,
    which the bootstrap's replicates run too): want = the anchor's wanted sign (0 without
    an anchor), anchor_r = the pillar's correlation with its anchor, capacity =
    orientation "capacity", fs_r and n = its correlation with the food-security composite
    and the rows behind it. The sign (+1 or -1) multiplies the psych-signed pillar."""
    s, rule = _k.orient_sign(float(want), float(anchor_r), bool(capacity), float(fs_r),
                             int(n))
    return s, _RULE_NAMES[rule]


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
