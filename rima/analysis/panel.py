"""Panels: the same households over two or more survey rounds, on the baseline scale.

    p = panel(result, rounds_df, soums=survey.soums)   # result fitted on the baseline round
    p.scores, p.change, p.by_profile, p.transition, p.models; print(p.summary())

Every round is scored with the baseline model (`model.score`): the same pillar weights,
MIMIC coefficients and RCI_100 min-max bounds, never a refit, so a change of RCI_100 is a
change of capacity and not of the yardstick (method.md §4). A later round's households can
score outside [0, 100]; that is information, not an error.

For each later round r (against the baseline round b), per household: RCI_100 at b and r
and the change; the food-security outcome at b and r; `loss` = outcome at r below the
line (default FCS < 35, "borderline") — or a fall of at least `drop` from b; `recovered` =
outcome at r back to at least its baseline level. Regressions (weighted, soum-clustered,
`rima.analysis.regression`): outcome_r, P(loss_r) and P(recovered_r) on baseline RCI, with
the round-r shocks (winter livestock-loss share, soum winter severity) as controls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from rima.analysis.frame import is_result, join_soums, write_tables
from rima.analysis.regression import fit_regression
from rima.classes import DEFAULT_LABELS, DEFAULT_THRESHOLDS, resilience_class
from rima.errors import DataError, RimaInputError
from rima.row_status import missing_reason
from rima.score_table import OUT_OF_RANGE, analysis_columns

if TYPE_CHECKING:
    from rima.analysis.shocks import ShockResult

BORDERLINE_FCS = 35.0


@dataclass
class PanelResult:
    """Result of `panel`.

    Attributes
    ----------
    scores : DataFrame
        Every input row: round, id, soum, pillars, RCI, RCI_100, status, out_of_range,
        class.
    change : DataFrame
        One row per household and later round with baseline and round-r values.
    by_profile : dict
        {variable: weighted mean change of RCI_100 by category, per round}.
    transition : dict
        {round: class transition table (weighted counts and row shares)}.
    models : dict
        {(round, "outcome" | "loss" | "recovered"): RegressionResult}.
    accounting : DataFrame
        Households by presence in the rounds.
    baseline : object
        The baseline round.
    outcome : str
    notes : list of str
    weight : str or None
    round_col : str
    """

    scores: pd.DataFrame
    change: pd.DataFrame
    by_profile: dict
    transition: dict
    models: dict
    accounting: pd.DataFrame
    baseline: object
    outcome: str
    notes: list = field(default_factory=list)
    weight: str | None = None
    round_col: str = "round"

    def shocks(self, round_: Any = None, **kwargs: Any) -> ShockResult:
        """Shock regression of the change in the outcome since the baseline on baseline RCI.

        Defaults: outcome at round r minus baseline outcome, `RCI_base` as the RCI, the
        round's shocks (loss_share, severity when present) interacted with it, baseline
        weights, soum clusters.

        Parameters
        ----------
        round_ : optional
            A later round (default the last).
        **kwargs
            Options of `rima.analysis.shocks.shocks`, overriding the defaults.

        Returns
        -------
        ShockResult

        Raises
        ------
        RimaInputError
            `round_` is not a later round of the panel.
        """
        from rima.analysis.shocks import shocks

        rounds = sorted(self.change[self.round_col].unique().tolist())
        r = rounds[-1] if round_ is None else round_
        if r not in rounds:
            raise RimaInputError(f"round {r!r} is not a later round of this panel ({rounds})")
        frame = self.change[self.change[self.round_col] == r].reset_index(drop=True)
        opts = {"outcome": f"{self.outcome}_round", "baseline": f"{self.outcome}_base",
                "rci": "RCI_base", "weight": self.weight,
                "household_shocks": [c for c in ("loss_share",) if c in frame.columns],
                "soum_shocks": [c for c in ("severity",) if c in frame.columns]}
        opts.update(kwargs)
        return shocks(frame, **opts)

    def summary(self) -> str:
        """The result as text.

        Returns
        -------
        str
        """
        lines = [f"Panel: baseline round {self.baseline}, scored with the baseline model"]
        lines.append(self.accounting.to_string(index=False))
        for r, tab in self.transition.items():
            lines += ["", f"Class transitions, round {self.baseline} -> {r} (row shares, weighted)"]
            lines.append(tab["shares"].to_string(float_format=lambda v: f"{v:.3f}"))
        for var, tab in self.by_profile.items():
            lines += ["", f"Mean change in RCI_100 by {var}"]
            lines.append(tab.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        for (r, what), m in self.models.items():
            lines += ["", f"Round {r}, {what}:", m.summary()]
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)

    def write(self, directory: str | Path, fmt: str = "csv") -> dict:
        """Write the result's tables as ``<name>.<fmt>`` files.

        Parameters
        ----------
        directory : str or Path
            Created if needed.
        fmt : str, default "csv"
            csv, tsv, parquet, dta or xlsx.

        Returns
        -------
        dict
            {table name: path written}.
        """
        tables = {"panel_scores": self.scores, "panel_change": self.change,
                  "panel_accounting": self.accounting}
        for var, tab in self.by_profile.items():
            tables[f"panel_change_by_{var}"] = tab
        for r, tab in self.transition.items():
            tables[f"panel_transition_round{r}"] = tab["counts"].reset_index()
        for (r, what), m in self.models.items():
            tables[f"panel_{what}_round{r}"] = m.params
        return write_tables(directory, tables, fmt)


def panel(
    model_or_result: Any,
    data: pd.DataFrame | dict,
    *,
    round_col: str = "round",
    baseline: Any = None,
    soums: pd.DataFrame | None = None,
    outcome: str = "fcs",
    loss_line: float | None = None,
    drop: float | None = None,
    shocks: Sequence[str] | None = ("loss_share", "severity"),
    weight: str | None = "spec",
    cluster: str | None = "soum",
    soum_col: str = "soum",
    profiles: Sequence[str] | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    labels: Sequence[str] = DEFAULT_LABELS,
    level: float = 0.95,
) -> PanelResult:
    """Score every round with the baseline model and analyse change; see the module doc.

    Parameters
    ----------
    model_or_result : FittedModel or RimaResult
        The model of the baseline round (`rima.load`, or a fit's result).
    data : DataFrame or dict
        One frame with a `round_col` column, or {round: frame}.
    round_col : str, default "round"
    baseline : optional
        The baseline round (default: the first round).
    soums : DataFrame, optional
        The dzud soum table, joined by soum and round.
    outcome : str, default "fcs"
        The food-security outcome whose change is analysed.
    loss_line, drop : float, optional
        How a loss is defined (as in `rima.analysis.shocks.shocks`).
    shocks : sequence of str
        Shock columns of the regressions (those present are used).
    weight : str or None, default "spec"
        Survey weight column; "spec" = the model spec's weight.
    cluster : str or None, default "soum"
        Cluster column of the standard errors.
    soum_col : str, default "soum"
    profiles : sequence of str, optional
        Profile variables of the change tables (default the spec's).
    thresholds, labels : sequence
        Resilience classes of RCI_100 (`rima.classes`).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    PanelResult

    Raises
    ------
    DataError
        A round, column or household the panel needs is missing.
    """
    model = model_or_result.model if is_result(model_or_result) else model_or_result
    if not hasattr(model, "score"):
        raise RimaInputError("expected a fitted model (rima.load) or a fitted result (rima.fit)")
    spec = model.spec
    idc = spec.id
    if weight == "spec":
        weight = spec.weight
    frame = stack_rounds(data, round_col)
    rounds = sorted(frame[round_col].dropna().unique().tolist())
    if len(rounds) < 2:
        raise DataError(f"a panel needs at least 2 rounds in column {round_col!r}, found {rounds}")
    if baseline is None:
        baseline = rounds[0]
    if baseline not in rounds:
        raise DataError(f"baseline round {baseline!r} is not in the data (rounds: {rounds})")
    if drop is not None and loss_line is not None:
        raise RimaInputError("give either loss_line or drop, not both")
    if drop is not None and not drop > 0:
        raise RimaInputError(f"drop must be positive, got {drop!r}")
    line = BORDERLINE_FCS if loss_line is None else float(loss_line)
    for col in [idc, soum_col, outcome] + ([weight] if weight else []):
        if col not in frame.columns:
            raise DataError(f"column {col!r} not found in the panel data")
    if frame[idc].isna().any():
        i = int(np.flatnonzero(frame[idc].isna().to_numpy())[0])
        raise DataError(f"household id {idc!r} is missing at data row {i + 1}")
    dup = frame.duplicated([round_col, idc], keep=False)
    if dup.any():
        first = frame.loc[dup, [round_col, idc]].iloc[0]
        raise DataError(f"household {first[idc]} appears more than once in round "
                        f"{first[round_col]} ({int(dup.sum())} duplicated rows in all)")
    base_ids = set(frame.loc[frame[round_col] == baseline, idc])
    for r in rounds:
        if r == baseline:
            continue
        shared = base_ids & set(frame.loc[frame[round_col] == r, idc])
        if not shared:
            raise DataError(
                f"rounds {baseline!r} and {r!r} share no households (no {idc!r} value in both); "
                "a panel follows the same households: check the id column and the rounds")
    if soums is not None:
        frame = join_soums(frame, soums, soum_col)

    # ---------------------------------------------------------------- scores on one scale
    parts = []
    for r in rounds:
        sub = frame[frame[round_col] == r]
        sc = model.score(sub)
        sc.index = sub.index
        parts.append(sc)
    sc = pd.concat(parts).loc[frame.index]
    scores = pd.DataFrame({round_col: frame[round_col], idc: frame[idc],
                           soum_col: frame[soum_col].astype(str)})
    for c in [*analysis_columns(model.pillar_names), OUT_OF_RANGE]:
        if c in sc.columns:
            scores[c] = sc[c].to_numpy()
    scores["class"] = resilience_class(scores["RCI_100"], thresholds, labels)
    scores = scores.reset_index(drop=True)

    # ---------------------------------------------------------------- wide change table
    keep = [c for c in dict.fromkeys([idc, soum_col, outcome, weight, *(shocks or ()),
                                      *(profiles if profiles is not None else spec.profiles)])
            if c and c in frame.columns]
    missing_shocks = [s for s in (shocks or ()) if s not in frame.columns]
    notes = []
    if missing_shocks:
        notes.append(f"shock column(s) {missing_shocks} not in the data"
                     + ("" if soums is not None else " (pass soums= for the soum table)")
                     + "; regressions run without them")
    used_shocks = [s for s in (shocks or ()) if s in frame.columns]
    wide = frame[keep].copy()
    wide[round_col] = frame[round_col].to_numpy()
    for c in ("RCI", "RCI_100", "status"):
        wide[c] = sc[c].to_numpy()
    wide["class"] = resilience_class(wide["RCI_100"], thresholds, labels).to_numpy()
    base = wide[wide[round_col] == baseline].set_index(idc)
    changes = []
    for r in rounds:
        if r == baseline:
            continue
        cur = wide[wide[round_col] == r].set_index(idc)
        ids = base.index.intersection(cur.index)
        c = pd.DataFrame(index=ids)
        c.index.name = idc
        c[round_col] = r
        c[soum_col] = base.loc[ids, soum_col].astype(str)
        if weight:
            c[weight] = base.loc[ids, weight].astype(float)
        for p in (profiles if profiles is not None else spec.profiles):
            if p in base.columns and p != soum_col:
                c[p] = base.loc[ids, p]
        c["RCI_base"] = base.loc[ids, "RCI"]
        c["RCI_100_base"] = base.loc[ids, "RCI_100"]
        c["RCI_100_round"] = cur.loc[ids, "RCI_100"]
        c["RCI_100_change"] = c["RCI_100_round"] - c["RCI_100_base"]
        c["class_base"] = base.loc[ids, "class"]
        c["class_round"] = cur.loc[ids, "class"]
        yb = pd.to_numeric(base.loc[ids, outcome], errors="coerce")
        yr = pd.to_numeric(cur.loc[ids, outcome], errors="coerce")
        c[f"{outcome}_base"] = yb
        c[f"{outcome}_round"] = yr
        if drop is not None:
            loss = (yb - yr >= drop).astype(float)
        else:
            loss = (yr < line).astype(float)
        c["loss"] = loss.where(yr.notna() & (yb.notna() if drop is not None else True))
        c["recovered"] = (yr >= yb).astype(float).where(yr.notna() & yb.notna())
        for s in used_shocks:
            c[s] = pd.to_numeric(cur.loc[ids, s], errors="coerce") if s in cur.columns else np.nan
        c["status_base"] = base.loc[ids, "status"]
        c["status_round"] = cur.loc[ids, "status"]
        changes.append(c.reset_index())
    change = pd.concat(changes, ignore_index=True)
    if change["class_base"].dtype != "category":
        change["class_base"] = pd.Categorical(change["class_base"], categories=list(labels),
                                              ordered=True)
        change["class_round"] = pd.Categorical(change["class_round"], categories=list(labels),
                                               ordered=True)

    # ---------------------------------------------------------------- accounting
    presence = frame.groupby(idc)[round_col].apply(lambda s: tuple(sorted(s.tolist())))
    acc = presence.value_counts().rename_axis("rounds").reset_index(name="households")
    acc["rounds"] = acc["rounds"].map(lambda t: ", ".join(map(str, t)))
    only_later = int(sum(baseline not in t for t in presence))
    if only_later:
        notes.append(f"{only_later} household(s) are not in the baseline round and have no "
                     "change (they are scored in `scores`)")

    # ---------------------------------------------------------------- profiles, transitions
    prof_vars = [soum_col] + [p for p in (profiles if profiles is not None else spec.profiles)
                              if p != soum_col and p in change.columns]
    by_profile = {v: _change_by(change, v, round_col, weight, level) for v in prof_vars}
    transition = {}
    for r in rounds:
        if r == baseline:
            continue
        sub = change[(change[round_col] == r) & change["class_base"].notna()
                     & change["class_round"].notna()]
        w = sub[weight].to_numpy(float) if weight else np.ones(len(sub))
        counts = pd.crosstab(sub["class_base"], sub["class_round"], values=w, aggfunc="sum",
                             dropna=False).reindex(index=list(labels), columns=list(labels)).fillna(0.0)
        counts.index.name = f"class_round{baseline}"
        counts.columns.name = f"class_round{r}"
        n = pd.crosstab(sub["class_base"], sub["class_round"], dropna=False).reindex(
            index=list(labels), columns=list(labels)).fillna(0).astype(int)
        shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
        transition[r] = {"counts": counts, "households": n, "shares": shares}

    # ---------------------------------------------------------------- regressions
    models = {}
    for r in rounds:
        if r == baseline:
            continue
        sub = change[change[round_col] == r].reset_index(drop=True)
        terms = ["RCI_base", *used_shocks]
        sub[f"{outcome}_round"] = sub[f"{outcome}_round"].astype(float)
        fits = {"outcome": (f"{outcome}_round", "ols"), "loss": ("loss", "logit"),
                "recovered": ("recovered", "logit")}
        for what, (y, kind) in fits.items():
            try:
                m = fit_regression(sub, y, terms, kind=kind, weight=weight, cluster=cluster,
                                   level=level)
            except DataError as exc:
                if what == "outcome":
                    raise
                notes.append(f"round {r} {what} model not estimated: {exc}")
                continue
            _explain_unscored(m, sub)
            models[(r, what)] = m
    return PanelResult(scores=scores, change=change, by_profile=by_profile,
                       transition=transition, models=models, accounting=acc, baseline=baseline,
                       outcome=outcome, notes=notes, weight=weight, round_col=round_col)


def _explain_unscored(model, sub):
    # a household without a baseline score: say why it was not scored
    for col, st in (("RCI_base", "status_base"),):
        bad = (model.row_status == missing_reason([col])) & (sub[st] != "ok")
        if bad.any():
            model.row_status[bad] = "not scored at baseline: " + sub.loc[bad, st].astype(str)
            model.excluded = model.row_status[model.row_status != "ok"].value_counts().to_dict()


def stack_rounds(data, round_col):
    if isinstance(data, dict):
        if len(data) < 2:
            raise DataError(f"a panel needs at least 2 rounds, got {len(data)}")
        parts = []
        for r, df in data.items():
            if not isinstance(df, pd.DataFrame):
                raise DataError(f"round {r!r} is not a DataFrame")
            df = df.copy()
            if round_col in df.columns and (df[round_col] != r).any():
                raise DataError(f"round {r!r}: its {round_col!r} column holds other rounds")
            df[round_col] = r
            parts.append(df)
        return pd.concat(parts, ignore_index=True)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"panel data must be a DataFrame or {{round: DataFrame}}, got {type(data).__name__}")
    if round_col not in data.columns:
        raise DataError(f"the panel data has no {round_col!r} column")
    if data[round_col].isna().any():
        i = int(np.flatnonzero(data[round_col].isna().to_numpy())[0])
        raise DataError(f"round column {round_col!r} is missing at data row {i + 1}")
    return data.reset_index(drop=True)


def _change_by(change, var, round_col, weight, level):
    from rima.profiles import weighted_mean_se

    rows = []
    ok = change["RCI_100_change"].notna()
    # a category is a domain of the round's sample: its SE uses the round's sample size, as
    # rima.profiles (and survey::svyby) do
    n_round = change[ok].groupby(round_col).size()
    for (r, g), sub in change[ok].groupby([round_col, var], observed=True, sort=True):
        y = sub["RCI_100_change"].to_numpy(float)
        w = sub[weight].to_numpy(float) if weight else None
        m, se = weighted_mean_se(y, w, n_design=int(n_round[r]))
        n = len(sub)
        crit = stats.t.ppf(0.5 + level / 2, n - 1) if n > 1 else np.nan
        rows.append({round_col: r, var: g, "households": n, "mean_change": m, "se": se,
                     "ci_lower": m - crit * se, "ci_upper": m + crit * se,
                     "mean_RCI_100_base": weighted_mean_se(sub["RCI_100_base"].to_numpy(float), w)[0]})
    return pd.DataFrame(rows)


def transition_html(p: PanelResult, round_=None) -> str:
    """The class transition matrix (weighted row shares) as an HTML fragment."""
    r = round_ if round_ is not None else next(iter(p.transition))
    return p.transition[r]["shares"].to_html(float_format=lambda v: f"{v:.3f}",
                                             classes="rima-table", border=0)
