"""What-if scenarios on a fitted or saved model, and the sensitivity table.

A scenario is a list of changes to input variables:

    enrol  social_insurance  share=0.05 [soums=Ider,Tes]  enrol 5 % of the non-enrolled,
                                                          chosen at random (seeded)
    enrol  social_insurance  points=5   [soums=...]       raise coverage by 5 percentage
                                                          points of all households
    set    child_money value=1 where="n_children > 0"     give every such household the value
    scale  hay_reserve_t factor=1.2                       +20 % hay reserves
    add    head_edu_years amount=1                        one more year of schooling

declared in TOML (``[[scenario]]`` tables with a ``changes`` list, see `load_scenarios`) or
on the command line (`parse_change`). Changes apply in order; `soums` and `where` restrict
them to some households.

Effect of a scenario. The changed data are scored with the model (the same scoring as
`model.score`) and the change of each household's pillar scores is carried to the RCI by
the MIMIC structural coefficients: dRCI = sum_p gamma_p dPillar_p ("expected", the
default). That is the model's answer to "how much more resilient would the household be":
the RCI the pillars predict. The lavPredict score of a household also conditions on its
observed food security, which a what-if does not change, so re-scoring with the indicators
held fixed ("rescored") shows only the part of the change the pillars carry in that score
(about a third with typical loadings) — available for comparison, not the default.
dRCI_100 = 100 dRCI / (max - min) on the model's training scale.

Uncertainty: a stratified (by soum) household bootstrap of the weighted mean change,
seeded. The model's parameters are held fixed — a saved model is a given scale — so the
intervals describe which households were surveyed (and, for random enrolment, which were
drawn), not the estimation of the model itself. With a fitted result, ``n_refit`` adds
intervals that refit the whole model on each resample; on the Zavkhan example these are
several times wider (the pillar weights and gamma are the main uncertainty), so quote them
when the question is about the population rather than about this model.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rima._kernels.rci_scale import array_change_to_100
from rima.analysis.frame import is_result, weights_of, write_tables
from rima.classes import DEFAULT_LABELS, DEFAULT_THRESHOLDS, resilience_class
from rima.errors import DataError, RimaInputError
from rima.suggest import did_you_mean

ACTIONS = {
    "set": ("value",),
    "enrol": ("share", "points"),
    "scale": ("factor",),
    "add": ("amount",),
}
CHANGE_KEYS = {"action", "variable", "value", "share", "points", "factor", "amount", "soums",
               "where"}
EFFECTS = ("expected", "rescored")


@dataclass(frozen=True)
class Change:
    action: str
    variable: str
    value: float | None = None
    share: float | None = None
    points: float | None = None
    factor: float | None = None
    amount: float | None = None
    soums: tuple | None = None
    where: str | None = None

    def describe(self) -> str:
        what = {
            "set": lambda: f"set {self.variable} = {self.value:g}",
            "enrol": lambda: (f"enrol {self.share:.1%} of the non-enrolled in {self.variable}"
                              if self.share is not None else
                              f"raise {self.variable} coverage by {self.points:g} points"),
            "scale": lambda: f"{self.variable} x {self.factor:g}",
            "add": lambda: f"{self.variable} + {self.amount:g}",
        }[self.action]()
        if self.soums:
            what += " in " + ", ".join(self.soums)
        if self.where:
            what += f" where {self.where}"
        return what


@dataclass(frozen=True)
class Scenario:
    name: str
    changes: tuple

    def describe(self) -> str:
        return "; ".join(c.describe() for c in self.changes)


def make_change(d: dict, where_from: str = "change") -> Change:
    """A `Change` from a dict (a TOML table or parsed command-line text), validated."""
    if not isinstance(d, dict):
        raise RimaInputError(f"{where_from}: a change must be a table, got {d!r}")
    unknown = sorted(set(d) - CHANGE_KEYS)
    if unknown:
        raise RimaInputError(f"{where_from}: unknown key(s) {unknown}; known: {sorted(CHANGE_KEYS)}")
    action = d.get("action")
    if action not in ACTIONS:
        raise RimaInputError(f"{where_from}: action must be one of {list(ACTIONS)}, got {action!r}")
    var = d.get("variable")
    if not isinstance(var, str) or not var:
        raise RimaInputError(f"{where_from}: 'variable' (the column to change) is required")
    amounts = {k: d[k] for k in ("value", "share", "points", "factor", "amount") if k in d}
    allowed = ACTIONS[action]
    wrong = sorted(set(amounts) - set(allowed))
    if wrong:
        raise RimaInputError(f"{where_from}: {action} takes {' or '.join(allowed)}, not {wrong}")
    given = [k for k in allowed if k in amounts]
    if len(given) != 1:
        raise RimaInputError(f"{where_from}: {action} {var} needs exactly one of {list(allowed)}")
    key = given[0]
    try:
        amount = float(amounts[key])
    except (TypeError, ValueError):
        raise RimaInputError(f"{where_from}: {key} must be a number, got {amounts[key]!r}") from None
    if not np.isfinite(amount):
        raise RimaInputError(f"{where_from}: {key} must be finite, got {amount}")
    if key == "share" and not 0 <= amount <= 1:
        raise RimaInputError(
            f"{where_from}: impossible share {amount:g} for {var}: the share of the non-enrolled "
            "to enrol must be between 0 and 1 (e.g. 0.05 for 5 %)")
    if key == "points" and not 0 <= amount <= 100:
        raise RimaInputError(
            f"{where_from}: impossible coverage increase of {amount:g} points for {var}: "
            "must be between 0 and 100")
    if key == "factor" and amount < 0:
        raise RimaInputError(f"{where_from}: factor for {var} must be >= 0, got {amount:g}")
    soums = d.get("soums")
    if soums is not None:
        if isinstance(soums, str):
            soums = [s.strip() for s in soums.split(",") if s.strip()]
        if not isinstance(soums, (list, tuple)) or not soums:
            raise RimaInputError(f"{where_from}: soums must be a non-empty list of soum names")
        soums = tuple(str(s) for s in soums)
    where = d.get("where")
    if where is not None and (not isinstance(where, str) or not where.strip()):
        raise RimaInputError(f"{where_from}: where must be an expression such as 'n_children > 0'")
    return Change(action=action, variable=var, soums=soums, where=where, **{key: amount})


def parse_change(text: str) -> Change:
    """Command-line form: ``ACTION VARIABLE key=value ...``.

    e.g. ``enrol social_insurance share=0.05 soums=Ider,Tes`` or
    ``set child_money value=1 where="n_children > 0"``.
    """
    import shlex

    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise RimaInputError(f"change {text!r}: {exc}") from None
    if len(parts) < 2:
        raise RimaInputError(f"change {text!r}: expected 'ACTION VARIABLE key=value ...'")
    d = {"action": parts[0], "variable": parts[1]}
    for p in parts[2:]:
        if "=" not in p:
            raise RimaInputError(f"change {text!r}: {p!r} is not key=value")
        k, v = p.split("=", 1)
        d[k.strip()] = v
    return make_change(d, f"change {text!r}")


def load_scenarios(source: str | Path | dict) -> list[Scenario]:
    """Scenarios from a TOML file (path) or the parsed dict::

        [[scenario]]
        name = "social insurance +5 points in Ider and Tes"
        changes = [
          {action = "enrol", variable = "social_insurance", points = 5, soums = ["Ider", "Tes"]},
        ]

    Parameters
    ----------
    source : str, Path or dict
        The TOML file, or its tables as a dict.

    Returns
    -------
    list of Scenario

    Raises
    ------
    RimaInputError
        The file is missing or not TOML, or a scenario or change is invalid (named).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RimaInputError(f"{path}: scenario file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise RimaInputError(f"{path}: not valid TOML: {exc}") from None
        label = str(path)
    else:
        doc, label = source, "scenarios"
    unknown = sorted(set(doc) - {"scenario"})
    if unknown:
        raise RimaInputError(f"{label}: unknown top-level key(s) {unknown}; expected [[scenario]]")
    items = doc.get("scenario")
    if not isinstance(items, list) or not items:
        raise RimaInputError(f"{label}: no [[scenario]] tables")
    out, names = [], set()
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise RimaInputError(f"{label}: scenario {i} is not a table")
        name = str(item.get("name", f"scenario_{i}"))
        if name in names:
            raise RimaInputError(f"{label}: scenario name {name!r} is used twice")
        names.add(name)
        extra = sorted(set(item) - {"name", "changes"})
        if extra:
            raise RimaInputError(f"{label}: scenario {name!r}: unknown key(s) {extra}")
        changes = item.get("changes")
        if not isinstance(changes, list) or not changes:
            raise RimaInputError(f"{label}: scenario {name!r} has no changes")
        out.append(Scenario(name, tuple(make_change(c, f"{label}: scenario {name!r} change {j}")
                                        for j, c in enumerate(changes, start=1))))
    return out


# ---------------------------------------------------------------------------- applying
def apply_changes(data: pd.DataFrame, changes, *, model_variables=None, seed=0,
                  soum_col: str = "soum") -> tuple[pd.DataFrame, list[dict]]:
    """Return the changed copy of `data` and, per change, how many households it changed.

    Every change is checked against the data first (unknown variable, soum or where-column,
    a non-0/1 variable to enrol, more points than there are non-enrolled households), so an
    impossible scenario fails before anything is computed.
    """
    rng = np.random.default_rng(seed)
    df = data.copy()
    log = []
    for ch in changes:
        _check_change(df, ch, model_variables, soum_col)
        mask = _target_rows(df, ch, soum_col)
        col = df[ch.variable]
        x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        new = x.copy()
        if ch.action == "set":
            new[mask] = ch.value
        elif ch.action == "scale":
            new[mask] = x[mask] * ch.factor
        elif ch.action == "add":
            new[mask] = x[mask] + ch.amount
        else:
            new = _enrol(df, x, mask, ch, rng, soum_col)
        changed = ~(np.isclose(new, x) | (np.isnan(new) & np.isnan(x)))
        df[ch.variable] = new
        log.append({"change": ch.describe(), "households_targeted": int(mask.sum()),
                    "households_changed": int(changed.sum())})
    return df, log


def _check_change(df, ch, model_variables, soum_col):
    if ch.variable not in df.columns:
        raise RimaInputError(
            f"scenario names unknown variable {ch.variable!r}: not a column of the data"
            + did_you_mean(ch.variable, df.columns, limit=1))
    if model_variables is not None and ch.variable not in model_variables:
        raise RimaInputError(
            f"scenario variable {ch.variable!r} is not used by the model, so changing it cannot "
            f"move the RCI; model variables: {', '.join(model_variables)}")
    x = pd.to_numeric(df[ch.variable], errors="coerce")
    if (x.isna() & df[ch.variable].notna()).any():
        raise RimaInputError(f"scenario variable {ch.variable!r} is not numeric")
    if ch.soums:
        if soum_col not in df.columns:
            raise RimaInputError(f"the change names soums but the data has no {soum_col!r} column")
        known = set(df[soum_col].dropna().astype(str))
        bad = [s for s in ch.soums if s not in known]
        if bad:
            raise RimaInputError(f"scenario names soum(s) {bad} not in the data "
                                 f"(soums: {', '.join(sorted(known))})")
    if ch.action == "enrol":
        vals = set(x.dropna().unique().tolist())
        if not vals <= {0.0, 1.0}:
            raise RimaInputError(
                f"enrol needs a 0/1 variable; {ch.variable!r} has values {sorted(vals)[:6]}")


def _target_rows(df, ch, soum_col):
    mask = np.ones(len(df), bool)
    if ch.soums:
        mask &= df[soum_col].astype(str).isin(ch.soums).to_numpy()
    if ch.where:
        try:
            sel = df.eval(ch.where)
        except Exception as exc:  # noqa: BLE001 - pandas raises many types for a bad expression
            raise RimaInputError(f"where {ch.where!r} cannot be evaluated on the data: {exc}") from None
        if not isinstance(sel, pd.Series) or not pd.api.types.is_bool_dtype(sel):
            raise RimaInputError(f"where {ch.where!r} must be a true/false condition on each household")
        mask &= sel.fillna(False).to_numpy()
    return mask


def _enrol(df, x, mask, ch, rng, soum_col):
    new = x.copy()
    groups = (df[soum_col].astype(str).to_numpy() if soum_col in df.columns
              else np.zeros(len(df), dtype=object))
    for g in sorted(set(groups[mask])):
        rows = np.flatnonzero(mask & (groups == g))
        eligible = rows[x[rows] == 0]
        if ch.share is not None:
            k = round(ch.share * eligible.size)
        else:
            k = round(ch.points / 100 * rows.size)
            if k > eligible.size:
                cover = 100 * np.mean(x[rows] == 1)
                raise RimaInputError(
                    f"impossible share: raising {ch.variable} by {ch.points:g} points in soum "
                    f"{g} needs {k} more households but only {eligible.size} of {rows.size} are "
                    f"not enrolled (coverage {cover:.1f} %)")
        if k:
            new[rng.choice(eligible, size=k, replace=False)] = 1.0
    return new


# ---------------------------------------------------------------------------- effects
@dataclass
class ScenarioResult:
    """Result of `scenario`.

    Attributes
    ----------
    overall : DataFrame
        One row per scenario: mean change in RCI_100 with its bootstrap CI, households
        changed, households leaving the lowest class (count and weighted).
    by_soum : DataFrame
        The same by soum.
    by_profile : dict
        {variable: the same by category}.
    households : DataFrame
        Per household and scenario: id, soum, RCI_100 before/after, change, classes.
    changes : DataFrame
        Per scenario and change, households targeted and changed.
    effect : str
        "expected" or "rescored".
    n_boot, seed : int
    level : float
    notes : list of str
    """

    overall: pd.DataFrame
    by_soum: pd.DataFrame
    by_profile: dict
    households: pd.DataFrame
    changes: pd.DataFrame
    effect: str = "expected"
    n_boot: int = 0
    level: float = 0.95
    seed: int = 0
    notes: list = field(default_factory=list)

    def summary(self) -> str:
        """The result as text.

        Returns
        -------
        str
        """
        pct = round(100 * self.level)
        lines = [(f"Scenario effects on mean RCI_100 ({self.effect}; {pct}% CI from {self.n_boot} "
                 f"stratified bootstrap replicates, seed {self.seed})")]
        for r in self.overall.itertuples():
            lines.append(f"  {r.scenario}: {r.mean_change:+.3f} [{r.ci_lower:+.3f}, {r.ci_upper:+.3f}]"
                         f"  households changed {r.households_changed},"
                         f" leaving the low class {r.leaving_low} (weighted {r.leaving_low_weighted:.0f})")
            if hasattr(r, "ci_lower_refit"):
                lines.append(f"    with model refits: [{r.ci_lower_refit:+.3f}, {r.ci_upper_refit:+.3f}]")
        for n in self.notes:
            lines.append(f"  note: {n}")
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
        tables = {"scenario_overall": self.overall, "scenario_by_soum": self.by_soum,
                  "scenario_households": self.households, "scenario_changes": self.changes}
        for var, tab in self.by_profile.items():
            tables[f"scenario_by_{var}"] = tab
        return write_tables(directory, tables, fmt)


def scenario(
    model_or_result: Any,
    scenarios: Scenario | list[Scenario] | str | Path,
    data: pd.DataFrame | None = None,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
    effect: str = "expected",
    weight: str | None = "spec",
    soum_col: str = "soum",
    profiles: Sequence[str] | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    labels: Sequence[str] = DEFAULT_LABELS,
    n_refit: int = 0,
) -> ScenarioResult:
    """Apply each scenario to `data` and estimate the change in mean RCI_100.

    Parameters
    ----------
    model_or_result : FittedModel or RimaResult
        A saved model (`rima.load`) or a fitted result (its model and data).
    scenarios : Scenario, list of Scenario, or path
        A scenario, a list of them, or a TOML path (see `load_scenarios`).
    data : DataFrame, optional
        Households to change (default: the result's data).
    seed : int, default 0
        Seed of the bootstrap and of random enrolment.
    n_boot : int, default 1000
        Bootstrap replicates of the intervals.
    level : float, default 0.95
        Confidence level.
    effect : {"expected", "rescored"}, default "expected"
        Expected change over the enrolment draws, or one rescored draw.
    weight : str or None, default "spec"
        Survey weight column; "spec" = the model spec's weight.
    soum_col : str, default "soum"
    profiles : sequence of str, optional
        Profile variables of the by-group tables (default the spec's).
    thresholds, labels : sequence
        Resilience classes of RCI_100 (`rima.classes`).
    n_refit : int, default 0
        With a fitted result, also refit the whole model on this many stratified
        resamples of the data (rima.fit each time) and report percentile intervals that
        include the model's estimation uncertainty (``ci_lower_refit``,
        ``ci_upper_refit``); about half a second per refit for 2,240 households.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    RimaInputError
        An invalid scenario or setting.
    DataError
        A variable or column the scenarios need is missing.
    """
    model, data, spec = _model_and_data(model_or_result, data)
    if effect not in EFFECTS:
        raise RimaInputError(f"effect must be one of {list(EFFECTS)}, got {effect!r}")
    if int(n_boot) < 0:
        raise RimaInputError(f"n_boot must be >= 0, got {n_boot!r}")
    if isinstance(scenarios, (str, Path)):
        scenarios = load_scenarios(scenarios)
    elif isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    scenarios = list(scenarios)
    if weight == "spec":
        weight = spec.weight
    profiles = list(spec.profiles if profiles is None else profiles)
    profiles = [p for p in profiles if p != soum_col]
    for col in [soum_col, *profiles]:
        if col not in data.columns:
            raise DataError(f"column {col!r} not found in the data")

    base = model.score(data)
    ok = (base["status"] == "ok").to_numpy()
    w = weights_of(data, weight)
    gamma = structural_coefficients(model)
    strata = data[soum_col].astype(str).to_numpy()
    rng_boot = np.random.default_rng([int(seed), 1])
    boot_idx = _bootstrap_indices(strata[ok], int(n_boot), rng_boot)

    overall, by_soum, by_prof, hh_rows, change_rows = [], [], {p: [] for p in profiles}, [], []
    for k, sc in enumerate(scenarios):
        changed, log = apply_changes(data, sc.changes, model_variables=model.variables,
                                     seed=[int(seed), 2, k], soum_col=soum_col)
        for entry in log:
            change_rows.append({"scenario": sc.name, **entry})
        new = model.score(changed)
        newly_bad = ok & (new["status"] != "ok").to_numpy()
        if newly_bad.any():
            i = int(np.flatnonzero(newly_bad)[0])
            raise RimaInputError(f"scenario {sc.name!r} leaves household at data row {i + 1} "
                                 f"unscorable: {new['status'].iloc[i]}")
        if effect == "expected":
            dp = new[model.pillar_names].to_numpy() - base[model.pillar_names].to_numpy()
            d100 = array_change_to_100(dp @ gamma, *model.scale_range_)
        else:
            d100 = new["RCI_100"].to_numpy() - base["RCI_100"].to_numpy()
        d100 = np.where(ok, d100, np.nan)
        before = base["RCI_100"].to_numpy()
        after = before + d100
        c_before = np.asarray(resilience_class(before, thresholds, labels).astype(object))
        c_after = np.asarray(resilience_class(after, thresholds, labels).astype(object))
        low = labels[0]
        leaving = ok & (c_before == low) & (c_after != low)
        hh_changed = ok & (np.abs(d100) > 1e-12)

        dv, wv = d100[ok], w[ok]
        est, lo_, hi_ = _boot_mean(dv, wv, boot_idx, level)
        overall.append({"scenario": sc.name, "description": sc.describe(), "mean_change": est,
                        "ci_lower": lo_, "ci_upper": hi_, "households": int(ok.sum()),
                        "households_changed": int(hh_changed.sum()),
                        "leaving_low": int(leaving.sum()),
                        "leaving_low_weighted": float(w[leaving].sum())})
        by_soum += _by_group(sc.name, soum_col, strata[ok], dv, wv, leaving[ok], hh_changed[ok],
                             boot_idx, level)
        for p in profiles:
            g = data[p].astype(object).where(data[p].notna(), "(missing)").astype(str).to_numpy()
            by_prof[p] += _by_group(sc.name, p, g[ok], dv, wv, leaving[ok], hh_changed[ok],
                                    boot_idx, level)
        hh = pd.DataFrame({"scenario": sc.name, model.id: data[model.id].to_numpy(),
                           soum_col: strata, "RCI_100_before": before, "RCI_100_after": after,
                           "change": d100, "class_before": c_before, "class_after": c_after,
                           "status": base["status"].to_numpy()})
        hh_rows.append(hh)

    notes = []
    if int(n_refit) > 0:
        if not is_result(model_or_result):
            raise RimaInputError("n_refit needs a fitted result (rima.fit), not a saved model: "
                                 "refitting needs the spec and the training data")
        lo_r, hi_r, n_warn = _refit_intervals(model_or_result, data, scenarios, int(n_refit),
                                              seed, level, effect, weight, soum_col)
        for row, a, b in zip(overall, lo_r, hi_r):
            row["ci_lower_refit"], row["ci_upper_refit"] = a, b
        if n_warn:
            notes.append(f"{n_warn} warning(s) from the {int(n_refit)} refits (Heywood cases or "
                         "improper solutions in some resamples)")
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} household(s) not scored by the model are left out "
                     "(reasons in the households table's status)")
    return ScenarioResult(
        overall=pd.DataFrame(overall), by_soum=pd.DataFrame(by_soum),
        by_profile={p: pd.DataFrame(v) for p, v in by_prof.items()},
        households=pd.concat(hh_rows, ignore_index=True), changes=pd.DataFrame(change_rows),
        effect=effect, n_boot=int(n_boot), level=level, seed=int(seed), notes=notes)


def _refit_intervals(result, data, scenarios, n_refit, seed, level, effect, weight, soum_col):
    import warnings

    from rima.pipeline import fit

    strata = data[soum_col].astype(str).to_numpy()
    rng = np.random.default_rng([int(seed), 3])
    idx = _bootstrap_indices(strata, n_refit, rng)
    reps = np.full((n_refit, len(scenarios)), np.nan)
    n_warn = 0
    for b in range(n_refit):
        sample = data.iloc[idx[b]].reset_index(drop=True)
        # a household drawn twice is two households of the resample: ids must stay unique
        sample[result.spec.id] = np.arange(1, len(sample) + 1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = fit(sample, result.spec).model
        n_warn += len(caught)
        base = model.score(sample)
        ok = (base["status"] == "ok").to_numpy()
        w = weights_of(sample, weight)[ok]
        gamma = structural_coefficients(model)
        for k, sc in enumerate(scenarios):
            changed, _ = apply_changes(sample, sc.changes, model_variables=model.variables,
                                       seed=[int(seed), 2, k], soum_col=soum_col)
            new = model.score(changed)
            if effect == "expected":
                dp = (new[model.pillar_names].to_numpy() - base[model.pillar_names].to_numpy())
                d = array_change_to_100(dp @ gamma, *model.scale_range_)
            else:
                d = new["RCI_100"].to_numpy() - base["RCI_100"].to_numpy()
            reps[b, k] = np.sum(d[ok] * w) / np.sum(w)
    a = (1 - level) / 2
    lo, hi = np.nanquantile(reps, [a, 1 - a], axis=0)
    return lo.tolist(), hi.tolist(), n_warn


def _model_and_data(model_or_result, data):
    if is_result(model_or_result):
        model = model_or_result.model
        data = model_or_result.data if data is None else data
    else:
        model = model_or_result
        if not hasattr(model, "score") or not hasattr(model, "pillar_names"):
            raise RimaInputError("expected a fitted model (rima.load) or a fitted result (rima.fit)")
        if data is None:
            raise RimaInputError("a saved model needs data= the households to change")
    if not isinstance(data, pd.DataFrame):
        raise RimaInputError(f"data must be a DataFrame, got {type(data).__name__}")
    return model, data.reset_index(drop=True), model.spec


def structural_coefficients(model) -> np.ndarray:
    """gamma (RCI ~ pillars) from the model's MIMIC parameter table, in pillar order."""
    params = model.mimic.get("params") if isinstance(model.mimic, dict) else None
    if not params:
        raise RimaInputError("the model has no MIMIC parameter table (model.mimic['params'])")
    est = {(p["lhs"], p["op"], p["rhs"]): p["est"] for p in params}
    lv = next((p["lhs"] for p in params if p["op"] == "=~"), "RCI")
    try:
        return np.array([float(est[(lv, "~", name)]) for name in model.pillar_names])
    except KeyError as exc:
        raise RimaInputError(f"the model's MIMIC table lacks the structural path {exc}") from None


def _bootstrap_indices(strata, n_boot, rng):
    """(n_boot, n) row indices resampled with replacement within each stratum (soum)."""
    n = strata.size
    out = np.empty((n_boot, n), dtype=np.int64)
    for s in sorted(set(strata)):
        rows = np.flatnonzero(strata == s)
        out[:, rows] = rows[rng.integers(0, rows.size, size=(n_boot, rows.size))]
    return out


def _boot_mean(d, w, idx, level):
    est = float(np.sum(d * w) / np.sum(w))
    if idx.shape[0] == 0:
        return est, np.nan, np.nan
    reps = np.sum(d[idx] * w[idx], axis=1) / np.sum(w[idx], axis=1)
    a = (1 - level) / 2
    lo, hi = np.quantile(reps, [a, 1 - a])
    return est, float(lo), float(hi)


def _by_group(name, var, groups, d, w, leaving, changed, idx, level):
    cats, codes = np.unique(groups, return_inverse=True)
    ng = cats.size
    sum_w = np.bincount(codes, w, ng)
    est = np.bincount(codes, d * w, ng) / sum_w
    lo = np.full(ng, np.nan)
    hi = np.full(ng, np.nan)
    if idx.shape[0]:
        # replicate x group sums in one pass: bin key = replicate * groups + group
        n_boot = idx.shape[0]
        key = (np.arange(n_boot)[:, None] * ng + codes[idx]).ravel()
        rw = np.bincount(key, w[idx].ravel(), n_boot * ng).reshape(n_boot, ng)
        rdw = np.bincount(key, (d * w)[idx].ravel(), n_boot * ng).reshape(n_boot, ng)
        a = (1 - level) / 2
        for j in range(ng):
            good = rw[:, j] > 0
            if good.any():
                lo[j], hi[j] = np.quantile(rdw[good, j] / rw[good, j], [a, 1 - a])
    n = np.bincount(codes, minlength=ng)
    n_changed = np.bincount(codes, changed.astype(float), ng)
    n_leaving = np.bincount(codes, leaving.astype(float), ng)
    w_leaving = np.bincount(codes, np.where(leaving, w, 0.0), ng)
    return [{"scenario": name, var: cats[j], "households": int(n[j]),
             "mean_change": float(est[j]), "ci_lower": float(lo[j]), "ci_upper": float(hi[j]),
             "households_changed": int(n_changed[j]), "leaving_low": int(n_leaving[j]),
             "leaving_low_weighted": float(w_leaving[j])} for j in range(ng)]


# ---------------------------------------------------------------------------- sensitivity
def sensitivity(model_or_result: Any) -> pd.DataFrame:
    """Effect on the RCI of one (training) standard deviation of each variable.

    Chain: variable -> its pillar (the combined factor-score weight on the z-scored
    variable, sign of "negative" variables and orientation included) -> RCI (the MIMIC
    structural coefficient gamma of that pillar). effect_RCI = weight x gamma;
    effect_RCI_100 = 100 effect_RCI / (max - min) of the training scale; effect_per_unit
    divides by the SD (the effect of one unit of the variable, e.g. one tonne of hay).

    Parameters
    ----------
    model_or_result : FittedModel or RimaResult

    Returns
    -------
    DataFrame
        One row per variable: variable, pillar, sd, pillar_weight, gamma, effect_RCI,
        effect_RCI_100, effect_RCI_100_per_unit.
    """
    model = model_or_result.model if is_result(model_or_result) else model_or_result
    gamma = structural_coefficients(model)
    rows = []
    for j, var in enumerate(model.variables):
        for k in np.flatnonzero(model.member_[j]):
            wjk = float(model.weights_[j, k])
            eff = wjk * gamma[k]
            eff_100 = float(array_change_to_100(eff, *model.scale_range_))
            rows.append({"variable": var, "pillar": model.pillar_names[k],
                         "sd": float(model.scale_[j]), "pillar_weight": wjk,
                         "gamma": float(gamma[k]), "effect_RCI": eff,
                         "effect_RCI_100": eff_100,
                         "effect_RCI_100_per_unit": eff_100 / float(model.scale_[j])})
    out = pd.DataFrame(rows)
    out["rank"] = out["effect_RCI_100"].abs().rank(ascending=False, method="first").astype(int)
    return out.sort_values("rank", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- report parts
def effects_by_soum_figure(res: ScenarioResult, scenario_name: str | None = None):
    """Mean change in RCI_100 by soum (bootstrap CIs) for one scenario: a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    name = scenario_name or res.overall["scenario"].iloc[0]
    tab = res.by_soum[res.by_soum["scenario"] == name]
    if tab.empty:
        raise RimaInputError(f"no scenario named {name!r}; scenarios: {res.overall['scenario'].tolist()}")
    soum_col = next(c for c in tab.columns if c not in ("scenario", "households", "mean_change",
                                                      "ci_lower", "ci_upper", "households_changed",
                                                      "leaving_low", "leaving_low_weighted"))
    tab = tab.sort_values("mean_change")
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(tab) + 1.4))
    y = np.arange(len(tab))
    ax.errorbar(tab["mean_change"], y, xerr=[tab["mean_change"] - tab["ci_lower"],
                                            tab["ci_upper"] - tab["mean_change"]],
                fmt="o", color="#1b7837", ecolor="#a6dba0", capsize=2)
    overall = res.overall[res.overall["scenario"] == name].iloc[0]
    ax.axvline(overall["mean_change"], color="#1b7837", ls=":", lw=1, label="all households")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, tab[soum_col])
    ax.set_xlabel(f"change in mean RCI_100 ({round(100 * res.level)}% bootstrap CI)")
    ax.set_title(name)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def overall_html(res: ScenarioResult) -> str:
    """The scenarios' overall effects as an HTML table fragment for the report."""
    cols = ["scenario", "description", "mean_change", "ci_lower", "ci_upper",
            "households_changed", "leaving_low", "leaving_low_weighted"]
    return res.overall[cols].to_html(index=False, float_format=lambda v: f"{v:.3f}",
                                     classes="rima-table", border=0)
