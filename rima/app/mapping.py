"""The page's variable mapping: a spec dict checked role by role, errors tied to controls.

The page holds the mapping as the structure `rima.load_spec` takes ({data, pillars,
indicators, options}); the same dict becomes the spec TOML the analyst downloads and the
spec file the fit runs with. Each problem comes back as {field, message} where `field`
names the control it concerns ("id", "weight", "profiles", "indicators", "pillar-ABS",
"options", "spec"), so the page can show it next to that control; data problems found
by `rima.validate` name their rows (counted from 1).
"""

from __future__ import annotations

import threading

from rima.errors import RimaInputError
from rima.options import parse_options
from rima.spec import MIN_INDICATORS, MIN_PILLAR_VARIABLES, load_spec

# validation runs column kernels; one at a time keeps concurrent requests from sharing
# their parallel thread pool
_VALIDATE = threading.Lock()
MAX_ROWS_SHOWN = 10


def field_of(spec_dict: dict, column: str) -> str:
    data = spec_dict.get("data", {})
    if column == data.get("id"):
        return "id"
    if column == data.get("weight"):
        return "weight"
    for name, vs in spec_dict.get("pillars", {}).items():
        if column in vs:
            return f"pillar-{name}"
    for vs in spec_dict.get("indicators", {}).values():
        if column in vs:
            return "indicators"
    if column in data.get("profiles", []):
        return "profiles"
    return "spec"


def check_mapping(spec_dict: dict, columns=None) -> list[dict]:
    """Problems of the mapping itself (before the data are looked at)."""
    errs: list[dict] = []
    data = spec_dict.get("data") or {}
    cols = set(columns) if columns is not None else None
    if not data.get("id"):
        errs.append({"field": "id", "message": "choose the household id column"})
    roles: dict[str, str] = {}

    def claim(col, field):
        if col in roles and roles[col] != field:
            errs.append({"field": field, "message": f"{col} is already used in {roles[col]}; "
                         "a column can have one role only"})
        roles.setdefault(col, field)
        if cols is not None and col not in cols:
            errs.append({"field": field, "message": f"{col} is not a column of the data"})

    for key in ("id", "weight"):
        if data.get(key):
            claim(data[key], key)
    for name, vs in (spec_dict.get("pillars") or {}).items():
        for v in vs:
            claim(v, f"pillar-{name}")
        if len(vs) < MIN_PILLAR_VARIABLES:
            errs.append({"field": f"pillar-{name}", "message":
                         f"pillar {name} has {len(vs)} variable(s); a pillar needs at least "
                         f"{MIN_PILLAR_VARIABLES}"})
    if not spec_dict.get("pillars"):
        errs.append({"field": "spec", "message": "map variables to at least one pillar"})
    groups = spec_dict.get("indicators") or {}
    inds = next(iter(groups.values()), []) if groups else []
    for v in inds:
        claim(v, "indicators")
    if len(inds) < MIN_INDICATORS:
        errs.append({"field": "indicators", "message":
                     f"{len(inds)} food-security indicator(s); the MIMIC model needs at least "
                     f"{MIN_INDICATORS}"})
    for p in data.get("profiles", []):
        if p in roles and roles[p] not in ("profiles",):
            errs.append({"field": "profiles", "message": f"{p} is already used in {roles[p]}"})
        if cols is not None and p not in cols:
            errs.append({"field": "profiles", "message": f"{p} is not a column of the data"})
    try:
        parse_options(spec_dict.get("options") or {})
    except RimaInputError as exc:
        errs.append({"field": "options", "message": str(exc)})
    if errs:
        return errs
    try:
        spec = load_spec(spec_dict)
        spec.options.check_spec(spec)
    except RimaInputError as exc:
        errs.append({"field": "spec", "message": str(exc)})
    return errs


def check_data(spec_dict: dict, df) -> list[dict]:
    """`rima.validate`'s errors, each next to the control of its column, with row numbers."""
    from rima.validation import validate

    spec = load_spec(spec_dict)
    with _VALIDATE:
        rep = validate(df, spec)
    out = []
    for issue in rep.errors:
        rows = list(issue.rows or [])
        msg = issue.message
        if rows and "row" not in msg:
            shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
            more = f" and {len(rows) - MAX_ROWS_SHOWN} more" if len(rows) > MAX_ROWS_SHOWN else ""
            msg += f" (rows {shown}{more})"
        out.append({"field": field_of(spec_dict, issue.column) if issue.column else "spec",
                    "message": msg, "rows": rows[:MAX_ROWS_SHOWN]})
    return out
