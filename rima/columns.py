"""The converted column block: data columns into float64 for the column kernels.

Validation, fitting and scoring read numbers from a DataFrame the same way: integer and
float columns go to the kernel as they are stored, booleans as 0/1, text is parsed with
blank cells read as missing, and a cell that is present but not a number is an error that
names it (or, when scoring, a flagged row).

* `convert_block(df, columns) -> BlockConversion`: the spec's numeric columns as one
  `ColumnBlock` (one float64 row per column, a bit mask of missing columns per data row)
  plus what the check pass found per column; `rima.validate` builds it once and the fit
  takes the block over (`ValidationReport.take_numeric`).
* `numeric_sources` + `convert_rows`: the same conversion in row chunks through reused
  buffers (`FittedModel.score`, hence `rima score` and the HTTP service).
* `arrow_float`: an Arrow column of a streamed batch into float64 with the same rule
  (`rima.streaming.score_file`).
* `numeric_matrix`: a few columns as an (n, p) matrix (anchors, bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rima._kernels.columns import convert_column, convert_columns, finite_total
from rima.config import threads_for
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
    with threads_for(stop - start):
        for j, (c, src) in enumerate(zip(columns, sources)):
            b = first_bit + j
            bit = np.uint64(1) << np.uint64(b % 64)
            if convert_column(src[start:stop], out[j], marks, b // 64, bit, total=False)[1]:
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


@dataclass
class ColumnBlock:
    """Numeric columns converted once: the block the fit reads its variables from.

    Attributes
    ----------
    names : list of str
        The converted columns, in block order (the spec's `numeric_columns` present).
    values : ndarray of shape (q, n) or None
        float64, one row per column and one column per data row; NaN where the cell is
        missing, not a number or infinite. None once taken (`take`).
    masks : ndarray of shape (n, words), uint64, or None
        Bit ``j % 64`` of word ``j // 64`` is set in the rows where column j is missing
        (the `rima.row_status.pack_keys` layout).
    """

    names: list
    values: np.ndarray | None
    masks: np.ndarray | None

    def take(self) -> np.ndarray | None:
        """Hand the values over; the block keeps no reference afterwards (None if taken)."""
        values, self.values = self.values, None
        return values

    def missing_rows(self, columns, every: bool) -> np.ndarray:
        """Bool (n,): rows where any (or, with `every`, each) of `columns` is missing,
        read from the per-row masks."""
        pos = {c: j for j, c in enumerate(self.names)}
        masks = self.masks
        nwords = masks.shape[1]
        mask = np.zeros(nwords, dtype=np.uint64)
        for c in columns:
            j = pos[c]
            mask[j // 64] |= np.uint64(1) << np.uint64(j % 64)
        n = masks.shape[0]
        if every:
            out = np.ones(n, dtype=bool)
            for k in range(nwords):
                if mask[k]:
                    out &= (masks[:, k] & mask[k]) == mask[k]
        else:
            out = np.zeros(n, dtype=bool)
            for k in range(nwords):
                if mask[k]:
                    out |= (masks[:, k] & mask[k]) != 0
        return out


@dataclass
class BlockConversion:
    """`convert_block`'s result: the block and what its check pass found per column.

    Attributes
    ----------
    block : ColumnBlock
    count, n_infinite : ndarray of shape (q,), int64
        Finite and infinite cells of each column.
    minimum, maximum : ndarray of shape (q,)
        Range of each column's finite cells (an empty range is (inf, -inf)).
    total : ndarray of shape (q,)
        Sum of each column's finite cells, computed when read (`finite_total`).
    sources : list
        Each column's values as the kernel read them (`float_source`).
    not_numbers : list of (ndarray of bool or None)
        Per column, the cells present but not numbers (None when its dtype holds none).
    """

    block: ColumnBlock
    count: np.ndarray
    n_infinite: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    sources: list
    not_numbers: list

    @property
    def total(self) -> np.ndarray:
        return np.array([finite_total(np.asarray(src, dtype=float)) for src in self.sources])


def convert_block(df: pd.DataFrame, columns) -> BlockConversion:
    """Convert `columns` of `df` into one `ColumnBlock`, each column checked while it is
    copied (`rima._kernels.columns.convert_column`). Never raises on bad cells: they are
    missing in the block and reported in the result for the caller to word."""
    columns = list(columns)
    q, n = len(columns), len(df)
    values = np.empty((q, n))
    words = max(1, -(-q // 64))
    sources, not_numbers = [], []
    for col in columns:
        src, bad = float_source(df[col])
        sources.append(src)
        not_numbers.append(bad)
    masks = np.zeros((n, words), dtype=np.uint64)
    count, n_inf, vmin, vmax = convert_columns(sources, values, masks)
    return BlockConversion(ColumnBlock(columns, values, masks), count, n_inf, vmin, vmax,
                           sources, not_numbers)


def arrow_float(arr, name: str, first_row: int, bad: list) -> np.ndarray:
    """float64 numpy array of an Arrow column (a streamed batch); text that is not a number
    becomes NaN and is appended to `bad` as (data row, column, value), as `numeric_sources`
    does for a DataFrame."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_decimal(arr.type):
        # as in-memory reading, where pandas holds decimals as numbers
        return pc.cast(arr, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or \
            pa.types.is_boolean(arr.type) or pa.types.is_null(arr.type):
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        try:
            return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = arr.to_pandas()
            num = pd.to_numeric(text.str.strip(), errors="coerce").to_numpy(dtype=float)
            wrong = text.notna().to_numpy() & np.isnan(num)
            for i in np.flatnonzero(wrong):
                bad.append((first_row + int(i), name, text.iloc[i]))
            return num
    raise DataError(f"column {name!r} has type {arr.type}, which is not numeric")
