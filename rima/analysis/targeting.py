"""Targeting: resilience classes, low-resilience lists by soum, soum early-action ranking.

    t = target(result, soums=survey_soums)                      # fixed thirds of RCI_100
    t = target(result, thresholds=[30, 60])                     # user cut points
    t = target(result, quantiles=[0.25, 0.5, 0.75], labels=[...])  # weighted quantiles
    t.households, t.low, t.soums; t.write(directory, fmt="csv")

Classes come from `rima.classes` (the one definition shared with scenarios and the HTTP
service). The soum table has, per soum, the weighted share of low-resilience households
with its standard error (`rima.profiles.weighted_mean_se`, the linearised SE of a weighted
mean), the estimated number of such households (share x sum of weights, i.e. x the soum's
herder households when weights are inverse inclusion probabilities), and the soum's dzud
class, winter severity and livestock mortality.

Ranking for early action (`RANKING_RULE`, shared with the service's /aggregate): by the
expected number of low-resilience households the winter hits hard, ``priority = severity
x estimated low-resilience households``, so a large, badly hit soum comes before a small
one; without a soum table (or its severity) priority is the estimated number alone. Ties
go to more estimated low-resilience households, then the more severe dzud class, then the
lower mean RCI_100, then the soum name; a soum without scored households has no priority
and comes last, unranked. The ranking table prints its `priority` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rima.analysis.frame import household_frame, weights_of, write_tables
from rima.classes import (
    DEFAULT_LABELS,
    DEFAULT_THRESHOLDS,
    resilience_class,
    resilience_class_quantile,
)
from rima.errors import DataError, RimaInputError

DZUD_ORDER = {"dzud": 2, "dzud-like": 1, "none": 0}
RANKING_RULE = ("priority = severity x estimated low-resilience households (the estimate "
                "alone without severity), largest first; ties: more low-resilience "
                "households, more severe dzud class, lower mean RCI_100, name; groups "
                "without scored households last, unranked")


def priority(est_low, severity=None):
    """The ranking value of a group (None when it has no scored households)."""
    if est_low is None or _nan(est_low):
        return None
    if severity is None or _nan(severity):
        return float(est_low)
    return float(severity) * float(est_low)


def rank_key(value, est_low=None, dzud_class=None, mean_rci_100=None, name="",
             descending=True):
    """Sort key of a group under `RANKING_RULE` (value: priority or another field)."""
    missing = value is None or _nan(value)
    v = 0.0 if missing else (-float(value) if descending else float(value))
    low = 0.0 if est_low is None or _nan(est_low) else -float(est_low)
    dz = -DZUD_ORDER.get(dzud_class, -1) if isinstance(dzud_class, str) else 1
    mean = np.inf if mean_rci_100 is None or _nan(mean_rci_100) else float(mean_rci_100)
    return (missing, v, low, dz, mean, str(name))


def _nan(v) -> bool:
    try:
        return bool(np.isnan(v))
    except TypeError:
        return False


@dataclass
class TargetResult:
    """Result of `target`.

    Attributes
    ----------
    households : DataFrame
        id, soum, RCI_100, class (and status), every input row.
    low : DataFrame
        The households of the lowest class, by soum then RCI_100 (lowest first).
    soums : DataFrame
        One row per soum, ranked for early action (rank 1 first).
    thresholds, labels : tuple
        The cut points used (quantile cut points are the computed ones) and the labels.
    method : str
        "thresholds" or "quantiles".
    notes : list of str
    """

    households: pd.DataFrame
    low: pd.DataFrame
    soums: pd.DataFrame
    thresholds: tuple
    labels: tuple
    method: str = "thresholds"
    notes: list = field(default_factory=list)

    def write(self, directory: str | Path, fmt: str = "csv") -> dict:
        """Write households, low and soum_ranking tables as `<name>.<fmt>` (rima.io).

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
        return write_tables(directory, {"households": self.households,
                                        "low_resilience": self.low,
                                        "soum_ranking": self.soums}, fmt)

    def summary(self) -> str:
        """The result as text.

        Returns
        -------
        str
        """
        lines = [f"Resilience classes ({self.method}): cut points "
                 + ", ".join(f"{t:.2f}" for t in self.thresholds)
                 + " on RCI_100; labels " + ", ".join(self.labels)]
        counts = self.households["class"].value_counts(sort=False)
        lines.append("  households: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        lines.append(f"  {self.labels[0]}-resilience households listed: {len(self.low)}")
        lines.append("")
        cols = [c for c in ("rank", "soum", "priority", "share_low", "est_low_households",
                            "dzud_class", "severity") if c in self.soums.columns]
        lines.append(f"Soums ranked by {RANKING_RULE}")
        lines.append(self.soums[cols].head(10).to_string(index=False, float_format="%.3f"))
        return "\n".join(lines)


def target(
    result_or_frame: Any,
    *,
    soums: pd.DataFrame | None = None,
    thresholds: Sequence[float] | None = None,
    quantiles: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
    weight: str | None = "spec",
    id: str | None = None,
    soum_col: str = "soum",
    rci_100: str = "RCI_100",
    level: float = 0.95,
) -> TargetResult:
    """Classify households, list the low-resilience ones by soum and rank soums.

    Parameters
    ----------
    result_or_frame : RimaResult or DataFrame
        A fitted result, or a frame holding `rci_100` and the data.
    soums : DataFrame, optional
        The soum table (dzud forecast and classes), joined by soum.
    thresholds : sequence of float, optional
        Increasing cut points on RCI_100 (default: thirds of the scale).
    quantiles : sequence of float, optional
        Probabilities; cut at weighted quantiles instead (exclusive with thresholds).
    labels : sequence of str, optional
        Class labels, lowest first (default low / medium / high).
    weight : str or None, default "spec"
        Survey weight column; "spec" = the result's spec weight.
    id : str, optional
        Household id column (default the spec's).
    soum_col : str, default "soum"
    rci_100 : str, default "RCI_100"
    level : float, default 0.95
        Confidence level of the soum shares.

    Returns
    -------
    TargetResult

    Raises
    ------
    RimaInputError
        Both thresholds and quantiles, or an invalid class scheme.
    DataError
        A named column is missing.
    """
    if thresholds is not None and quantiles is not None:
        raise RimaInputError("give thresholds or quantiles, not both")
    frame = household_frame(result_or_frame, None)
    spec = getattr(result_or_frame, "spec", None)
    if weight == "spec":
        weight = getattr(spec, "weight", None)
    if id is None:
        id = getattr(spec, "id", None) or next(
            (c for c in ("hhid", "id") if c in frame.columns), None)
    for col in [c for c in (id, soum_col, rci_100) if c]:
        if col not in frame.columns:
            raise DataError(f"column {col!r} not found in the data")
    w = weights_of(frame, weight)
    score = pd.to_numeric(frame[rci_100], errors="coerce")
    if quantiles is not None:
        quantiles = _check_probs(quantiles)
        n_classes = len(list(quantiles)) + 1
        labs = tuple(labels) if labels is not None else _default_labels(n_classes)
        cls, cuts = resilience_class_quantile(score, w, probs=list(quantiles), labels=labs)
        method = f"weighted quantiles {list(quantiles)}"
    else:
        cuts = tuple(DEFAULT_THRESHOLDS if thresholds is None else thresholds)
        labs = tuple(labels) if labels is not None else _default_labels(len(cuts) + 1)
        cls = resilience_class(score, cuts, labs)
        method = "thresholds"
    cls = pd.Series(pd.Categorical(cls, categories=list(labs), ordered=True),
                    index=frame.index, name="class")
    households = pd.DataFrame({id: frame[id], soum_col: frame[soum_col].astype(str)
                               if frame[soum_col].notna().all() else frame[soum_col],
                               rci_100: score, "class": cls})
    if weight:
        households[weight] = w
    if "status" in frame.columns:
        households["status"] = frame["status"].to_numpy()
    lowest = labs[0]
    low = households[households["class"] == lowest].sort_values(
        [soum_col, rci_100], kind="stable").reset_index(drop=True)

    table = _soum_table(households, w, soum_col, lowest, level)
    if soums is not None:
        table = _join_dzud(table, soums, soum_col)
    table = _rank(table, soum_col)
    return TargetResult(households=households, low=low, soums=table,
                        thresholds=tuple(float(t) for t in cuts), labels=labs, method=method)


def _check_probs(quantiles):
    try:
        q = [float(x) for x in quantiles]
    except (TypeError, ValueError):
        raise RimaInputError(f"quantiles must be numbers, got {quantiles!r}") from None
    if not q:
        raise RimaInputError("quantiles must have at least one probability")
    for i, x in enumerate(q):
        if not 0 < x < 1:
            raise RimaInputError(f"quantile {x!r} (position {i + 1}) is not strictly between 0 and 1")
        if i and not x > q[i - 1]:
            raise RimaInputError(
                f"quantiles must be strictly increasing, got {q} "
                f"(position {i + 1}: {x} is not above {q[i - 1]})")
    return q


def _default_labels(n):
    if n == len(DEFAULT_LABELS):
        return DEFAULT_LABELS
    return tuple(["low"] + [f"class_{i}" for i in range(2, n)] + ["high"]) if n > 1 else ("all",)


def _soum_table(households, w, soum_col, lowest, level):
    from rima.profiles import weighted_mean_se

    scored = households["class"].notna().to_numpy()
    recs = []
    soum_values = households[soum_col].astype(object)
    for soum in sorted(pd.unique(soum_values[scored]), key=str):
        m = scored & (soum_values == soum).to_numpy()
        is_low = (households["class"].to_numpy()[m] == lowest).astype(float)
        # a soum is a domain of the sample, as in rima.profiles (survey::svyby)
        share, se = weighted_mean_se(is_low, w[m], n_design=int(scored.sum()))
        n = int(m.sum())
        crit = stats.t.ppf(0.5 + level / 2, n - 1) if n > 1 else np.nan
        sw = float(w[m].sum())
        recs.append({
            soum_col: soum,
            "households": n,
            "low_households": int(is_low.sum()),
            "share_low": share,
            "se": se,
            "ci_lower": max(0.0, share - crit * se),
            "ci_upper": min(1.0, share + crit * se),
            "sum_weights": sw,
            "est_low_households": share * sw,
        })
    not_scored = int((~scored).sum())
    out = pd.DataFrame(recs)
    out.attrs["not_scored"] = not_scored
    return out


def _join_dzud(table, soums, soum_col):
    if soum_col not in soums.columns:
        raise DataError(f"the soum table has no {soum_col!r} column")
    sub = soums.copy()
    if "round" in sub.columns and sub["round"].nunique() > 1:
        raise DataError(
            f"the soum table has rounds {sorted(sub['round'].unique().tolist())}; pass the rows "
            "of the winter to target for (e.g. soums[soums['round'] == 2])")
    keep = [c for c in ("dzud_class", "severity", "mortality_pct", "herder_households")
            if c in sub.columns]
    sub[soum_col] = sub[soum_col].astype(str)
    out = table.merge(sub[[soum_col, *keep]], on=soum_col, how="left", validate="one_to_one")
    if keep:
        missing = out.loc[out[keep[0]].isna(), soum_col].tolist()
        if missing:
            raise DataError(f"soum(s) {missing[:10]} are not in the soum table")
    return out


def _rank(table, soum_col="soum"):
    t = table.copy()
    sev = t["severity"] if "severity" in t.columns else pd.Series(None, index=t.index)
    t["priority"] = [priority(e, v) for e, v in zip(t["est_low_households"], sev)]
    t["priority"] = t["priority"].astype(float)
    dz = t["dzud_class"] if "dzud_class" in t.columns else pd.Series(None, index=t.index)
    mean = t["mean_RCI_100"] if "mean_RCI_100" in t.columns else pd.Series(None, index=t.index)
    names = t[soum_col] if soum_col in t.columns else t.index
    keys = [rank_key(p, e, d, m, n) for p, e, d, m, n in
            zip(t["priority"], t["est_low_households"], dz, mean, names)]
    t = t.iloc[sorted(range(len(t)), key=keys.__getitem__)].reset_index(drop=True)
    has = t["priority"].notna().to_numpy()
    rank = np.where(has, np.cumsum(has), 0).astype(float)
    rank[~has] = np.nan
    t.insert(0, "rank", pd.array(rank, dtype="Int64") if (~has).any() else rank.astype(int))
    return t


def ranking_html(t: TargetResult, top: int | None = None) -> str:
    """The soum early-action ranking as an HTML table fragment for the report."""
    cols = [c for c in ("rank", "soum", "households", "share_low", "ci_lower", "ci_upper",
                        "est_low_households", "dzud_class", "severity", "mortality_pct",
                        "priority") if c in t.soums.columns]
    df = t.soums[cols] if top is None else t.soums[cols].head(top)
    return df.to_html(index=False, float_format=lambda v: f"{v:.3f}", classes="rima-table",
                      border=0, na_rep="")


def ranking_figure(t: TargetResult):
    """Bar chart of the weighted share of low-resilience households by soum, in rank order."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tab = t.soums.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(tab) + 1.2))
    colours = {"dzud": "#b2182b", "dzud-like": "#ef8a62", "none": "#67a9cf"}
    c = [colours.get(v, "#999999") for v in tab.get("dzud_class", pd.Series(["none"] * len(tab)))]
    y = np.arange(len(tab))
    ax.barh(y, 100 * tab["share_low"], color=c,
            xerr=[100 * (tab["share_low"] - tab["ci_lower"]), 100 * (tab["ci_upper"] - tab["share_low"])],
            error_kw={"ecolor": "#444444", "capsize": 2, "lw": 0.8})
    ax.set_yticks(y, [f"{r}. {s}" for r, s in zip(tab["rank"], tab["soum"])])
    ax.set_xlabel(f"% households in the {t.labels[0]}-resilience class (95% CI)")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=v, label=k) for k, v in colours.items()], title="dzud class",
              loc="lower right", fontsize=8)
    ax.set_title("Soums ranked for early action")
    fig.tight_layout()
    return fig
