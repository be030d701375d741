"""Scoring raw survey modules: build the model's variables with its stored recipes and
constants, then score, answering with the build's per-household statuses and issues."""

from __future__ import annotations

import json

import pandas as pd

from rima.errors import RimaInputError
from rima.service.encoding import encode_json, parse_json
from rima.service.errors import ApiError, item_error
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
    for mod, rows in modules.items():
        if mod not in bspec.sources:
            raise ApiError(422, f"unknown module {mod!r}; the model's sources are "
                                f"{', '.join(bspec.sources)}", [item_error(mod, [], "unknown")])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ApiError(422, f"module {mod!r} must be a JSON array of objects",
                           [item_error(mod, [], "array of objects")])
        if len(rows) > (settings.max_rows if mod == bspec.main else limit):
            raise ApiError(413, f"module {mod!r}: {len(rows)} rows is more than allowed")
        frames[mod] = pd.DataFrame.from_records(rows)
    if n_hh == 0:
        raise ApiError(422, "no households were sent (empty household table)")
    try:
        built = build(bspec, frames, fit=False)
    except RimaInputError as exc:
        raise ApiError(422, str(exc)) from None
    payload = json.loads(score_payload(name, model, built.table, settings))
    report = built.report.astype(object).where(built.report.notna(), None)
    issues = built.issues.astype(object).where(built.issues.notna(), None)
    payload["build"] = {"report": report.to_dict(orient="records"),
                        "issues": issues.to_dict(orient="records")}
    return n_hh, encode_json(payload)
