"""pandas columns into float64 for the column kernels (`rima._kernels.columns`).

Validation, fitting and scoring read numbers from a DataFrame the same way: integer and
float columns go to the kernel as they are stored, booleans as 0/1, text is parsed with
blank cells read as missing, and a cell that is present but not a number is an error that
names it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima._kernels.columns import convert_column
from rima.errors import DataError


def float_source(s: pd.Series):
    """(values as int64 or float64 for `convert_column`, mask of cells present but not
    numbers or None when the dtype cannot hold any). Integer and float columns go to the
    kernel as they are stored; others are converted here first."""
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return s.astype(float).to_numpy(), None
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        if isinstance(dtype, np.dtype) and dtype in (np.int64, np.float64):
            return s.to_numpy(), None
        return s.to_numpy(dtype=float, na_value=np.nan), None
    return to_float(s)


def to_float(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values of `s` and a mask of cells present but not numbers."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float).to_numpy(), np.zeros(len(s), dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        return s.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(s), dtype=bool)
    raw = s.astype(object)
    present = raw.notna().to_numpy()
    if raw.map(lambda x: isinstance(x, str)).any():
        stripped = raw.map(lambda x: x.strip() if isinstance(x, str) else x)
        present = present & ~(stripped == "").to_numpy()
        raw = stripped.where(stripped != "", np.nan)
    conv = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = present & np.isnan(conv)
    return conv, bad


def numeric_sources(df: pd.DataFrame, columns, bad_cells: list | None = None) -> list:
    """Each column's values as `convert_column` takes them (integer and float columns
    without a copy). A cell present but not a number is a DataError naming it, or, with a
    `bad_cells` list, NaN in the source and (data row, column, value) appended to the list
    (scoring flags those rows instead of refusing the batch)."""
    sources = []
    for c in columns:
        col = df[c]
        src, bad = float_source(col)
        if bad is not None and bad.any():
            rows = np.flatnonzero(bad)
            if bad_cells is None:
                r = int(rows[0])
                raise DataError(f"column {c!r} has a non-numeric value {col.iloc[r]!r} at "
                                f"data row {r + 1}")
            bad_cells.extend((int(r) + 1, c, col.iloc[r]) for r in rows)
        sources.append(src)
    return sources


def convert_rows(sources, columns, start, stop, out, marks=None, first_bit=0,
                 keep_infinite=False) -> np.ndarray:
    """Rows start .. stop - 1 of the sources into `out` (p, stop - start) float64, one pass
    of the column kernel per column; DataError naming the first infinite cell (rows
    counted in the whole frame), unless `keep_infinite` (scoring), which keeps infinite
    cells as they are and not marked missing. Bit first_bit + j (`pack_keys` layout) of
    `marks` ((stop - start, words) uint64; a scratch array by default) is set in the rows
    where column j is missing."""
    if marks is None:
        words = -(-(first_bit + len(columns)) // 64)
        marks = np.zeros((stop - start, words), dtype=np.uint64)
    for j, (c, src) in enumerate(zip(columns, sources)):
        b = first_bit + j
        bit = np.uint64(1) << np.uint64(b % 64)
        if convert_column(src[start:stop], out[j], marks, b // 64, bit)[1]:
            v = np.asarray(src[start:stop], dtype=float)
            inf = np.flatnonzero(np.isinf(v))
            if not keep_infinite:
                raise DataError(f"column {c!r} has an infinite value at data row "
                                f"{start + int(inf[0]) + 1}")
            out[j][inf] = v[inf]
            marks[inf, b // 64] &= ~bit
    return out


def numeric_matrix(df: pd.DataFrame, columns) -> np.ndarray:
    """Columns as float64 (NaN for missing), an (n, p) column-major matrix; DataError
    naming the first non-numeric or infinite cell."""
    out = np.empty((len(columns), len(df)))
    return convert_rows(numeric_sources(df, columns), columns, 0, len(df), out).T
