"""Shock analysis: does resilience capacity protect food security when the winter hits?

    res = shocks(result, soums=survey_soums)                       # FCS level, OLS
    res = shocks(result, soums=survey_soums, kind="logit")         # P(FCS < 35)
    res = shocks(frame, baseline="fcs_r1", kind="ols")             # change in FCS
    print(res.summary()); res.table

Regressors: the RCI, household (idiosyncratic) shocks such as the winter livestock-loss
share, soum (covariate) shocks such as winter severity or the dzud / dzud-like class, the
products of the RCI with each shock, and controls. In the products the RCI is centred at
its weighted mean, so a shock's own coefficient is its effect on the average household and
the product's coefficient says how much one unit more RCI changes that effect (a positive
value on an FCS outcome: more resilient households lose less).

The dzud class enters as indicators of "dzud" and "dzud-like" against "none".
Estimation, weights and clustered standard errors: `rima.analysis.regression`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rima.analysis.frame import household_frame, weighted_mean, weights_of
from rima.analysis.regression import RegressionResult, fit_regression
from rima.errors import DataError, RimaInputError
from rima.row_status import missing_reason

DZUD_LEVELS = ("dzud", "dzud-like")
BORDERLINE_FCS = 35.0


@dataclass
class ShockResult:
    """Result of `shocks`.

    Attributes
    ----------
    model : RegressionResult
        The regression (table, SEs, row status).
    table : DataFrame
        model.params with a ``role`` column (intercept, rci, household_shock, soum_shock,
        interaction, control).
    outcome : str
        Description of the dependent variable.
    frame : DataFrame
        The analysis frame (household data with the constructed terms).
    rci_mean : float
        Weighted mean of the RCI the interactions are centred at.
    roles : dict
        {term: role}.
    """

    model: RegressionResult
    table: pd.DataFrame
    outcome: str
    frame: pd.DataFrame = field(repr=False)
    rci_mean: float = 0.0
    roles: dict = field(default_factory=dict)

    def summary(self) -> str:
        """The outcome and the regression table as text.

        Returns
        -------
        str
        """
        return f"Outcome: {self.outcome}\n" + self.model.summary()

    @property
    def row_status(self) -> pd.Series:
        """Every input row: "ok" or why the regression did not use it."""
        return self.model.row_status


def shocks(
    result_or_frame: Any,
    *,
    soums: pd.DataFrame | None = None,
    outcome: str = "fcs",
    kind: str = "ols",
    rci: str = "RCI",
    household_shocks: str | Sequence[str] = ("loss_share",),
    soum_shocks: str | Sequence[str] = ("severity",),
    interactions: bool = True,
    controls: str | Sequence[str] = (),
    baseline: str | None = None,
    loss_line: float | None = None,
    drop: float | None = None,
    weight: str | None = "spec",
    cluster: str | None = "soum",
    level: float = 0.95,
    where: str | None = None,
) -> ShockResult:
    """Regress food security on RCI, shocks, their interactions with RCI and controls.

    Parameters
    ----------
    result_or_frame : RimaResult or DataFrame
        A fitted result (`rima.fit`) or a DataFrame holding `rci` and the data.
    soums : DataFrame, optional
        The dzud soum table (joined by soum, and round if present); needed when the soum
        shocks are not already columns of the data.
    outcome : str, default "fcs"
        Food-security column.
    kind : {"ols", "logit", "probit"}, default "ols"
        "ols" for the level (or change), "logit" / "probit" for a loss indicator.
    rci : str, default "RCI"
        The resilience column.
    household_shocks, soum_shocks : str or sequence of str
        Shock columns of the households and of the soum table.
    interactions : bool, default True
        Interact each shock with the RCI (centred at its weighted mean).
    controls : str or sequence of str
        Further regressors.
    baseline : str, optional
        Column with the earlier value of `outcome`; OLS then models the change
        outcome - baseline, and `drop` can define the loss.
    loss_line : float, optional
        A loss is outcome < loss_line (default 35, the FCS "borderline" line).
    drop : float, optional
        A loss is a fall of at least `drop` from `baseline` (instead of a line).
    weight : str or None, default "spec"
        Survey weight column; "spec" = the result's spec weight (none for a frame).
    cluster : str or None, default "soum"
        Cluster column for the standard errors (None = HC1).
    level : float, default 0.95
        Confidence level.
    where : str, optional
        Restrict to households meeting a condition, e.g. "dzud_class != 'none'" (loss
        after a shock); the others are listed in row_status, not dropped silently.

    Returns
    -------
    ShockResult

    Raises
    ------
    RimaInputError
        No shock named, or an invalid setting.
    DataError
        A named column is missing from the data.
    """
    frame = household_frame(result_or_frame, soums)
    if weight == "spec":
        spec = getattr(result_or_frame, "spec", None)
        weight = getattr(spec, "weight", None)
    household_shocks = _as_list(household_shocks, "household_shocks")
    soum_shocks = _as_list(soum_shocks, "soum_shocks")
    controls = _as_list(controls, "controls")
    if not household_shocks and not soum_shocks:
        raise RimaInputError("name at least one household or soum shock")
    for col in [outcome, rci, *household_shocks, *soum_shocks, *controls] + (
        [baseline] if baseline else []
    ):
        if col not in frame.columns:
            hint = " (pass soums= the dzud soum table)" if col in soum_shocks else ""
            raise DataError(f"column {col!r} not found in the data{hint}")

    y_name, y, description = _outcome(frame, outcome, kind, baseline, loss_line, drop)
    frame[y_name] = y

    roles = {rci: "rci"}
    shock_terms = []
    for s in household_shocks:
        shock_terms += _expand(frame, s)
        roles.update({t: "household_shock" for t in shock_terms if t not in roles})
    for s in soum_shocks:
        new = _expand(frame, s)
        shock_terms += new
        roles.update({t: "soum_shock" for t in new})

    w = weights_of(frame, weight)
    rci_values = pd.to_numeric(frame[rci], errors="coerce").to_numpy(dtype=float)
    rci_mean = weighted_mean(rci_values, w)
    inter_terms = []
    if interactions:
        centred = rci_values - rci_mean
        for t in shock_terms:
            name = f"{rci}:{t}"
            frame[name] = centred * frame[t].to_numpy(dtype=float)
            inter_terms.append(name)
            roles[name] = "interaction"
    control_terms = []
    for c in controls:
        new = _expand(frame, c)
        control_terms += new
        roles.update({t: "control" for t in new})

    terms = [rci, *shock_terms, *inter_terms, *control_terms]
    subset = None if where is None else _condition(frame, where)
    model = fit_regression(frame, y_name, terms, kind=kind, weight=weight, cluster=cluster,
                           level=level, subset=subset, subset_reason=f"not where {where}")
    if "status" in frame.columns:
        # an unscored household: say why it was not scored, not just "missing RCI"
        unscored = (model.row_status == missing_reason([rci])) & (frame["status"] != "ok")
        model.row_status[unscored] = "not scored: " + frame.loc[unscored, "status"].astype(str)
    table = model.params.copy()
    table.insert(1, "role", [roles.get(t, "intercept") for t in table["term"]])
    return ShockResult(model=model, table=table, outcome=description, frame=frame,
                       rci_mean=rci_mean, roles=roles)


def _condition(frame, where):
    try:
        sel = frame.eval(where)
    except Exception as exc:  # noqa: BLE001 - pandas raises many types for a bad expression
        raise RimaInputError(f"where {where!r} cannot be evaluated on the data: {exc}") from None
    if not isinstance(sel, pd.Series) or not pd.api.types.is_bool_dtype(sel):
        raise RimaInputError(f"where {where!r} must be a true/false condition on each household")
    return sel.fillna(False).to_numpy()


def _as_list(value, name):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise RimaInputError(f"{name} must be a column name or a list of them") from None


def _outcome(frame, outcome, kind, baseline, loss_line, drop):
    y = pd.to_numeric(frame[outcome], errors="coerce").to_numpy(dtype=float)
    if frame[outcome].notna().sum() and np.isnan(y).sum() > frame[outcome].isna().sum():
        raise DataError(f"outcome column {outcome!r} must be numeric")
    base = None
    if baseline is not None:
        base = pd.to_numeric(frame[baseline], errors="coerce").to_numpy(dtype=float)
    if kind == "ols":
        if loss_line is not None or drop is not None:
            raise RimaInputError("loss_line and drop define a binary loss: use kind='logit' or 'probit'")
        if base is None:
            return outcome, y, f"{outcome} (level)"
        return f"d_{outcome}", y - base, f"{outcome} - {baseline} (change)"
    if kind not in ("logit", "probit"):
        raise RimaInputError(f"kind must be 'ols', 'logit' or 'probit', got {kind!r}")
    if drop is not None:
        if loss_line is not None:
            raise RimaInputError("give either loss_line or drop, not both")
        if base is None:
            raise RimaInputError("drop needs baseline= (the column with the earlier value)")
        if not drop > 0:
            raise RimaInputError(f"drop must be positive, got {drop!r}")
        loss = np.where(np.isnan(y) | np.isnan(base), np.nan, (base - y >= drop).astype(float))
        return f"{outcome}_drop", loss, f"{outcome} fell by >= {drop:g} from {baseline}"
    line = BORDERLINE_FCS if loss_line is None else float(loss_line)
    loss = np.where(np.isnan(y), np.nan, (y < line).astype(float))
    return f"{outcome}_below", loss, f"{outcome} < {line:g}"


def _expand(frame, col):
    """A numeric column is one term; a text/categorical one becomes 0/1 indicators.

    dzud_class gets "dzud" and "dzud-like" against "none"; other categories are coded
    against their first level, the reference named nowhere else so it is kept simple.
    """
    s = frame[col]
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        frame[col] = s.astype(float)
        return [col]
    values = s.astype("string")
    if col == "dzud_class":
        levels = [lv for lv in DZUD_LEVELS]
        unknown = sorted(set(values.dropna()) - {"none", *DZUD_LEVELS})
        if unknown:
            raise DataError(f"dzud_class has unknown value(s) {unknown}; expected none, dzud-like, dzud")
    else:
        cats = list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) else sorted(
            values.dropna().unique()
        )
        levels = [str(c) for c in cats[1:]]
    names = []
    miss = values.isna().to_numpy()
    for lv in levels:
        name = f"{col}[{lv}]"
        ind = (values == lv).fillna(False).to_numpy().astype(float)
        ind[miss] = np.nan
        frame[name] = ind
        names.append(name)
    return names


def coefficient_figure(res: ShockResult, roles=("household_shock", "soum_shock", "interaction", "rci")):
    """Coefficient plot (estimates with CIs) of a shock regression: a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tab = res.table[res.table["role"].isin(roles)].iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(tab) + 1.2))
    yy = np.arange(len(tab))
    ax.errorbar(tab["est"], yy, xerr=[tab["est"] - tab["ci_lower"], tab["ci_upper"] - tab["est"]],
                fmt="o", color="#1f4e79", ecolor="#7aa6d6", capsize=3)
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(yy, tab["term"])
    pct = round(100 * res.model.level)
    ax.set_xlabel(f"effect on {res.outcome} ({pct}% CI, soum-clustered)")
    ax.set_title("Shock regression")
    fig.tight_layout()
    return fig
