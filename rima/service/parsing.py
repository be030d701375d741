"""Households from a JSON array, a CSV body or a multipart upload, checked before scoring.

Problems are answered with ApiError naming the field and the 1-based rows at fault.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
from fastapi import Request

from rima.service.describe import model_columns
from rima.service.encoding import parse_json
from rima.service.errors import MAX_LISTED_ERRORS, ApiError, item_error
from rima.service.settings import ServiceSettings
from rima.suggest import did_you_mean

CSV_TYPES = ("text/csv", "application/csv", "text/plain")


def body_kind(ctype: str) -> str | None:
    if ctype == "application/json" or ctype.endswith("+json"):
        return "json"
    if ctype in CSV_TYPES:
        return "csv"
    if ctype == "multipart/form-data":
        return "multipart"
    return None


async def read_body(request: Request, ctype: str, accepted: tuple[str, ...]) -> bytes:
    """The body, after checking its content type is one the endpoint takes (else 415)."""
    if body_kind(ctype) not in accepted:
        if "csv" not in accepted:
            raise ApiError(
                415,
                f"unsupported Content-Type {ctype or 'none'!r}: send application/json, or "
                "multipart/form-data with the households CSV in the field 'file'",
            )
        raise ApiError(
            415,
            f"unsupported Content-Type {ctype or 'none'!r}: send application/json (an array of "
            "households), text/csv, or multipart/form-data with a CSV in the field 'file'",
        )
    return await request.body()


def request_content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def households_from_body(ctype: str, full_ctype: str, body: bytes, model, settings):
    kind = body_kind(ctype)
    if kind == "json":
        doc = parse_json(body)
        if isinstance(doc, dict):
            # the body shape /aggregate takes, {"households": [...]}, is accepted here too
            extra = sorted(set(doc) - {"households"})
            if "households" not in doc or extra:
                raise ApiError(422, 'the body must be a JSON array of households or '
                               '{"households": [...]}' + (f"; unknown field(s) {extra}"
                                                          if extra else ""),
                               [item_error(k, [], "unknown field") for k in extra])
            doc = doc["households"]
        return households_frame(doc, model, settings)
    if kind == "multipart":
        body = _multipart_file(body, full_ctype)
    return csv_frame(body, model, settings)


def _multipart_file(body: bytes, content_type: str) -> bytes:
    parts = multipart_parts(body, content_type)
    if "file" not in parts:
        raise no_file_error(parts)
    return parts["file"]


def no_file_error(parts: dict) -> ApiError:
    return ApiError(
        422,
        "the multipart body has no field 'file' (fields sent: "
        f"{', '.join(repr(n) for n in parts) or 'none'}); upload the CSV as file=@households.csv",
        [item_error("file", [], "required multipart field")],
    )


def csv_records(content: bytes, what: str) -> list[dict]:
    try:
        df = pd.read_csv(io.BytesIO(content))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"{what}: not a readable CSV: {exc}") from None
    df.columns = [str(c) for c in df.columns]
    _check_header(content, what)
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()}
            for row in df.astype(object).to_dict("records")]


def _check_header(content: bytes, what: str) -> None:
    """422 naming a repeated column and its positions (pandas would rename the second
    one and the first would be scored without a word)."""
    from rima.io import duplicate_columns, duplicate_message

    head = pd.read_csv(io.BytesIO(content), header=None, nrows=1, dtype=str,
                       keep_default_na=False)
    names = [str(c) for c in head.iloc[0].tolist()] if len(head) else []
    dups = duplicate_columns(names)
    if dups:
        raise ApiError(422, f"{what}: {duplicate_message(names)}",
                       [item_error(dups[0][0], [], "column name repeated")])


def multipart_parts(body: bytes, content_type: str) -> dict[str, bytes]:
    """{field name: content} of a multipart body, parsed in memory.

    Starlette's form parser spools uploads over 1 MB to temporary files; the stdlib MIME
    parser keeps everything in memory, and the body is already capped by max_body_bytes.
    """
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ApiError(400, "the multipart body could not be parsed (check the boundary)")
    parts: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is not None and name not in parts:
            parts[str(name)] = part.get_payload(decode=True) or b""
    return parts


def csv_frame(content: bytes, model, settings: ServiceSettings) -> pd.DataFrame:
    # read exactly as `rima score` reads a .csv file (rima.io.read_table -> pd.read_csv),
    # so both see the same values
    if not content.strip():
        raise ApiError(422, "the CSV is empty: send a header row and one row per household")
    try:
        df = pd.read_csv(io.BytesIO(content))
        df.columns = [str(c) for c in df.columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the body is not a readable CSV: {exc}") from None
    _check_header(content, "the CSV")
    if len(df) > settings.max_rows:
        raise ApiError(413, _rows_message(len(df), settings))
    if len(df) == 0:
        raise ApiError(422, "the CSV has a header but no households")
    _check_frame(df, model)
    return df


def _rows_message(n: int, settings: ServiceSettings) -> str:
    return (
        f"{n} households in one request; the limit is {settings.max_rows}: split the batch"
    )


def households_frame(rows, model, settings: ServiceSettings, extra=()) -> pd.DataFrame:
    """JSON households -> DataFrame, naming the row and field of every problem.

    A field the model needs must be present in every household (null for a missing
    value, which the household's status then reports); absent keys are an error, since
    they are usually a misspelt field name rather than a missing answer.
    """
    if not isinstance(rows, list):
        raise ApiError(422, "the households must be a JSON array of objects, one per household")
    if len(rows) > settings.max_rows:
        raise ApiError(413, _rows_message(len(rows), settings))
    if not rows:
        raise ApiError(422, "no households were sent (empty array)")
    required = list(dict.fromkeys([*model_columns(model), *extra]))
    needed = set(required)
    errors: list[dict] = []
    absent: dict[str, list[int]] = {}
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            errors.append(item_error(None, [i], f"row {i}: expected a JSON object, got {_json_type(row)}"))
        elif not needed.issubset(row.keys()):
            for name in needed.difference(row.keys()):
                absent.setdefault(name, []).append(i)
        if len(errors) >= MAX_LISTED_ERRORS:
            break
    for name in required:
        if name in absent:
            rs = absent[name]
            where = "every household" if len(rs) == len(rows) else f"row(s) {rows_text(rs)}"
            errors.append(item_error(
                name, rs,
                f"field {name!r} is missing from {where}; send null for a missing value"
                f"{_near(name, rows)}",
            ))
    numeric = set(model.spec.numeric_columns)
    for name in required:
        if name in numeric:
            continue
        # pandas would turn an id beyond 64 bits into a float and round it
        long = [i for i, row in enumerate(rows, 1)
                if isinstance(row, dict) and not _fits_int64(row.get(name))]
        if long:
            errors.append(_text_field_error(name, long))
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])
    try:
        df = pd.DataFrame.from_records(rows, columns=required)
    except (OverflowError, RecursionError, ValueError) as exc:
        raise ApiError(422, f"the households cannot be read as a table: {exc}") from None
    for name in required:
        col = df[name]
        if name in numeric:
            # (NaN in a float column is a null that was sent)
            if col.dtype.kind in "iu" or (col.dtype.kind == "f"
                                           and not np.isinf(col.to_numpy()).any()):
                continue
            # text is a cell value like a CSV cell: scoring flags the household whose text
            # is not a number (rima's one scoring rule); other JSON types are request errors
            bad = [i for i, v in enumerate(col.tolist(), 1)
                   if not (_is_number_or_null(v) or isinstance(v, str))]
            if bad:
                first = col.iloc[bad[0] - 1]
                errors.append(item_error(
                    name, bad,
                    f"field {name!r} must be a number, text or null; row(s) "
                    f"{rows_text(bad)} (first: {shown_value(first)})",
                ))
            elif not any(isinstance(v, str) for v in col.tolist()):
                df[name] = pd.to_numeric(col).astype(float)
        elif col.dtype == object:
            bad = [i for i, v in enumerate(col.tolist(), 1)
                   if isinstance(v, (dict, list, bool)) or not _fits_int64(v)]
            if bad:
                errors.append(_text_field_error(name, bad))
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])
    _check_frame(df, model)
    return df


def _text_field_error(name, rows) -> dict:
    return item_error(name, rows,
                      f"field {name!r} must be a string, a number (integers of at most 64 "
                      f"bits; send longer ones as text) or null; row(s) {rows_text(rows)}")


def _is_number_or_null(v) -> bool:
    # an integer beyond float64 (a 400-digit number) is not a usable number either
    if isinstance(v, int) and not isinstance(v, bool):
        return abs(v) < 2 ** 1023
    return v is None or (isinstance(v, float) and not math.isinf(v))


def _fits_int64(v) -> bool:
    return not isinstance(v, int) or -(2 ** 63) <= v < 2 ** 63


def shown_value(v, limit: int = 60) -> str:
    """A sent value for a message: JSON, cut short (a hostile value may be huge or deeply
    nested)."""
    if isinstance(v, (list, dict)):
        return "an array" if isinstance(v, list) else "an object"
    try:
        text = json.dumps(v)
    except (ValueError, TypeError, RecursionError):
        text = type(v).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _json_type(v) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number"
    )


def _near(name: str, rows: list) -> str:
    """Suggest a field the first households do send, for a required one they lack."""
    seen = set()
    for row in rows[:50]:
        if isinstance(row, dict):
            seen.update(map(str, row))
    return did_you_mean(name, sorted(seen), limit=1)


def rows_text(rows) -> str:
    rows = list(rows)
    shown = ", ".join(map(str, rows[:10]))
    return shown + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


# kinds of rima.validate issues that make a batch unscorable; the others (constant or
# all-missing columns, no usable rows) describe a training sample, not a scoring batch,
# whose rows get their own status instead (a non-numeric or an infinite cell is not one:
# the household's status names it, as `rima score` and `model.score` do)
_BLOCKING = {
    "duplicate_column", "missing_column", "missing_id",
    "duplicate_id", "negative_weight",
}


def _check_frame(df: pd.DataFrame, model) -> None:
    """422 naming field and rows if rima.validate finds a blocking problem.

    The full validation also builds per-variable summaries, most of a small request's
    cost; a batch that passes the cheap checks below cannot have a blocking issue, so
    only a suspect batch pays for the complete, well-worded report.
    """
    if _plainly_valid(df, model):
        return
    from rima.validation import validate

    report = validate(df, model.spec)
    required = set(model_columns(model))
    errors = [
        item_error(e.column, e.rows, e.message)
        for e in report.errors
        if e.kind in _BLOCKING and (e.kind != "missing_column" or e.column in required)
    ]
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])


def _plainly_valid(df: pd.DataFrame, model) -> bool:
    spec = model.spec
    cols = set(map(str, df.columns))
    if len(cols) != df.shape[1] or not set(model_columns(model)) <= cols:
        return False
    for c in spec.numeric_columns:
        if c not in cols:
            continue
        if df[c].dtype.kind not in "iufb":
            return False
        if df[c].dtype.kind == "f" and np.isinf(df[c].to_numpy()).any():
            return False
    from rima.validation import blank_ids

    ids = df[spec.id]
    if blank_ids(ids).any() or ids.duplicated().any():
        return False
    if spec.weight and spec.weight in cols:
        w = df[spec.weight].to_numpy(dtype=float, na_value=np.nan)
        if (w < 0).any():
            return False
    return True
