"""Build statuses: every built value is "ok" or carries the reason it is not.

A reason has a named kind (the constants below) and the place it was found: the module,
the column and the source row. Each household keeps the first reason per variable (its
value is then missing); the issue list keeps every occurrence, including module rows whose
household is absent from the household table, which belong to no household at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima.row_status import text_column

OK = "ok"

# Named statuses (the `status` column of the issue list)
MISSING_VALUE = "missing value"
NON_NUMERIC = "non-numeric value"
OUT_OF_RANGE = "out of range"
NOT_BINARY = "not 0/1"
NO_ROW = "no row in module"
DUPLICATE_ROWS = "several rows in module"
NO_HEAD = "no head"
SEVERAL_HEADS = "several heads"
AGE_OUT_OF_RANGE = "age out of range"
MISSING_AGE = "missing age"
MISSING_RELATION = "missing relation to head"
NEGATIVE_ANIMALS = "negative animal count"
UNKNOWN_SPECIES = "unknown species"
LOSS_EXCEEDS_HERD = "losses exceed herd"
NO_HERD = "no herd"
NO_WORKING_AGE = "no working-age member"
NOT_POSITIVE = "not positive"
ZERO_DENOMINATOR = "zero denominator"
NOT_IN_HOUSEHOLDS = "household absent from household table"
DUPLICATE_HOUSEHOLD = "household id repeated"
MISSING_KEY = "missing household id"
INPUT_NOT_OK = "input not ok"
UNMAPPED_CODE = "code not in recode table"
NO_GROUP = "missing group"
NOT_FINITE = "not finite"

KINDS = (MISSING_VALUE, NON_NUMERIC, OUT_OF_RANGE, NOT_BINARY, NO_ROW, DUPLICATE_ROWS, NO_HEAD,
         SEVERAL_HEADS, AGE_OUT_OF_RANGE, MISSING_AGE, MISSING_RELATION, NEGATIVE_ANIMALS,
         UNKNOWN_SPECIES, LOSS_EXCEEDS_HERD, NO_HERD, NO_WORKING_AGE, NOT_POSITIVE,
         ZERO_DENOMINATOR, NOT_IN_HOUSEHOLDS, DUPLICATE_HOUSEHOLD, MISSING_KEY, INPUT_NOT_OK,
         UNMAPPED_CODE, NO_GROUP, NOT_FINITE)

ISSUE_COLUMNS = ("variable", "status", "module", "column", "household", "row", "value",
                 "message")


# the issue list's columns that hold one text per `IssueLog.add` call
_PART_TEXTS = ("variable", "status", "module", "column", "message")

_OK_ONLY = pd.CategoricalDtype([OK])  # the report column of a variable ok throughout


class VariableStatus:
    """Status codes of one built variable for every household (0 = ok; int8, or int32
    once a variable has more than 127 reasons).

    Code i > 0 is `reasons[i - 1]`; the first reason flagged for a household is kept.
    """

    def __init__(self, name: str, n: int):
        self.name = name
        # int8 while there are few reasons: the report's categorical takes these codes as
        # they are (pandas' own code type for under 128 categories), and an unflagged
        # variable's codes are never written
        self.codes = np.zeros(n, dtype=np.int8)
        self.reasons: list[str] = []
        self._index: dict[str, int] = {}

    def flag(self, where, reason: str) -> None:
        """Give the households at `where` (positions or a bool mask) `reason` if still ok."""
        idx = np.flatnonzero(where) if _is_mask(where, self.codes.shape[0]) else np.asarray(
            where, dtype=np.int64)
        idx = idx[idx >= 0]
        if idx.size == 0:
            return
        code = self._index.get(reason)
        if code is None:
            if not self.reasons:
                # the first reason: codes written at once before the scattered writes
                # (as `rima._kernels.build.zeros`), where nothing was written yet
                self.codes = np.full(self.codes.shape[0], 0, dtype=self.codes.dtype)
            self.reasons.append(reason)
            code = self._index[reason] = len(self.reasons)
            if code > np.iinfo(self.codes.dtype).max:
                self.codes = self.codes.astype(np.int32)
        sub = self.codes[idx]
        self.codes[idx] = np.where(sub == 0, code, sub)

    @property
    def ok(self) -> np.ndarray:
        return self.codes == 0

    @property
    def clean(self) -> bool:
        """True while no household has a reason (every value ok): callers skip the passes
        over the codes."""
        return not self.reasons

    def inherit(self, src: VariableStatus, name: str) -> None:
        """Flag each household whose input `name` (with status `src`) is not ok, with
        the reason "input <name>: <its reason>"."""
        if src.clean:
            return
        for code in np.unique(src.codes[src.codes > 0]):
            self.flag(src.codes == code, f"input {name}: {src.reasons[code - 1]}")

    def strings(self) -> pd.Categorical:
        # codes are 0 .. len(reasons) by construction: no validation pass over them
        dtype = pd.CategoricalDtype([OK, *self.reasons]) if self.reasons else _OK_ONLY
        return pd.Categorical.from_codes(self.codes, dtype=dtype, validate=False)

    def first_reason(self, i: int) -> str:
        c = self.codes[i]
        return OK if c == 0 else self.reasons[c - 1]


def _is_mask(where, n) -> bool:
    a = np.asarray(where)
    return a.dtype == bool and a.shape == (n,)


class IssueLog:
    """Every bad case found by the build, one entry per (status, place, source row).

    A build keeps one log per recipe and joins them in the spec's order (`joined`), so
    the list is the same whichever recipes ran side by side. An issue of a module rather
    than of a recipe (rows whose household is unknown, a non-numeric cell) is added with a
    `once` key by every recipe that meets it, and kept where it first appears."""

    def __init__(self):
        self._parts: list[dict] = []
        self._once: set = set()

    def has(self, once) -> bool:
        return once in self._once

    def add(self, *, variable, status, module, column, households, rows, values, message,
            once=None):
        """Record issues; households/rows/values are arrays of equal length (or scalars).

        households: household ids as found in the data; rows: 1-based source rows (0 when
        the issue belongs to the household table row itself, which is also 1-based).
        once: a key; issues with a key already in this log (or in an earlier log of the
        join) are not recorded again.
        """
        if once is not None:
            if once in self._once:
                return
            self._once.add(once)
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        m = rows.shape[0]
        if m == 0:
            return
        # ids and cell values come from columns of any type: text ("" = none or missing)
        # keeps every table format (Parquet, Stata) able to hold them; the other texts
        # are one per part (`_PART_TEXTS`)
        self._parts.append({"once": once, "variable": variable or "", "status": status,
                            "module": module or "", "column": column or "",
                            "household": _texts(households, m), "row": rows,
                            "value": _texts(values, m), "message": message})

    @classmethod
    def joined(cls, logs) -> IssueLog:
        """One log of `logs` in their order, each `once` key's issues where they first
        appear."""
        out = cls()
        for log in logs:
            for part in log._parts:
                key = part["once"]
                if key is not None:
                    if key in out._once:
                        continue
                    out._once.add(key)
                out._parts.append(part)
        return out

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype=object if c != "row" else np.int64)
                                 for c in ISSUE_COLUMNS})
        part_of_row = np.repeat(np.arange(len(self._parts)),
                                [p["row"].shape[0] for p in self._parts])
        cols = {c: text_column([p[c] for p in self._parts], part_of_row) if c in _PART_TEXTS
                else np.concatenate([p[c] for p in self._parts]) for c in ISSUE_COLUMNS}
        return pd.DataFrame(cols)

    def __len__(self):
        return sum(p["row"].shape[0] for p in self._parts)


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _text(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _filled(m, value) -> np.ndarray:
    """m references to `value` (object array): filled, which is many times faster than
    np.full's conversion of the value for each element."""
    out = np.empty(m, dtype=object)
    out.fill(value)
    return out


def _col(x, m):
    if np.ndim(x) == 0:
        return _filled(m, x)
    a = np.asarray(x, dtype=object)
    return a if a.shape[0] == m else np.full(m, None, dtype=object)


def _texts(x, m) -> np.ndarray:
    """The text of each value ("" when missing), as `_text`: integer and float arrays
    are converted as arrays (a build can list many issues), other values one by one."""
    if np.ndim(x) == 0:
        return _filled(m, "" if _isna(x) else _text(x))
    a = np.asarray(x)
    if a.shape[0] == m and a.dtype.kind in "iub":
        out = np.empty(m, dtype=object)
        out[:] = list(map(str, a.tolist()))
        return out
    if a.shape[0] == m and a.dtype.kind == "f":
        out = np.full(m, "", dtype=object)
        whole = np.isfinite(a) & (a == np.floor(a)) & (np.abs(a) < 2.0**62)
        out[whole] = a[whole].astype(np.int64).astype(str)
        rest = np.flatnonzero(~whole & ~np.isnan(a))
        out[rest] = [_text(v) for v in a[rest]]
        return out
    return np.array(["" if _isna(v) else _text(v) for v in _col(x, m)], dtype=object)


# the score status of a household the build could not take at all
NOT_BUILT = "not built: "


def with_build_reasons(status, built, main: str):
    """The score's status column with the households the build could not build at all
    (a missing or repeated id in the household table) given that reason, e.g. "not built:
    household id repeated in the household table", in place of the list of the model's
    variables they lack. Households scored ("ok") keep their status; `status` itself is
    returned when every household was built (no copy of a large column)."""
    issues = built.issues
    if not len(issues) or not built.variables:
        return status
    # the household table's own issues: one per household, its row in the table
    whole = issues["status"].isin((MISSING_KEY, DUPLICATE_HOUSEHOLD)).to_numpy() & \
        (issues["module"] == main).to_numpy()
    if not whole.any():
        return status
    pos = issues["row"].to_numpy()[whole].astype(np.int64) - 1
    values = status.to_numpy(dtype=object, copy=True)
    pos = pos[(pos >= 0) & (pos < len(values))]
    pos = pos[values[pos] != OK]
    if not len(pos):
        return status
    # the reason every built variable of such a household carries (the report's)
    first = built.report[built.variables[0]].to_numpy(dtype=object)
    values[pos] = [NOT_BUILT + str(first[i]) for i in pos]
    return pd.Series(values, index=status.index, name=status.name, dtype=status.dtype)
