"""Group-level (soum) summaries of scored households, joined with a dzud table and ranked."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rima.analysis.targeting import RANKING_RULE, priority, rank_key
from rima.service.encoding import json_safe
from rima.service.errors import MAX_LISTED_ERRORS, ApiError, item_error
from rima.service.parsing import rows_text
from rima.service.schemas import AggregateRequest

_STAT_FIELDS = (
    "rci_100_mean", "rci_100_se", "rci_100_ci_lower", "rci_100_ci_upper",
    "share_low", "share_low_se", "share_low_ci_lower", "share_low_ci_upper",
    "est_low_households",
)
_RANKABLE = (
    "priority", "share_low", "share_low_se", "share_low_ci_lower", "share_low_ci_upper", "n_low",
    "est_low_households", "rci_100_mean", "rci_100_se", "rci_100_ci_lower", "rci_100_ci_upper",
    "n_households", "n_scored", "n_not_scored", "sum_weights",
)


def uses_weights(model, options: AggregateRequest) -> bool:
    """Whether /aggregate weights: as asked, else as the model was fitted (its
    options.weights), so the service and the report's profiles agree by default."""
    use = (options.weights if options.weights is not None
           else bool(model.options.get("weights", False)))
    return bool(model.spec.weight and use)


def aggregate_scores(name, model, frame, scores, options: AggregateRequest, settings) -> dict:
    """Group-level summary of scored households (see the aggregate endpoint).

    Mean RCI_100, its standard error and interval come from
    `rima.profiles.weighted_mean_ci` (the code behind the profile tables of `rima fit`);
    the low-resilience share, its SE, interval and
    the estimated number of low-resilience households from the soum table of
    `rima.analysis.targeting.target` (`rima target`), so the service and the batch
    commands report the same numbers.
    """
    from rima.profiles import MISSING_LABEL, weighted_mean_ci, weighted_mean_se

    spec = model.spec
    by = options.by
    level = options.level if options.level is not None else settings.ci_level
    weights = None
    if uses_weights(model, options):
        weights = frame[spec.weight].to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(weights)) + 1
        if bad.size:
            raise ApiError(422, (
                f"field {spec.weight!r} (sampling weight) is null at row(s) {rows_text(bad)}; "
                'aggregates are weighted: send every weight, or "weights": false'
            ), [item_error(spec.weight, bad, "missing sampling weight")])
    groups = frame[by].astype(object).where(frame[by].notna(), MISSING_LABEL)
    if groups.map(lambda v: isinstance(v, float)).any():
        # 3 and 3.0 are the same soum code; JSON numbers come back as floats when mixed
        groups = groups.map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
    n_groups = groups.nunique()
    if n_groups > settings.max_groups:
        raise ApiError(422, (
            f"grouping by {by!r} makes {n_groups} groups; the limit is {settings.max_groups} "
            "(group by soum or aimag, not by household)"
        ), [item_error(by, [], "too many groups")])
    ok = (scores["status"] == "ok").to_numpy()
    n_ok = int(ok.sum())
    rci_100 = scores["RCI_100"].to_numpy(dtype=float, na_value=np.nan)
    pillars = {p: scores[p].to_numpy(dtype=float, na_value=np.nan) for p in spec.pillar_names}

    def summarise(g: pd.Series) -> dict:
        low = _low_share_table(scores, g, weights, level, settings) if ok.any() else None
        out = {}
        for key in pd.unique(g.to_numpy()):
            m = (g == key).to_numpy()
            counts = scores.loc[m & ok, "class"].value_counts()
            out[key] = {
                "group": key,
                "rank": None,
                "n_households": int(m.sum()),
                "n_scored": int((m & ok).sum()),
                "n_not_scored": int((m & ~ok).sum()),
                "n_low": int(counts.get(settings.classes.lowest, 0)),
                "classes": {lab: int(counts.get(lab, 0)) for lab in settings.classes.labels},
                "sum_weights": 0.0,
                **dict.fromkeys(_STAT_FIELDS),
                "pillar_means": dict.fromkeys(spec.pillar_names),
            }
            scored = m & ok
            if not scored.any():
                continue
            w = None if weights is None else weights[scored]
            # each group is a domain of all scored households: its SE uses their count
            mean, se, lower, upper = weighted_mean_ci(rci_100[scored], w, level, n_design=n_ok)
            out[key].update({
                "sum_weights": float(scored.sum() if w is None else w.sum()),
                "rci_100_mean": mean, "rci_100_se": se, "rci_100_ci_lower": lower,
                "rci_100_ci_upper": upper,
                "pillar_means": {p: weighted_mean_se(v[scored], w)[0] for p, v in pillars.items()},
            })
        if low is not None:
            for key, entry in out.items():
                if entry["n_scored"] and str(key) in low.index:
                    row = low.loc[str(key)]
                    entry.update({
                        "share_low": row["share_low"], "share_low_se": row["se"],
                        "share_low_ci_lower": row["ci_lower"],
                        "share_low_ci_upper": row["ci_upper"],
                        "est_low_households": row["est_low_households"],
                    })
        return out

    per_group = summarise(groups)
    overall = summarise(pd.Series(["all"] * len(frame)))["all"]
    overall.pop("rank")
    overall.pop("group")

    unmatched = {"groups_not_in_table": [], "table_rows_without_households": []}
    table_fields: list[str] = []
    if options.soums is not None:
        table = _dzud_table(options.soums, by)
        table_fields = sorted({k for row in table.values() for k in row})
        for key in per_group:
            per_group[key]["dzud"] = table.get(key)
            if key not in table:
                unmatched["groups_not_in_table"].append(key)
        for key, row in table.items():
            if key not in per_group:
                unmatched["table_rows_without_households"].append(key)
                per_group[key] = {
                    "group": key, "rank": None, "n_households": 0, "n_scored": 0,
                    "n_not_scored": 0, "n_low": 0,
                    "classes": {lab: 0 for lab in settings.classes.labels}, "sum_weights": 0.0,
                    **dict.fromkeys(_STAT_FIELDS),
                    "pillar_means": dict.fromkeys(spec.pillar_names), "dzud": row,
                }

    for entry in per_group.values():
        dz = entry.get("dzud") if isinstance(entry.get("dzud"), dict) else {}
        sev = dz.get("severity")
        entry["priority"] = priority(entry.get("est_low_households"),
                                     sev if isinstance(sev, int | float) else None)
    rank_by = options.rank_by or "priority"
    if rank_by not in _RANKABLE and rank_by not in table_fields:
        allowed = ", ".join([*_RANKABLE, *table_fields])
        raise ApiError(422, f"rank_by {rank_by!r} is not a group field; use one of: {allowed}",
                       [item_error("rank_by", [], "unknown field")])
    groups_out = _rank(list(per_group.values()), rank_by, options.descending)
    return json_safe({
        "model": name,
        "by": by,
        "level": level,
        "weighted": weights is not None,
        "rank_by": rank_by,
        "ranking_rule": RANKING_RULE if rank_by == "priority" else
        f"{rank_by}, {'largest' if options.descending else 'smallest'} first; ties as in "
        "priority; groups without a value last, unranked",
        "descending": options.descending,
        "classes": settings.classes.to_dict(),
        "overall": overall,
        "groups": groups_out,
        "unmatched": unmatched,
    })


def _low_share_table(scores, groups, weights, level, settings) -> pd.DataFrame:
    """rima target's soum table for these households, indexed by str(group)."""
    from rima.analysis.targeting import target

    frame = pd.DataFrame({
        "_id": np.arange(len(scores)),
        "_group": groups.astype(str).to_numpy(),
        "RCI_100": scores["RCI_100"].where(scores["status"] == "ok").to_numpy(dtype=float),
        "status": scores["status"].to_numpy(),
    })
    if weights is not None:
        frame["_weight"] = weights
    t = target(
        frame, thresholds=settings.classes.thresholds, labels=settings.classes.labels,
        weight="_weight" if weights is not None else None, id="_id", soum_col="_group",
        level=level,
    )
    return t.soums.set_index("_group")


def _rank_value(entry: dict, field_name: str):
    v = entry.get(field_name)
    if v is None and isinstance(entry.get("dzud"), dict):
        v = entry["dzud"].get(field_name)
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def _rank(entries: list[dict], field_name: str, descending: bool) -> list[dict]:
    """Rank 1 = first to act on, by `rima.analysis.targeting.RANKING_RULE` (the order
    `rima target` prints); groups without a value come last, unranked."""
    def key(e):
        dz = e["dzud"].get("dzud_class") if isinstance(e.get("dzud"), dict) else None
        return rank_key(_rank_value(e, field_name), e.get("est_low_households"), dz,
                        e.get("rci_100_mean"), e["group"], descending)

    ordered = sorted(entries, key=key)
    rank = 0
    for e in ordered:
        if _rank_value(e, field_name) is not None:
            rank += 1
            e["rank"] = rank
    return ordered


def _dzud_table(rows, by: str) -> dict:
    """{group: row without the key} from the posted dzud table, naming bad rows."""
    errors = []
    table: dict = {}
    for i, row in enumerate(rows, 1):
        if by not in row:
            errors.append(item_error(f"soums.{by}", [i], f"soums row {i}: the field {by!r} is missing"))
            continue
        key = row[by]
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if not isinstance(key, str | int) or isinstance(key, bool):
            errors.append(item_error(f"soums.{by}", [i],
                                f"soums row {i}: {by!r} must be a string or an integer"))
            continue
        if key in table:
            errors.append(item_error(f"soums.{by}", [i], f"soums row {i}: {by} {key!r} appears twice"))
            continue
        bad = [k for k, v in row.items() if isinstance(v, dict | list)]
        if bad:
            errors.append(item_error(f"soums.{bad[0]}", [i],
                                f"soums row {i}: field {bad[0]!r} must be a number, string or null"))
            continue
        table[key] = {k: v for k, v in row.items() if k != by}
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])
    return table
