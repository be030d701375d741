"""The page's variable mapping: a spec dict checked role by role, errors tied to controls.

The page holds the mapping as the structure `rima.load_spec` takes ({data, pillars,
indicators, options}); the same dict becomes the spec TOML the analyst downloads and the
spec file the fit runs with. Each problem comes back as {field, message} where `field`
names the control it concerns ("id", "weight", "profiles", "indicators", "pillar-ABS",
"options", "spec"), so the page can show it next to that control; data problems found
by `rima.validate` name their rows (counted from 1). Every message comes from the
interface catalogue (rima.app.messages) in the analyst's language; a data problem of a
kind the catalogue does not know keeps `rima.validate`'s English sentence.
"""

from __future__ import annotations

import threading

from rima.app.messages import EN, text
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


def check_mapping(spec_dict: dict, columns=None, lang: str = "en") -> list[dict]:
    """Problems of the mapping itself (before the data are looked at)."""
    t = lambda key, **kw: text(lang, key, **kw)
    errs: list[dict] = []
    data = spec_dict.get("data") or {}
    cols = set(columns) if columns is not None else None
    if not data.get("id"):
        errs.append({"field": "id", "message": t("err_choose_id")})
    roles: dict[str, str] = {}

    def claim(col, field):
        if col in roles and roles[col] != field:
            errs.append({"field": field, "message": t("err_one_role", col=col,
                                                      role=roles[col])})
        roles.setdefault(col, field)
        if cols is not None and col not in cols:
            errs.append({"field": field, "message": t("err_not_column", col=col)})

    for key in ("id", "weight"):
        if data.get(key):
            claim(data[key], key)
    for name, vs in (spec_dict.get("pillars") or {}).items():
        for v in vs:
            claim(v, f"pillar-{name}")
        if len(vs) < MIN_PILLAR_VARIABLES:
            errs.append({"field": f"pillar-{name}", "message": t(
                "err_pillar_min", name=name, n=len(vs), min=MIN_PILLAR_VARIABLES)})
    if not spec_dict.get("pillars"):
        errs.append({"field": "spec", "message": t("err_no_pillar")})
    groups = spec_dict.get("indicators") or {}
    inds = next(iter(groups.values()), []) if groups else []
    for v in inds:
        claim(v, "indicators")
    if len(inds) < MIN_INDICATORS:
        errs.append({"field": "indicators", "message": t("err_indicators_min", n=len(inds),
                                                          min=MIN_INDICATORS)})
    for p in data.get("profiles", []):
        if p in roles and roles[p] not in ("profiles",):
            errs.append({"field": "profiles", "message": t("err_profile_used", col=p,
                                                            role=roles[p])})
        if cols is not None and p not in cols:
            errs.append({"field": "profiles", "message": t("err_not_column", col=p)})
    try:
        parse_options(spec_dict.get("options") or {})
    except RimaInputError as exc:
        errs.append({"field": "options", "message": t("err_options", detail=str(exc))})
    if errs:
        return errs
    try:
        spec = load_spec(spec_dict)
        spec.options.check_spec(spec)
    except RimaInputError as exc:
        errs.append({"field": "spec", "message": t("err_spec", detail=str(exc))})
    return errs


def rows_text(rows, lang: str = "en") -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    if len(rows) > MAX_ROWS_SHOWN:
        shown = text(lang, "rows_more", rows=shown, more=len(rows) - MAX_ROWS_SHOWN)
    return text(lang, "rows", rows=shown)


def issue_message(issue, lang: str = "en") -> str:
    """A `rima.validate` problem in the analyst's language, with its rows."""
    rows = list(issue.rows or [])
    key = f"val_{issue.kind}"
    if key in EN:
        values = ", ".join(repr(v) for v in issue.values[:3])
        return text(lang, key, col=issue.column, n=len(rows), rows=rows_text(rows, lang),
                    values=values)
    msg = text(lang, "err_data", detail=issue.message)
    if rows and "row" not in issue.message:
        msg += f" ({rows_text(rows, lang)})"
    return msg


def check_data(spec_dict: dict, df, lang: str = "en") -> list[dict]:
    """`rima.validate`'s errors, each next to the control of its column, with row numbers."""
    from rima.validation import validate

    spec = load_spec(spec_dict)
    with _VALIDATE:
        rep = validate(df, spec)
    return [{"field": field_of(spec_dict, issue.column) if issue.column else "spec",
             "message": issue_message(issue, lang),
             "rows": list(issue.rows or [])[:MAX_ROWS_SHOWN]} for issue in rep.errors]
