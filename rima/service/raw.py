"""Scoring raw survey modules: build the model's variables with its stored recipes and
constants, then score, answering with the build's per-household statuses and issues."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from rima.errors import RimaInputError
from rima.service.encoding import encode_json, parse_json
from rima.service.errors import MAX_LISTED_ERRORS, ApiError, item_error
from rima.service.parsing import rows_text, shown_value
from rima.service.scoring import score_payload

SCORE_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["modules"],
            "properties": {"modules": {
                "type": "object",
                "description": "household table and modules by their [sources] names, each "
                               "an array of row objects",
                "additionalProperties": {"type": "array", "items": {"type": "object"}},
            }},
        }}},
    }
}

# module rows allowed per household sent (a roster or livestock module has several)
MODULE_ROWS_PER_HOUSEHOLD = 50


def score_raw_job(name, model, body: bytes, settings) -> tuple[int, bytes]:
    """{"modules": {"households": [...], "roster": [...], ...}} -> scores + build report."""
    from rima.build.engine import build

    bspec = getattr(model.spec, "build", None)
    if bspec is None:
        raise ApiError(422, f"model {name!r} has no [build] recipes; send built households "
                            f"to /models/{name}/score")
    request = parse_json(body)
    modules = request.get("modules") if isinstance(request, dict) else None
    if not isinstance(modules, dict) or bspec.main not in modules:
        raise ApiError(422, 'the body must be a JSON object {"modules": {"' + bspec.main
                       + '": [...], "<module>": [...]}} with the household table and modules',
                       [item_error("modules", [], "required object")])
    frames = {}
    n_hh = len(modules[bspec.main]) if isinstance(modules[bspec.main], list) else 0
    limit = settings.max_rows * MODULE_ROWS_PER_HOUSEHOLD
    errors: list[dict] = []
    for mod, rows in modules.items():
        if mod not in bspec.sources:
            raise ApiError(422, f"unknown module {mod!r}; the model's sources are "
                                f"{', '.join(bspec.sources)}", [item_error(mod, [], "unknown")])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ApiError(422, f"module {mod!r} must be a JSON array of objects",
                           [item_error(mod, [], "array of objects")])
        if len(rows) > (settings.max_rows if mod == bspec.main else limit):
            raise ApiError(413, f"module {mod!r}: {len(rows)} rows is more than allowed")
        frames[mod] = module_frame(mod, rows, bspec.sources[mod].key, errors)
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])
    if n_hh == 0:
        raise ApiError(422, "no households were sent (empty household table)")
    try:
        built = build(bspec, frames, fit=False)
    except RimaInputError as exc:
        raise ApiError(422, str(exc)) from None
    payload = json.loads(score_payload(name, model, built.table, settings, built=built))
    report = built.report.astype(object).where(built.report.notna(), None)
    issues = built.issues.astype(object).where(built.issues.notna(), None)
    payload["build"] = {"report": report.to_dict(orient="records"),
                        "issues": issues.to_dict(orient="records")}
    return n_hh, encode_json(payload)


# whole numbers beyond this are not exact as float64: two ids there can read as one
_EXACT_FLOAT = 2.0 ** 53


def module_frame(mod: str, rows: list, key: str, errors: list) -> pd.DataFrame:
    """A module's rows as a table, its cells checked at the edge: JSON objects and arrays
    are no cell values, and a household id (`key`) must be text, an integer of at most 64
    bits, a number pandas holds exactly (at most 2**53) or null. Each problem is appended
    to `errors`, naming module, column and the module's rows (from 1). Integer ids sent
    with a null among them stay integers (pandas would make them decimals: 100001.0)."""
    frame = pd.DataFrame.from_records(rows)
    for col in frame.columns:
        if frame[col].dtype == object and col != key:
            bad = [i for i, v in enumerate(frame[col].tolist(), 1) if isinstance(v, (dict, list))]
            if bad:
                errors.append(_cell_error(mod, col, bad, frame[col].iloc[bad[0] - 1],
                                          "must be text, a number or null"))
    if key not in frame.columns:
        return frame  # the build names the missing key column
    ids = frame[key]
    if ids.dtype.kind == "i":
        return frame  # int64: every id fits
    if ids.dtype.kind == "f":
        x = ids.to_numpy(dtype=float)
        if ids.hasnans:
            values = [r.get(key) for r in rows]
            if all(v is None or (isinstance(v, int) and not isinstance(v, bool))
                   for v in values):
                return _with_integer_ids(frame, key, values, mod, errors)
        with np.errstate(invalid="ignore"):
            big = np.flatnonzero(np.abs(x) > _EXACT_FLOAT) + 1
        if len(big):
            errors.append(_cell_error(
                mod, key, big.tolist(), x[big[0] - 1],
                "household ids sent as decimal numbers beyond 2**53 lose digits (two ids "
                "can read as one); send them as integers or text"))
        return frame
    if ids.dtype == object or ids.dtype.kind in "ub":
        _check_ids(ids.tolist(), mod, key, errors)
    return frame


def _with_integer_ids(frame, key, values, mod, errors):
    if _check_ids(values, mod, key, errors):
        frame[key] = pd.array(values, dtype="Int64")
    return frame


def _check_ids(values: list, mod: str, key: str, errors: list) -> bool:
    """True when every id is text, a number pandas holds exactly or null; else an error."""
    bad = [i for i, v in enumerate(values, 1) if not _usable_id(v)]
    if bad:
        errors.append(_cell_error(
            mod, key, bad, values[bad[0] - 1],
            "a household id must be text, a number (integers of at most 64 bits, decimals "
            "of at most 2**53; send longer ids as text) or null"))
    return not bad


def _usable_id(v) -> bool:
    if v is None or isinstance(v, str):
        return True
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return -(2 ** 63) <= int(v) < 2 ** 63
    if isinstance(v, (float, np.floating)):
        return not np.isfinite(v) or abs(float(v)) <= _EXACT_FLOAT
    return False


def _cell_error(mod, col, rows, first, what) -> dict:
    return item_error(f"{mod}.{col}", rows,
                      f"module {mod!r}, column {col!r}: {what}; row(s) {rows_text(rows)} "
                      f"(first: {shown_value(first)})")
