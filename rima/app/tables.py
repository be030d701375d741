"""Reading an uploaded table for the page: separator and decimal detection, labels, preview.

`rima.io.read_table` reads by extension; the page adds what a spreadsheet export needs:
CSV separators other than ',' and decimal commas are detected from the first lines, and
Stata/SPSS variable labels are read for the preview next to the value labels that
`read_table` keeps in ``df.attrs``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import pandas as pd

from rima.errors import DataError
from rima.io import csv_quoting, read_table, table_format

SEPARATORS = (",", ";", "\t", "|")
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def sniff_csv(path: Path) -> tuple[str, str]:
    """(separator, decimal) of a delimited text file, from its first 50 lines."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024).decode("utf-8", errors="replace")
    lines = [ln for ln in head.splitlines()[:50] if ln.strip()]
    if not lines:
        return ",", "."
    best, best_score = ",", -1
    for sep in SEPARATORS:
        counts = [len(next(csv.reader([ln], delimiter=sep))) for ln in lines[: len(lines) - 1 or 1]]
        if counts[0] < 2:
            continue
        score = counts[0] * sum(c == counts[0] for c in counts)
        if score > best_score:
            best, best_score = sep, score
    decimal = "."
    if best != ",":
        cells = [c for ln in lines[1:] for c in next(csv.reader([ln], delimiter=best))]
        if cells and sum(bool(_DECIMAL_COMMA.match(c.strip())) for c in cells) > 0:
            decimal = ","
    return best, decimal


def excel_sheets(path: Path) -> list[str]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def read_upload(path: Path, sheet: str | None = None) -> tuple[pd.DataFrame, dict]:
    """(data, how it was read: format, separator, decimal, sheet, sheets)."""
    fmt = table_format(path)
    info: dict = {"format": fmt}
    if fmt in ("csv", "tsv"):
        sep, dec = sniff_csv(path)
        info.update(separator=sep, decimal=dec)
        if (sep, dec) == ((",", ".") if fmt == "csv" else ("\t", ".")):
            df = read_table(path)
        else:
            try:
                df = pd.read_csv(path, sep=sep, decimal=dec)
            except Exception as exc:
                raise DataError(f"{path.name}: cannot read as {fmt}: {exc}") from exc
            df.columns = [str(c) for c in df.columns]
    elif fmt == "excel":
        try:
            sheets = excel_sheets(path)
        except Exception as exc:
            raise DataError(f"{path.name}: not a readable Excel workbook ({exc})") from exc
        info["sheets"] = sheets
        info["sheet"] = sheet if sheet in sheets else sheets[0]
        df = read_table(path, sheet=info["sheet"])
    else:
        df = read_table(path)
    if df.shape[1] == 0 or df.shape[0] == 0:
        raise DataError(f"{path.name}: the file has no data rows")
    info["variable_labels"] = _variable_labels(path, fmt)
    return df, info


def _variable_labels(path: Path, fmt: str) -> dict:
    try:
        if fmt == "stata":
            with pd.io.stata.StataReader(path) as r:
                return {k: v for k, v in r.variable_labels().items() if v}
        if fmt == "spss":
            import pyreadstat

            _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
            return {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    except Exception:  # noqa: BLE001 - labels are a courtesy; the data were read already
        return {}
    return {}


def _cell(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def plain_code(v):
    """A value-label code as written in the data: 1, not 1.0."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def preview(df: pd.DataFrame, info: dict, n_rows: int = 8) -> dict:
    """Columns (name, type, missing, label, value labels) and the first rows."""
    vlabels = df.attrs.get("value_labels", {}) or {}
    cols = []
    for c in df.columns:
        s = df[c]
        kind = ("numeric" if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
                else "text")
        values = {str(plain_code(k)): str(v) for k, v in list(vlabels.get(c, {}).items())[:30]}
        cols.append({"name": c, "type": kind, "missing": int(s.isna().sum()),
                     "label": info.get("variable_labels", {}).get(c, ""), "values": values})
    rows = [[_cell(v) for v in r] for r in df.head(n_rows).itertuples(index=False)]
    out = {k: v for k, v in info.items() if k != "variable_labels"}
    return {"n_rows": len(df), "n_cols": df.shape[1], "columns": cols, "rows": rows, **out}


def needs_copy(info: dict) -> bool:
    """True when `rima fit FILE` would not read the file as the page did."""
    if info["format"] == "excel":
        return info.get("sheet") != info["sheets"][0]
    if info["format"] in ("csv", "tsv"):
        default = "," if info["format"] == "csv" else "\t"
        return (info.get("separator"), info.get("decimal")) != (default, ".")
    return False


def as_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv_quoting(df))
    return buf.getvalue()
