"""The work of the scoring endpoints, run in worker threads: parse, score, encode."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import ValidationError

from rima.errors import RimaInputError
from rima.io import csv_quoting
from rima.score_table import value_columns
from rima.service.aggregate import aggregate_scores, uses_weights
from rima.service.encoding import encode_json, parse_json
from rima.service.errors import ApiError, item_error
from rima.service.parsing import (
    body_kind,
    csv_frame,
    csv_records,
    households_frame,
    households_from_body,
    multipart_parts,
    no_file_error,
)
from rima.service.schemas import AggregateRequest
from rima.service.settings import ServiceSettings


def _score(model, frame: pd.DataFrame, settings: ServiceSettings) -> pd.DataFrame:
    """model.score plus the resilience class; one row per household, in order."""
    try:
        scores = model.score(frame)
    except RimaInputError as exc:
        raise ApiError(422, str(exc)) from None
    if len(scores) != len(frame):
        raise RuntimeError(
            f"model.score returned {len(scores)} rows for {len(frame)} households"
        )
    scores = scores.reset_index(drop=True)
    ok = (scores["status"] == "ok").to_numpy()
    rci = scores["RCI_100"].to_numpy(dtype=float, na_value=np.nan)
    classes = settings.classes.classify(np.where(ok, rci, np.nan))
    labels = np.asarray(classes.astype(object), dtype=object)
    labels[classes.isna()] = None
    scores["class"] = labels
    return scores


def _id_list(ids: pd.Series) -> list:
    """The ids as JSON values: a missing one (only score-raw takes them) as null."""
    if not ids.hasnans:
        return ids.tolist()
    return ids.astype(object).where(ids.notna(), None).tolist()


def _float_list(values) -> list:
    arr = np.asarray(values, dtype=float)
    out = arr.tolist()
    if np.isnan(arr).any():
        out = [None if math.isnan(v) else v for v in out]
    return out


def score_payload(name, model, frame, settings, as_csv=False, built=None) -> bytes:
    """The /score answer; `built`, the BuildResult of raw modules (score-raw), gives a
    household the build could not build at all (a missing or repeated id) that reason as
    its status."""
    scores = _score(model, frame, settings)
    spec = model.spec
    if built is not None:
        from rima.build.status import with_build_reasons

        scores["status"] = with_build_reasons(scores["status"], built, spec.build.main)
    n = len(scores)
    ids = _id_list(frame[spec.id])
    cols: dict[str, list] = {"row": list(range(1, n + 1)), "id": ids}
    for col in value_columns(spec.pillar_names):
        cols[col] = _float_list(scores[col])
    cols["class"] = [v if isinstance(v, str) else None for v in scores["class"].tolist()]
    cols["status"] = scores["status"].astype(str).tolist()
    if "out_of_range" in scores:
        flag = scores["out_of_range"]
        cols["out_of_range"] = [None if pd.isna(v) else bool(v) for v in flag.tolist()]
    if as_csv:
        # pandas writes floats as shortest round-trip decimals, like the JSON answer
        table = pd.DataFrame(cols)
        return table.to_csv(index=False, lineterminator="\n",
                            quoting=csv_quoting(table)).encode()
    keys = list(cols)
    households = [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    n_ok = int((scores["status"] == "ok").sum())
    return encode_json({
        "model": name,
        "n_households": n,
        "n_scored": n_ok,
        "n_not_scored": n - n_ok,
        "classes": settings.classes.to_dict(),
        "households": households,
    })


def score_job(name, model, ctype, full_ctype, body, settings, as_csv) -> tuple[int, bytes]:
    frame = households_from_body(ctype, full_ctype, body, model, settings)
    return len(frame), score_payload(name, model, frame, settings, as_csv)


def aggregate_csv(result: dict) -> bytes:
    """The /aggregate answer as a CSV table: one row per group (the overall row last),
    nested fields flattened (class_<label>, mean_<pillar>, dzud_<field>)."""
    rows = []
    for g in [*result["groups"], {**result["overall"], "group": "(all)", "rank": None}]:
        row = {}
        for k, v in g.items():
            if k == "classes":
                row.update({f"class_{c}": n for c, n in v.items()})
            elif k == "pillar_means":
                row.update({f"mean_{p}": x for p, x in v.items()})
            elif k == "dzud":
                row.update({f"dzud_{f}": x for f, x in (v or {}).items()})
            else:
                row[k] = v
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.to_csv(index=False, lineterminator="\n", quoting=csv_quoting(table)).encode()


def aggregate_job(name, model, ctype, full_ctype, body, settings,
                  as_csv=False) -> tuple[int, bytes]:
    if body_kind(ctype) == "multipart":
        parts = multipart_parts(body, full_ctype)
        if "file" not in parts:
            raise no_file_error(parts)
        households = parts.pop("file")
        request = {k: v.decode("utf-8", "replace") for k, v in parts.items() if k != "soums"}
        if "soums" in parts:
            request["soums"] = csv_records(parts["soums"], "soums")
    else:
        request = parse_json(body)
        if not isinstance(request, dict) or "households" not in request:
            raise ApiError(422, 'the body must be a JSON object with a "households" array')
        households = request.pop("households")
    try:
        options = AggregateRequest.model_validate(request)
    except ValidationError as exc:
        items = []
        for e in exc.errors():
            where = ".".join(map(str, e["loc"]))
            items.append(item_error(where, [], f"{where}: {e['msg']}"))
        raise ApiError(422, items[0]["message"], items) from None
    weight = model.spec.weight if uses_weights(model, options) else None
    extra = (options.by,) + ((weight,) if weight else ())
    if isinstance(households, bytes):
        frame = csv_frame(households, model, settings)
        for col in extra:
            if col not in frame.columns:
                raise ApiError(422, f"the households CSV has no column {col!r}",
                               [item_error(col, [], "column missing")])
    else:
        frame = households_frame(households, model, settings, extra=extra)
    scores = _score(model, frame, settings)
    result = aggregate_scores(name, model, frame, scores, options, settings)
    return len(frame), (aggregate_csv(result) if as_csv else encode_json(result))
