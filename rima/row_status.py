"""Row status: every input row is scored ("ok") or carries the reason it was not.

One order from masks to accounting: the missing cells of each row as bit masks
(`pack_keys`), one reason per distinct mask worded by `missing_reason` (the words
`rima.validate`, `rima.fit`, `FittedModel.score`, streaming and the service all show),
integer codes into that list of reasons (`status_codes_from_keys`; code 0 is "ok") and the
status column built from the codes (`status_column`, through `text_column`, which also
makes the build's text columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OK = "ok"


def missing_reason(cols) -> str:
    """The status of a row not scored because the columns `cols` are missing."""
    cols = list(cols)
    if not cols:
        return "not scored"
    if len(cols) == 1:
        return f"missing value in {cols[0]}"
    return f"missing values in {', '.join(cols)}"


def weight_reason(weight: str) -> str:
    """The status of a row left out of a weighted fit for a weight of 0 (or less)."""
    return f"non-positive weight in {weight}"


def nonfinite_reason(column: str, value: float) -> str:
    """The status of a row that missed no value but whose score is not finite: the cell
    that overflowed the arithmetic (an infinite or huge value)."""
    return f"value {float(value)!r} in {column} gives a score that is not finite"


def row_status(df, needed, scored, partial_ok=()):
    """"ok" for scored rows, else the missing columns (as rima.validate words them).

    With `partial_ok` (FIML), a row missing only some of those columns is scored; if it is
    missing all of them the reason names them all.
    """
    needed = list(needed)
    bad = np.flatnonzero(~np.asarray(scored))
    miss = df[needed].iloc[bad].isna().to_numpy() if bad.size else np.zeros((0, len(needed)))
    codes, reasons = status_codes(len(df), bad, miss, needed, partial_ok)
    return np.asarray(reasons, dtype=object)[codes]


def pack_keys(miss) -> np.ndarray:
    """Rows of a boolean matrix as bit masks: (rows, ceil(cols / 64)) uint64, bit j % 64 of
    word j // 64 set when column j is True."""
    miss = np.asarray(miss, dtype=bool)
    nwords = max(1, -(-miss.shape[1] // 64))
    packed = np.zeros((miss.shape[0], nwords * 8), dtype=np.uint8)
    if miss.shape[1]:
        b = np.packbits(miss, axis=1, bitorder="little")
        packed[:, :b.shape[1]] = b
    return packed.view("<u8").astype(np.uint64, copy=False)


def status_codes(n, bad, miss, needed, partial_ok=()):
    """(codes (n,) int32, reasons) for rows `bad` (not scored) with missing-value matrix
    `miss` (len(bad) x len(needed)); code 0 is "ok". One reason per distinct pattern of
    missing columns, not one per row."""
    return status_codes_from_keys(n, bad, pack_keys(miss), needed, partial_ok)


def status_codes_from_keys(n, bad, keys, needed, partial_ok=()):
    """`status_codes` with each bad row's missing columns given as a bit mask (`pack_keys`
    layout, bit j <-> needed[j]; higher bits are ignored)."""
    codes = np.zeros(n, dtype=np.int32)
    reasons = ["ok"]
    if len(bad) == 0:
        return codes, reasons
    needed = list(needed)
    q = len(needed)
    keys = np.asarray(keys, dtype=np.uint64).reshape(len(bad), -1)
    nwords = max(1, -(-q // 64))
    keys = keys[:, :nwords]
    if q % 64:
        keep = np.full(nwords, np.iinfo(np.uint64).max, dtype=np.uint64)
        keep[-1] = (np.uint64(1) << np.uint64(q % 64)) - np.uint64(1)
        keys = keys & keep
    if nwords == 1:
        # one integer per row: a 1-D unique is far faster than unique(axis=0)
        ukeys, inverse = np.unique(keys[:, 0], return_inverse=True)
        ukeys = ukeys[:, None]
    else:
        ukeys, inverse = np.unique(keys, axis=0, return_inverse=True)
    reasons += key_reasons(ukeys, needed, partial_ok)
    codes[np.asarray(bad)] = 1 + inverse.ravel().astype(np.int32)
    return codes, reasons


def key_reasons(ukeys, needed, partial_ok=()) -> list:
    """The reason of each distinct mask (rows of ukeys, `pack_keys` layout)."""
    q = len(needed)
    partial = [needed.index(c) for c in partial_ok]
    out = []
    for key in ukeys:
        cols = [needed[j] for j in range(q) if (int(key[j // 64]) >> (j % 64)) & 1]
        if partial and cols and all(needed.index(c) in partial for c in cols):
            cols = [needed[j] for j in partial]
        out.append(missing_reason(cols))
    return out


def status_codes_from_masks(masks, needed, scored=None, partial_ok=()):
    """`status_codes_from_keys` for every row at once from the per-row masks of all rows
    (`pack_keys` layout, bit j <-> needed[j]; higher bits ignored): the rows reported are
    those not `scored`, or without `scored` those missing any of `needed`. One pass over
    blocks of rows (rima._kernels.columns.mask_codes) for masks of one word; the same
    codes and reasons as `status_codes_from_keys` on those rows."""
    from rima._kernels.columns import mask_codes

    needed = list(needed)
    q = len(needed)
    masks = np.asarray(masks, dtype=np.uint64)
    n = masks.shape[0]
    if q > 64 or masks.ndim != 2:
        if scored is None:
            nwords = max(1, -(-q // 64))
            keep = np.full(nwords, np.iinfo(np.uint64).max, dtype=np.uint64)
            if q % 64:
                keep[-1] = (np.uint64(1) << np.uint64(q % 64)) - np.uint64(1)
            bad = np.flatnonzero(((masks[:, :nwords] & keep) != 0).any(axis=1))
        else:
            bad = np.flatnonzero(~np.asarray(scored, dtype=bool))
        return status_codes_from_keys(n, bad, masks[bad], needed, partial_ok)
    keep = np.uint64((1 << q) - 1) if q < 64 else np.uint64(np.iinfo(np.uint64).max)
    sc = (np.empty(0, dtype=np.bool_) if scored is None
          else np.ascontiguousarray(scored, dtype=np.bool_))
    codes, ukeys = mask_codes(np.ascontiguousarray(masks[:, 0]), keep, sc)
    return codes, ["ok"] + key_reasons(ukeys[:, None], needed, partial_ok)


def status_column(codes, reasons):
    """The status strings reasons[codes] as the array pandas would make of them."""
    return text_column(reasons, np.asarray(codes))


def text_column(labels, codes):
    """Text labels (k,) taken at codes (n,) (-1: missing) as a column of pandas' text
    type (an object array where pandas has none): the k labels converted once and taken
    by code, without a Python object per row."""
    dtype = pd.Series(np.array(["a"], dtype=object)).dtype
    if isinstance(dtype, pd.StringDtype):
        return pd.array(list(labels), dtype=dtype).take(codes, allow_fill=True)
    return np.append(np.asarray(labels, dtype=object), None)[codes]


def mark_bad_cells(bad, row0, arrays, codes, reasons) -> None:
    """Rows with a non-numeric cell: no scores (NaN in each of `arrays`, indexed from data
    row `row0`), and a status naming the cell, e.g. ``non-numeric value 'abc' in herd_su``,
    followed by the row's other missing values (their NaN from the conversion would
    otherwise read as an ordinary missing value). `bad`: (data row, column, value);
    `codes` and the `reasons` list are updated in place."""
    per_row: dict = {}
    for row, col, val in bad:
        per_row.setdefault(row - row0, []).append((col, val))
    index = {r: i for i, r in enumerate(reasons)}
    for i, cells in per_row.items():
        msg = "; ".join(f"non-numeric value {val!r} in {col}" for col, val in cells)
        orig = reasons[codes[i]]
        named = orig.split(" in ", 1)[1].split(", ") if orig.startswith("missing") else []
        others = [c for c in named if c not in {col for col, _ in cells}]
        if others:
            msg += f"; {missing_reason(others)}"
        if msg not in index:
            index[msg] = len(reasons)
            reasons.append(msg)
        codes[i] = index[msg]
        for a in arrays:
            a[i] = np.nan
