"""Impact of a shock-responsive transfer: did the top-up protect households through the dzud?

    res = impact(model, panel_df, outcomes=["fcs", "rcsi", "RCI_100"], pilot_soums=[...],
                 soums=survey.soums, benefit=150_000)
    res.estimates, res.event_study, res.pretrend, res.heterogeneity, res.responsiveness
    print(res.summary()); res.sentence(); res.write(dir)

Design: a household panel (`round` column) with one or more rounds before the transfer
and one or more after it. The treatment group is a household column (1 = received the
top-up; time-varying or not) or a list of soums (every household in them). Outcomes are
any column, or the scores of the baseline model (RCI, RCI_100, a pillar) for every round
on the baseline scale (`model.score`, never a refit).

Estimates for each outcome (survey weights of the baseline round, clusters = soums):

- `did`: two-way fixed effects (household and round) of the outcome on
  treated x post; cluster-robust SE (CRVE with G/(G-1) x (N-1)/(N-K), K = the slope
  coefficients + 1, household effects being nested in the clusters), t with G - 1 df;
  p-value and interval from the wild cluster restricted bootstrap (WCR, Rademacher or Webb
  weights; the interval by test inversion) because with a few treated soums the CRVE's t
  is too optimistic;
- `dr_did`: the doubly robust DiD of Sant'Anna and Zhao (2020, J. Econometrics 219(1)),
  panel version: a weighted logit propensity score and a weighted linear outcome regression
  of the change among the controls on the baseline covariates (by default the baseline
  pillars of the model, plus any `covariates`); the SE from its influence function summed
  by soum, t with G - 1 df. It is the headline unless `randomised=True`;
- `naive`: the post-period difference in means between treated and untreated households
  (what a comparison without a baseline would report), beside the others to show the bias.

The change a DR estimate uses is the mean of the post rounds minus the baseline round
(the last round before the transfer). With two or more pre-treatment rounds an event
study (treated x round, the last pre round the reference) and a Wald test that every
pre-treatment coefficient is 0 (F with G - 1 denominator df) are added.

Heterogeneity: the headline estimator within each baseline resilience class (classes of
`rima.classes` on the baseline RCI_100) and within each dzud class of the soum's post
winter, and the difference between the lowest and the highest class with its SE (the
cluster sums of both influence functions).

Responsiveness: among households in dzud soums, the share of low-resilience households the
transfer reached; the inclusion and exclusion errors of the actual transfer against the
rule "every low-resilience household in a dzud soum", the same rule with the actual budget
(lowest baseline RCI_100 first) and the cost per low-resilience household reached under
each (benefit x weighted recipients / weighted low-resilience recipients).

Estimators: `rima.analysis.did`; report section: `rima.analysis.impact_report`.

Refusals (each a named `rima.errors.ImpactDesignError` with the rows counted): no round
before the transfer, treatment constant within the sample, fewer than 2 treated or 2
control soums, an outcome missing in every row of a round. Rows that cannot be used
(missing id, soum, weight, outcome, baseline covariate; a household seen in one round
only) keep their reason in `row_status` and are counted in `accounting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rima.analysis.did import (
    check_covariates,
    dr_did,
    factor_codes,
    fd_did,
    naive,
    t_row,
    twfe,
    wild_bootstrap,
)
from rima.analysis.frame import join_soums, write_tables
from rima.classes import DEFAULT_LABELS, DEFAULT_THRESHOLDS, resilience_class
from rima.errors import (
    ConstantTreatmentError,
    DataError,
    NoPrePeriodError,
    OutcomeMissingRoundError,
    RimaInputError,
    TooFewClustersError,
)

OUTCOME_LABELS = {
    "fcs": ("food consumption score", "points"),
    "rcsi": ("reduced coping strategies index", "points"),
    "hdds": ("household dietary diversity score", "food groups"),
    "food_exp_ae": ("food expenditure per adult equivalent", "MNT"),
    "log_food_exp_ae": ("log food expenditure per adult equivalent", "log points"),
    "RCI_100": ("resilience capacity index (0-100)", "points"),
    "RCI": ("resilience capacity index", "units"),
}
ESTIMATORS = ("dr_did", "did", "naive")


@dataclass
class ImpactResult:
    """Result of `rima.impact`.

    Attributes
    ----------
    estimates : DataFrame
        One row per outcome and estimator (dr_did, did, naive): est, se, ci_lower,
        ci_upper, pvalue (t, G - 1 df), p_wild, ci_wild_lower, ci_wild_upper (did),
        households, treated, controls, clusters, treated_clusters, control_clusters,
        headline.
    event_study : DataFrame
        outcome, round, event_time, est, se, ci_lower, ci_upper, pvalue (empty with fewer
        than 2 pre-treatment rounds).
    pretrend : DataFrame
        outcome, F, df1, df2, pvalue (the joint test of the pre-treatment terms).
    heterogeneity : DataFrame
        outcome, by, group, estimator, est, se, ci_lower, ci_upper, pvalue, treated,
        controls (and a "<lowest> - <highest>" difference row).
    responsiveness : DataFrame or None
        One row per rule (None without a soum dzud table or a model).
    households : DataFrame
        One row per household: id, soum, treated, baseline class, dzud class.
    row_status : Series
        Every input row: "ok" or why it was not used.
    accounting : DataFrame
        status -> rows.
    trends : DataFrame
        Mean outcomes by round and group.
    design : dict
        Rounds, pre/post rounds, baseline round, clusters, weight, bootstrap settings.
    notes : list of str
    """

    estimates: pd.DataFrame
    event_study: pd.DataFrame
    pretrend: pd.DataFrame
    heterogeneity: pd.DataFrame
    responsiveness: pd.DataFrame | None
    households: pd.DataFrame
    row_status: pd.Series
    accounting: pd.DataFrame
    trends: pd.DataFrame
    design: dict
    notes: list = field(default_factory=list)

    @property
    def headline(self) -> pd.DataFrame:
        """The headline estimate of each outcome (rows of `estimates`)."""
        return self.estimates[self.estimates["headline"]].reset_index(drop=True)

    def sentence(self, outcome: str | None = None) -> str:
        """One plain sentence on the headline estimate (and the low-resilience class).

        Parameters
        ----------
        outcome : str, optional
            Default the first outcome.

        Returns
        -------
        str
        """
        h = self.headline
        row = h.iloc[0] if outcome is None else h[h["outcome"] == outcome].iloc[0]
        name, unit = OUTCOME_LABELS.get(row["outcome"], (row["outcome"], "units"))
        pct = round(100 * self.design["level"])
        lo, hi = _interval_of(row)
        # the verb carries the direction, so every number is a size in that direction
        sign = 1.0 if row["est"] >= 0 else -1.0
        verb = "raised" if sign > 0 else "lowered"
        a, b = sorted((sign * lo, sign * hi))
        s = (f"The {self.design['programme']} {verb} the {name} of recipient households by "
             f"{sign * row['est']:.1f} {unit} [{pct} % CI {a:.1f} to {b:.1f}] "
             f"{self.design['period']}")
        if lo <= 0 <= hi:
            s += " (the interval includes no effect)"
        het = self.heterogeneity
        if not het.empty:
            low = het[(het["outcome"] == row["outcome"]) & (het["by"] == "class_base")
                      & (het["estimator"] == row["estimator"])
                      & (het["group"] == str(self.design["labels"][0]))]
            if not low.empty and np.isfinite(low["est"].iloc[0]):
                r = low.iloc[0]
                la, lb = sorted((sign * r["ci_lower"], sign * r["ci_upper"]))
                s += (f"; for {r['group']}-resilience households by {sign * r['est']:.1f} "
                      f"[{la:.1f} to {lb:.1f}]")
                if sign * r["est"] < 0:
                    s += " (the other direction)"
        return s + f" ({_est_name(row['estimator'])}, {int(row['clusters'])} soums, " \
                   f"{int(row['treated_clusters'])} with recipients)."

    def summary(self) -> str:
        """The design, the estimates and the checks as text.

        Returns
        -------
        str
        """
        d = self.design
        lines = ["Impact evaluation: " + d["treatment_label"],
                 (f"  rounds {d['rounds']}: before {d['pre_rounds']}, after {d['post_rounds']}; "
                  f"baseline round {d['baseline']}"),
                 (f"  weights {d['weight'] or '(none)'}; clusters: {d['cluster']} "
                  f"({d['clusters']} clusters: {d['treated_clusters']} with treated households, "
                  f"{d['control_clusters']} with controls)"),
                 (f"  wild cluster bootstrap: {d['n_boot']} replicates, {d['bootstrap_weights']} "
                  f"weights, seed {d['seed']}"),
                 f"  covariates of the doubly robust DiD: {', '.join(d['covariates']) or '(none)'}",
                 "", self.sentence(), ""]
        pct = round(100 * d["level"])
        cols = ["outcome", "estimator", "est", "se", "ci_lower", "ci_upper", "pvalue",
                "p_wild", "ci_wild_lower", "ci_wild_upper", "treated", "controls"]
        lines.append(f"Estimates ({pct} % intervals; p_wild and ci_wild from the wild "
                     "cluster bootstrap)")
        lines.append(self.estimates[cols].to_string(index=False, float_format=_fmt))
        if not self.event_study.empty:
            lines += ["", "Event study (reference: the last round before the transfer)",
                      self.event_study.to_string(index=False, float_format=_fmt),
                      "", "Pre-trend test (all pre-treatment terms = 0)",
                      self.pretrend.to_string(index=False, float_format=_fmt)]
        if not self.heterogeneity.empty:
            lines += ["", "Heterogeneity",
                      self.heterogeneity.to_string(index=False, float_format=_fmt)]
        if self.responsiveness is not None:
            lines += ["", "Responsiveness in dzud soums (weighted households)",
                      self.responsiveness.to_string(index=False, float_format=_fmt)]
        lines += ["", "Rows", self.accounting.to_string(index=False)]
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)

    def write(self, directory: str | Path, fmt: str = "csv") -> dict:
        """Write each table as ``<directory>/impact_<name>.<fmt>``.

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
        tables = {"impact_estimates": self.estimates, "impact_event_study": self.event_study,
                  "impact_pretrend": self.pretrend, "impact_heterogeneity": self.heterogeneity,
                  "impact_households": self.households, "impact_trends": self.trends,
                  "impact_accounting": self.accounting}
        if self.responsiveness is not None:
            tables["impact_responsiveness"] = self.responsiveness
        return write_tables(directory, tables, fmt)


def _fmt(v):
    return f"{v:.4f}"


def _est_name(e):
    return {"dr_did": "doubly robust DiD", "did": "DiD", "naive": "naive post comparison"}[e]


def _interval_of(row):
    if row["estimator"] == "did" and np.isfinite(row.get("ci_wild_lower", np.nan)):
        return row["ci_wild_lower"], row["ci_wild_upper"]
    return row["ci_lower"], row["ci_upper"]


# --------------------------------------------------------------------------- estimation


# --------------------------------------------------------------------------- the analysis
def impact(model_or_result: Any = None, data: pd.DataFrame | dict | None = None, *,
           outcomes: str | Sequence[str] = ("fcs",), treatment: str | None = None,
           pilot_soums: Sequence[Any] | None = None, treated_from: Any = None,
           baseline: Any = None, id_col: str | None = None, round_col: str = "round",
           soum_col: str = "soum", weight: str | None = "spec",
           covariates: Sequence[str] | None = None, soums: pd.DataFrame | None = None,
           randomised: bool = False, n_boot: int = 9999, bootstrap_weights: str = "webb",
           seed: int = 0, level: float = 0.95, benefit: float | None = None,
           dzud_classes: Sequence[str] = ("dzud",),
           thresholds: Sequence[float] | None = None, labels: Sequence[str] | None = None,
           programme: str = "top-up", period: str = "over the winter") -> ImpactResult:
    """Estimate the effect of a transfer on `outcomes` from a household panel.

    Parameters
    ----------
    model_or_result : FittedModel or RimaResult, optional
        Saved model (`rima.load`) or fit result of the baseline round; None: only raw
        columns can be outcomes and there are no resilience classes.
    data : DataFrame or dict
        Panel DataFrame with `round_col`, or {round: DataFrame}.
    outcomes : str or sequence of str, default ("fcs",)
        Outcome columns (or model outputs such as RCI_100).
    treatment : str, optional
        0/1 household column (received the transfer); give this or `pilot_soums`.
    pilot_soums : sequence, optional
        Soums whose households all count as treated.
    treated_from : optional
        First round after the transfer (default: the first round in which the treatment
        column is 1 when it varies over rounds, else the last round).
    baseline : optional
        The round the change is measured from (default: the last round before).
    id_col, round_col, soum_col : str
        Household id (default the model's), round and soum columns.
    weight : str or None, default "spec"
        Survey weight column; "spec" takes the model spec's weight.
    covariates : sequence of str, optional
        Baseline covariates of the doubly robust DiD in addition to the model's pillars
        (None = the pillars only; [] with no model = none).
    soums : DataFrame, optional
        The soum table (dzud class by round), joined on `soum_col`.
    randomised : bool, default False
        True when the transfer was randomised: the plain DiD is the headline.
    n_boot : int, default 9999
        Wild cluster bootstrap replicates (0: none, else at least 99).
    bootstrap_weights : {"webb", "rademacher"}
        Wild bootstrap weights.
    seed : int, default 0
        Seed of the wild bootstrap.
    level : float, default 0.95
        Confidence level.
    benefit : float, optional
        Transfer per household (for the cost per low-resilience household reached).
    dzud_classes : sequence of str, default ("dzud",)
        The soum dzud classes (post-round) that count as dzud soums.
    thresholds, labels : sequence, optional
        Resilience classes of the baseline RCI_100 (`rima.classes`).
    programme, period : str
        Words of `ImpactResult.sentence` ("The top-up raised ... over the winter").

    Returns
    -------
    ImpactResult

    Raises
    ------
    RimaInputError
        An invalid setting (level, bootstrap weights, n_boot, both or neither of
        treatment and pilot_soums, no outcome, no data).
    DataError
        A named column is missing.
    ImpactDesignError
        The design cannot identify an effect (the message says why; `rows` counts them).
    """
    from rima.analysis.panel import stack_rounds

    if not 0 < level < 1:
        raise RimaInputError(f"level must be between 0 and 1, got {level!r}")
    if bootstrap_weights not in ("webb", "rademacher"):
        raise RimaInputError("bootstrap_weights must be 'webb' or 'rademacher', "
                             f"got {bootstrap_weights!r}")
    if int(n_boot) != 0 and int(n_boot) < 99:
        raise RimaInputError(f"n_boot must be 0 (no wild bootstrap) or at least 99, got {n_boot!r}")
    if (treatment is None) == (pilot_soums is None):
        raise RimaInputError("give exactly one of treatment= (a household column) and "
                             "pilot_soums= (a list of soums)")
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    outcomes = list(dict.fromkeys(outcomes))
    if not outcomes:
        raise RimaInputError("give at least one outcome")
    if data is None:
        raise RimaInputError("give the panel data")
    frame = stack_rounds(data, round_col).reset_index(drop=True).copy()

    model = getattr(model_or_result, "model", model_or_result)
    spec = getattr(model, "spec", None)
    idc = id_col or (spec.id if spec is not None and getattr(spec, "id", None) else "hhid")
    if weight == "spec":
        weight = spec.weight if spec is not None else None
    pillars = list(getattr(model, "pillar_names", []) or [])
    for c in [idc, soum_col] + ([weight] if weight else []) + ([treatment] if treatment else []):
        if c not in frame.columns:
            raise DataError(f"column {c!r} not found in the panel data")
    notes = []

    if model is not None:
        sc = model.score(frame)
        for c in [*pillars, "RCI", "RCI_100"]:
            if c in frame.columns:
                notes.append(f"column {c!r} of the data replaced by the baseline model's score")
            frame[c] = sc[c].to_numpy()
        frame["_score_status"] = sc["status"].to_numpy()
    for o in outcomes:
        if o not in frame.columns:
            raise DataError(f"outcome {o!r} not found (columns of the data"
                            + (", or RCI, RCI_100 and the pillars of the model" if model
                               is not None else "; give a model to use RCI") + ")")
    if soums is not None:
        frame = join_soums(frame, soums, soum_col)

    n_rows = len(frame)
    status = np.full(n_rows, "ok", dtype=object)
    rnd = frame[round_col]
    rounds = sorted(pd.unique(rnd).tolist())
    for c, why in ((idc, "missing id"), (soum_col, f"missing {soum_col}")):
        status[(status == "ok") & frame[c].isna().to_numpy()] = why
    if weight:
        wv = pd.to_numeric(frame[weight], errors="coerce").to_numpy(float)
        status[(status == "ok") & ~(np.isfinite(wv) & (wv > 0))] = f"missing or non-positive {weight}"
    dup = frame.duplicated([idc, round_col], keep=False).to_numpy() & frame[idc].notna().to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        raise DataError(f"household {frame[idc].iloc[first]!r} appears more than once in round "
                        f"{frame[round_col].iloc[first]!r} (data row {first + 1}; "
                        f"{int(dup.sum())} rows repeated)")

    # ------------------------------------------------------------ treatment and timing
    if pilot_soums is not None:
        pilot = [str(s) for s in pilot_soums]
        known = set(frame[soum_col].dropna().astype(str))
        unknown = [s for s in pilot if s not in known]
        if unknown:
            raise DataError(f"pilot soum(s) {unknown} are not in the data's {soum_col!r} column")
        tr = frame[soum_col].astype(str).isin(pilot).to_numpy(float)
        label = f"households of the pilot soums ({', '.join(pilot)})"
        varies = False
    else:
        tv = pd.to_numeric(frame[treatment].map(
            lambda v: {True: 1, False: 0}.get(v, v) if isinstance(v, (bool, np.bool_)) else v),
            errors="coerce").to_numpy(float)
        bad = np.isfinite(tv) & ~np.isin(tv, (0.0, 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"treatment column {treatment!r} must be 0/1; data row {i + 1} "
                            f"holds {frame[treatment].iloc[i]!r} ({int(bad.sum())} such rows)")
        status[(status == "ok") & ~np.isfinite(tv)] = f"missing {treatment}"
        tr = tv
        label = f"households with {treatment} = 1"
        per_hh = pd.DataFrame({"h": frame[idc], "t": tv}).dropna().groupby("h")["t"]
        varies = bool((per_hh.nunique() > 1).any())
    if treated_from is None:
        if varies:
            treated_from = min(frame.loc[tr == 1, round_col].tolist())
        else:
            treated_from = rounds[-1]
    if treated_from not in rounds:
        raise RimaInputError(f"treated_from={treated_from!r} is not a round of the data {rounds}")
    pre = [r for r in rounds if r < treated_from]
    post = [r for r in rounds if r >= treated_from]
    if not pre:
        raise NoPrePeriodError(
            f"no survey round before the transfer (round {treated_from}; rounds {rounds}): "
            f"all {n_rows} rows are after it, so there is no baseline to compare with",
            rows=n_rows)
    if baseline is None:
        baseline = pre[-1]
    if baseline not in pre:
        raise RimaInputError(f"baseline round {baseline!r} must be a round before the "
                             f"transfer {pre}")

    # household-level treatment group: treated in any post round
    hh_ids = frame[idc]
    post_rows = rnd.isin(post).to_numpy() & np.isfinite(tr)
    group = pd.Series(tr[post_rows], index=hh_ids[post_rows]).groupby(level=0).max()
    if not varies and pilot_soums is None:
        group = pd.Series(tr, index=hh_ids).dropna().groupby(level=0).max()
    g_row = hh_ids.map(group).to_numpy(float)
    status[(status == "ok") & ~np.isfinite(g_row)] = "no treatment status after the transfer"
    if varies:
        early = (rnd.isin(pre).to_numpy()) & (tr == 1)
        if early.any():
            raise DataError(f"{int(early.sum())} row(s) are treated before round {treated_from} "
                            f"(first: data row {int(np.flatnonzero(early)[0]) + 1})")

    # ------------------------------------------------------------ baseline covariates
    base_rows = (rnd == baseline).to_numpy()
    base = frame[base_rows].set_index(idc)
    covs = list(pillars) if covariates is None else [*pillars, *covariates]
    covs = list(dict.fromkeys(covs))
    for c in covs:
        if c not in frame.columns:
            raise DataError(f"covariate {c!r} not found in the panel data")
    w_hh = (pd.to_numeric(base[weight], errors="coerce") if weight
            else pd.Series(1.0, index=base.index))
    cls_hh = None
    if model is not None:
        thresholds = tuple(thresholds) if thresholds is not None else DEFAULT_THRESHOLDS
        labels = tuple(labels) if labels is not None else DEFAULT_LABELS
        cls_hh = resilience_class(base["RCI_100"], thresholds, labels).astype(object)
    else:
        labels = tuple(labels) if labels is not None else DEFAULT_LABELS
    # households not in the baseline round cannot be differenced
    in_base = hh_ids.isin(base.index).to_numpy()
    status[(status == "ok") & ~in_base] = f"household not in the baseline round {baseline}"
    row_w = hh_ids.map(w_hh).to_numpy(float)
    status[(status == "ok") & ~(np.isfinite(row_w) & (row_w > 0))] = \
        f"missing or non-positive {weight} in the baseline round"

    post_first = frame[rnd.to_numpy() == post[0]].set_index(idc)
    dzud_hh = None
    sev_hh = None
    if "dzud_class" in frame.columns:
        dzud_hh = post_first["dzud_class"]
    if "severity" in frame.columns:
        sev_hh = post_first["severity"]

    # ------------------------------------------------------------ design refusals
    ok0 = status == "ok"
    n_g1 = int(np.sum(ok0 & (g_row == 1)))
    if ok0.sum() == 0 or n_g1 == 0 or n_g1 == int(ok0.sum()):
        which = "treated" if n_g1 == int(ok0.sum()) else "untreated"
        raise ConstantTreatmentError(
            f"every usable row ({int(ok0.sum())} of {n_rows}) belongs to {which} households: "
            "there is no comparison group", rows=int(ok0.sum()))
    soum_all = frame[soum_col].astype(str).to_numpy()
    t_cl = sorted(set(soum_all[ok0 & (g_row == 1)]))
    c_cl = sorted(set(soum_all[ok0 & (g_row == 0)]))
    if len(t_cl) < 2 or len(c_cl) < 2:
        raise TooFewClustersError(
            f"{len(t_cl)} {soum_col}(s) with treated households and {len(c_cl)} with controls "
            f"({int(np.sum(ok0 & (g_row == 1)))} treated and "
            f"{int(np.sum(ok0 & (g_row == 0)))} control rows): soum-clustered inference needs "
            "at least 2 of each", rows=int(ok0.sum()))
    for o in outcomes:
        y = pd.to_numeric(frame[o], errors="coerce").to_numpy(float)
        for r in rounds:
            rows_r = (rnd == r).to_numpy()
            if rows_r.any() and not np.isfinite(y[rows_r]).any():
                raise OutcomeMissingRoundError(
                    f"outcome {o!r} is missing in all {int(rows_r.sum())} rows of round {r}",
                    rows=int(rows_r.sum()))

    cl_codes, cl_names = factor_codes(soum_all)
    G = len(cl_names)
    dr_covs = covs
    if not dr_covs and not randomised:
        notes.append("no covariates for the doubly robust DiD (give a model or covariates=): "
                     "it reduces to the plain DiD")

    # ------------------------------------------------------------ per outcome
    est_rows, es_rows, pt_rows, het_rows, trend_rows = [], [], [], [], []
    final_status = status.copy()
    for o in outcomes:
        y_all = pd.to_numeric(frame[o], errors="coerce").to_numpy(float)
        st = status.copy()
        st[(st == "ok") & ~np.isfinite(y_all)] = f"missing {o}"
        if model is not None and o in [*pillars, "RCI", "RCI_100"]:
            sst = frame["_score_status"].to_numpy()
            bad = (st == f"missing {o}") & (sst != "ok")
            st[bad] = "not scored: " + pd.Series(sst[bad]).astype(str).to_numpy()
        # a household needs the outcome at baseline and in a post round
        okb = pd.Series((st == "ok") & base_rows, index=hh_ids).groupby(level=0).any()
        okp = pd.Series((st == "ok") & rnd.isin(post).to_numpy(), index=hh_ids).groupby(level=0).any()
        hh_ok = okb & okp
        lone = (st == "ok") & ~hh_ids.map(hh_ok).fillna(False).to_numpy(bool)
        st[lone] = f"household lacks {o} in the baseline round or after the transfer"
        use = st == "ok"
        final_status = np.where((final_status == "ok") & (st != "ok"), st, final_status)
        f = frame.loc[use, [idc, round_col]].copy()
        y = y_all[use]
        w = row_w[use]
        g = g_row[use]
        cl = cl_codes[use]
        hh, _ = factor_codes(f[idc].to_numpy())
        r_use = f[round_col].to_numpy()
        post_ind = np.isin(r_use, post).astype(float)
        ref_round = rounds[0]
        Z = np.column_stack([(r_use == r).astype(float) for r in rounds if r != ref_round]
                            or [np.zeros(len(y))])
        if not [r for r in rounds if r != ref_round]:
            Z = np.zeros((len(y), 0))
        n_t = len(set(hh[g == 1]))
        n_c = len(set(hh[g == 0]))
        common = {"outcome": o, "households": n_t + n_c, "treated": n_t, "controls": n_c,
                  "clusters": len(set(cl)),
                  "treated_clusters": len(set(cl[g == 1])),
                  "control_clusters": len(set(cl[g == 0]))}
        if common["treated_clusters"] < 2 or common["control_clusters"] < 2:
            raise TooFewClustersError(
                f"outcome {o!r}: {common['treated_clusters']} soum(s) with usable treated "
                f"households and {common['control_clusters']} with controls",
                rows=int(use.sum()))

        # weighted means by round and group (the figure's trends)
        for r in rounds:
            for gv in (1.0, 0.0):
                m = (r_use == r) & (g == gv)
                if m.any():
                    trend_rows.append({"outcome": o, "round": r,
                                       "group": "treated" if gv else "control",
                                       "mean": float(np.sum(w[m] * y[m]) / np.sum(w[m])),
                                       "households": int(m.sum())})

        # plain DiD
        X = (g * post_ind)[:, None]
        beta, V, _, parts = twfe(y, X, Z, hh, w, cl, G)
        did = t_row(float(beta[0]), float(np.sqrt(V[0, 0])), G - 1, level)
        if n_boot:
            wb = wild_bootstrap(parts, 0, w, cl, G, level, int(n_boot), bootstrap_weights, seed)
            did.update({k: wb[k] for k in ("p_wild", "ci_wild_lower", "ci_wild_upper")})

        # DR DiD on the households' changes
        hh_tab = _household_changes(f, idc, round_col, y, w, g, cl, baseline, post)
        Xc, cov_status = _covariate_matrix(base, hh_tab[idc], dr_covs)
        keep = cov_status == "ok"
        if (~keep).any():
            bad_ids = set(hh_tab[idc][~keep])
            reasons = dict(zip(hh_tab[idc][~keep], cov_status[~keep]))
            m_rows = (final_status == "ok") & hh_ids.isin(bad_ids).to_numpy()
            final_status[m_rows] = hh_ids[m_rows].map(reasons).to_numpy()
        ht = hh_tab[keep].reset_index(drop=True)
        Xc = Xc[keep]
        check_covariates(Xc, dr_covs, ht["g"].to_numpy())
        try:
            dr = dr_did(ht["dy"].to_numpy(), ht["g"].to_numpy(), Xc, ht["w"].to_numpy(),
                        ht["cl"].to_numpy(), G)
        except np.linalg.LinAlgError:
            raise DataError(f"{o}: the doubly robust DiD cannot be computed with covariates "
                            f"{dr_covs} (the propensity score or the controls' outcome "
                            "regression is singular; drop a covariate)") from None
        # With few treated soums the variance rests on their few cluster sums: t with
        # min(G1, G0) - 1 df, not G - 1 (which under-covers with 5 treated soums of 24)
        dfs = min(common["treated_clusters"], common["control_clusters"]) - 1
        drr = t_row(dr.est, dr.se, dfs, level)

        # naive post-period comparison
        nv = naive(ht, G, level, dfs)

        headline = "did" if (randomised or not dr_covs) else "dr_did"
        for name, row in (("dr_did", drr), ("did", did), ("naive", nv)):
            full = {"outcome": o, "estimator": name, **row}
            for k in ("p_wild", "ci_wild_lower", "ci_wild_upper"):
                full.setdefault(k, np.nan)
            full.update({k: v for k, v in common.items() if k != "outcome"})
            if name in ("dr_did", "naive"):
                # both use the households with a change and baseline covariates
                full["households"] = len(ht)
                full["treated"] = int(ht["g"].sum())
                full["controls"] = int(len(ht) - ht["g"].sum())
            full["headline"] = name == headline
            est_rows.append(full)
        if dr.extra["ps_range"][1] > 0.95:
            notes.append(f"{o}: a control household's propensity score reaches "
                         f"{dr.extra['ps_range'][1]:.3f}; overlap is thin")

        # event study and pre-trend test
        if len(pre) >= 2:
            ref = pre[-1]
            ev_rounds = [r for r in rounds if r != ref]
            Xe = np.column_stack([g * (r_use == r) for r in ev_rounds])
            be, Ve, _, _ = twfe(y, Xe, Z, hh, w, cl, G)
            for k, r in enumerate(ev_rounds):
                row = t_row(float(be[k]), float(np.sqrt(Ve[k, k])), G - 1, level)
                es_rows.append({"outcome": o, "round": r,
                                "event_time": rounds.index(r) - rounds.index(treated_from),
                                **row})
            es_rows.append({"outcome": o, "round": ref,
                            "event_time": rounds.index(ref) - rounds.index(treated_from),
                            "est": 0.0, "se": 0.0, "ci_lower": 0.0, "ci_upper": 0.0,
                            "pvalue": np.nan})
            idx = [k for k, r in enumerate(ev_rounds) if r < treated_from]
            b = be[idx]
            Vp = Ve[np.ix_(idx, idx)]
            q = len(idx)
            F = float(b @ np.linalg.solve(Vp, b)) / q
            pt_rows.append({"outcome": o, "F": F, "df1": q, "df2": G - 1,
                            "pvalue": float(stats.f.sf(F, q, G - 1))})

        # heterogeneity
        het_by = []
        if cls_hh is not None:
            het_by.append(("class_base", ht[idc].map(cls_hh).astype(object), list(labels)))
        if dzud_hh is not None:
            # two groups: with a handful of treated soums, finer dzud classes leave fewer
            # than 2 treated soums in a group
            dz = ht[idc].map(dzud_hh)
            het_by.append(("dzud_soum", pd.Series(np.where(
                dz.isin(list(dzud_classes)), "dzud", np.where(dz.isna(), None, "no dzud")),
                index=ht.index).astype(object), ["no dzud", "dzud"]))
        for by, grp, order in het_by:
            fits = {}
            for gname in order:
                sel = (grp == gname).to_numpy()
                sub = ht[sel]
                nt, nc = int(sub["g"].sum()), int(len(sub) - sub["g"].sum())
                tcl = sub.loc[sub["g"] == 1, "cl"].nunique()
                ccl = sub.loc[sub["g"] == 0, "cl"].nunique()
                row = {"outcome": o, "by": by, "group": str(gname), "treated": nt,
                       "controls": nc, "treated_clusters": tcl, "control_clusters": ccl}
                for en in ("dr_did", "did"):
                    if en == "dr_did" and headline != "dr_did":
                        continue
                    r_ = {**row, "estimator": en}
                    if tcl < 2 or ccl < 2:
                        r_.update({"est": np.nan, "se": np.nan, "ci_lower": np.nan,
                                   "ci_upper": np.nan, "pvalue": np.nan})
                        het_rows.append(r_)
                        continue
                    try:
                        if en == "dr_did":
                            fit = dr_did(sub["dy"].to_numpy(), sub["g"].to_numpy(), Xc[sel],
                                         sub["w"].to_numpy(), sub["cl"].to_numpy(), G)
                        else:
                            fit = fd_did(sub, G)
                    except (DataError, np.linalg.LinAlgError) as exc:
                        notes.append(f"{o}, {by} = {gname}, {en}: not estimated ({exc})")
                        r_.update({"est": np.nan, "se": np.nan, "ci_lower": np.nan,
                                   "ci_upper": np.nan, "pvalue": np.nan})
                        het_rows.append(r_)
                        continue
                    fits[(en, gname)] = fit
                    r_.update(t_row(fit.est, fit.se, min(tcl, ccl) - 1, level))
                    het_rows.append(r_)
            lo_g, hi_g = order[0], order[-1]
            if by == "dzud_soum":
                lo_g, hi_g = order[-1], order[0]
            for en in ("dr_did", "did"):
                a, b_ = fits.get((en, lo_g)), fits.get((en, hi_g))
                if a is None or b_ is None or lo_g == hi_g:
                    continue
                diff = a.contrib - b_.contrib
                se = float(np.sqrt(G / (G - 1) * np.sum(diff ** 2)))
                het_rows.append({"outcome": o, "by": by, "group": f"{lo_g} - {hi_g}",
                                 "estimator": en, "treated": np.nan, "controls": np.nan,
                                 "treated_clusters": np.nan, "control_clusters": np.nan,
                                 **t_row(a.est - b_.est, se, dfs, level)})

    estimates = pd.DataFrame(est_rows)
    event_study = pd.DataFrame(es_rows, columns=["outcome", "round", "event_time", "est", "se",
                                                 "ci_lower", "ci_upper", "pvalue"])
    if not event_study.empty:
        order = {o: i for i, o in enumerate(outcomes)}
        event_study = event_study.sort_values(
            ["outcome", "round"], key=lambda c: c.map(order) if c.name == "outcome" else c,
            kind="stable").reset_index(drop=True)
    pretrend = pd.DataFrame(pt_rows, columns=["outcome", "F", "df1", "df2", "pvalue"])
    hcols = ["outcome", "by", "group", "estimator", "est", "se", "ci_lower", "ci_upper",
             "pvalue", "treated", "controls", "treated_clusters", "control_clusters"]
    heterogeneity = pd.DataFrame(het_rows, columns=hcols)
    if len(pre) < 2:
        notes.append(f"one round before the transfer ({pre}): no event study or pre-trend test "
                     "(they need two or more)")

    # ------------------------------------------------------------ households and reach
    hh_frame = pd.DataFrame({idc: group.index})
    hh_frame = hh_frame[hh_frame[idc].isin(base.index)].reset_index(drop=True)
    hh_frame[soum_col] = hh_frame[idc].map(base[soum_col].astype(str))
    hh_frame["treated"] = hh_frame[idc].map(group).astype(int)
    hh_frame["weight"] = hh_frame[idc].map(w_hh).astype(float)
    if model is not None:
        hh_frame["RCI_100_base"] = hh_frame[idc].map(base["RCI_100"]).astype(float)
        hh_frame["class_base"] = hh_frame[idc].map(cls_hh)
    if dzud_hh is not None:
        hh_frame["dzud_class"] = hh_frame[idc].map(dzud_hh)
    if sev_hh is not None:
        hh_frame["severity"] = hh_frame[idc].map(sev_hh).astype(float)
    responsiveness = None
    if model is not None and dzud_hh is not None:
        responsiveness = _responsiveness(hh_frame, labels[0], dzud_classes, benefit, notes)
    elif model is None:
        notes.append("no model: no resilience classes, so no class heterogeneity or "
                     "responsiveness table")
    else:
        notes.append("no dzud class of the soums (give soums= or a dzud_class column): no "
                     "dzud heterogeneity or responsiveness table")

    row_status = pd.Series(final_status, index=frame.index, name="status")
    acc = row_status.value_counts(sort=False).rename_axis("status").reset_index(name="rows")
    design = {"rounds": rounds, "pre_rounds": pre, "post_rounds": post, "baseline": baseline,
              "treated_from": treated_from, "cluster": soum_col, "clusters": G,
              "treated_clusters": len(t_cl), "control_clusters": len(c_cl),
              "weight": weight, "n_boot": int(n_boot), "bootstrap_weights": bootstrap_weights,
              "seed": seed, "level": level, "covariates": dr_covs, "randomised": randomised,
              "treatment_label": label, "labels": labels, "programme": programme,
              "period": period, "id": idc, "benefit": benefit}
    return ImpactResult(estimates=estimates, event_study=event_study, pretrend=pretrend,
                        heterogeneity=heterogeneity, responsiveness=responsiveness,
                        households=hh_frame, row_status=row_status, accounting=acc,
                        trends=pd.DataFrame(trend_rows), design=design, notes=notes)


def _household_changes(f, idc, round_col, y, w, g, cl, baseline, post):
    """One row per household: change = mean over the post rounds - the baseline value."""
    df = pd.DataFrame({"id": f[idc].to_numpy(), "r": f[round_col].to_numpy(), "y": y,
                       "w": w, "g": g, "cl": cl})
    yb = df[df["r"] == baseline].set_index("id")["y"]
    yp = df[df["r"].isin(post)].groupby("id", sort=False)["y"].mean()
    first = df.drop_duplicates("id").set_index("id")
    ids = yb.index.intersection(yp.index)
    out = pd.DataFrame({idc: ids, "y_base": yb[ids].to_numpy(), "y_post": yp[ids].to_numpy(),
                        "w": first.loc[ids, "w"].to_numpy(), "g": first.loc[ids, "g"].to_numpy(),
                        "cl": first.loc[ids, "cl"].to_numpy()})
    out["dy"] = out["y_post"] - out["y_base"]
    return out


def _covariate_matrix(base, ids, covs):
    """Baseline covariates (with a constant) for the households, and a status per household."""
    X = [np.ones(len(ids))]
    status = np.full(len(ids), "ok", dtype=object)
    for c in covs:
        v = pd.to_numeric(base[c], errors="coerce") if c in base.columns else None
        if v is None:
            raise DataError(f"covariate {c!r} not in the baseline round")
        x = ids.map(v).to_numpy(float)
        status[(status == "ok") & ~np.isfinite(x)] = f"missing covariate {c} in the baseline round"
        X.append(x)
    X = np.column_stack(X)
    X[~np.isfinite(X)] = 0.0
    return X, status


def _responsiveness(hh, low_label, dzud_classes, benefit, notes):
    """Reach, inclusion/exclusion errors and cost per low-resilience household reached."""
    in_dzud = hh["dzud_class"].isin(list(dzud_classes)).to_numpy()
    if not in_dzud.any():
        notes.append(f"no household lives in a soum of dzud class {list(dzud_classes)}: no "
                     "responsiveness table")
        return None
    sub = hh[in_dzud & hh["class_base"].notna().to_numpy()].copy()
    w = sub["weight"].to_numpy(float)
    low = (sub["class_base"] == low_label).to_numpy()
    actual = sub["treated"].to_numpy() == 1
    rule = low.copy()
    # the rule with the actual budget: as many (weighted) households, lowest RCI_100 first
    budget = float(np.sum(w[actual]))
    order = np.argsort(sub["RCI_100_base"].to_numpy(float), kind="stable")
    cum = np.cumsum(w[order])
    equal = np.zeros(len(sub), dtype=bool)
    equal[order[cum <= budget + 1e-9]] = True
    out_side = int(((hh["treated"] == 1) & ~in_dzud).sum())
    if out_side:
        notes.append(f"{out_side} recipient household(s) live outside dzud soums (not in the "
                     "responsiveness table)")
    rows = []
    low_total = float(np.sum(w[low]))
    for name, sel in (("actual transfer", actual), ("RCI rule: every low-resilience household",
                                                     rule),
                      ("RCI rule, actual budget: lowest RCI_100 first", equal)):
        rec = float(np.sum(w[sel]))
        reached = float(np.sum(w[sel & low]))
        row = {"rule": name, "households_sampled": int(sel.sum()), "recipients": rec,
               "low_resilience_households": low_total, "low_reached": reached,
               "share_low_reached": reached / low_total if low_total else np.nan,
               "inclusion_error": float(np.sum(w[sel & ~rule])) / rec if rec else np.nan,
               "exclusion_error": float(np.sum(w[rule & ~sel])) / low_total if low_total else np.nan}
        if benefit is not None:
            row["cost"] = benefit * rec
            row["cost_per_low_reached"] = benefit * rec / reached if reached else np.inf
        rows.append(row)
    return pd.DataFrame(rows)
