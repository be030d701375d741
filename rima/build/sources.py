"""Survey modules at the edge: read them, map each row to its household, read numbers.

The household table fixes the households and their order. Each module row is mapped to a
household position once (-1 when its household is absent or its key missing, reported);
numeric columns are read as float64 with declared missing codes and Stata's extended
missing values (".", ".a" ... ".z") as missing, and any other text reported as non-numeric.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from rima.build import status as st
from rima.errors import DataError, SpecError

_STATA_MISSING = re.compile(r"^\.[a-z]?$")

# A module whose households' rows are runs in household order is cut into at most BLOCKS
# blocks of at least BLOCK_ROWS rows for the grouped kernels.
BLOCKS = 64
BLOCK_ROWS = 16_384


class HouseholdIndex:
    """Positions of household ids; integer ids use a dense table (one pass, no hashing).

    `name`, the household table's source name, is only for messages."""

    def __init__(self, ids: pd.Series, name: str | None = None):
        self.ids = ids.to_numpy()
        self.n = len(ids)
        self.key = str(ids.name)
        self._name = name
        self.table = f"household table {name}" if name else "the household table"
        # a table without households would only fail later, on an empty array
        if self.n == 0:
            raise DataError(f"{self.table} has no rows (only a header): no household to "
                            "build variables for")
        keys, ok = _int_keys(ids, self._column())
        self._dense = None
        self._index = None
        self._numbers = None
        from rima.validation import blank_ids

        # a blank text id is no id, as for the fit and the service
        missing = np.zeros(self.n, dtype=bool) if _plain_int(ids) else blank_ids(ids)
        if missing.all():
            raise DataError(f"{self._column()} has no ids (every cell is blank): no module "
                            "row can be matched to a household")
        self.missing = missing
        self.duplicate = np.zeros(self.n, dtype=bool)
        if keys is not None and (ok is None or ok.all()) and self.n:
            from rima._kernels.build import DENSE_SPAN_FACTOR, dense_table

            lo, hi = int(keys.min()), int(keys.max())
            span = hi - lo + 1
            if span <= DENSE_SPAN_FACTOR * self.n + 1024:
                # positions as int32 where they fit: half the table to read per module
                table = np.full(span, -1, dtype=np.int32 if self.n < 2**31 - 1 else np.int64)
                dup = dense_table(keys, lo, table)
                self._dense = (lo, table)
                if dup >= 0:
                    self.duplicate = ids.duplicated(keep="first").to_numpy()
                return
        self.duplicate = ids.duplicated(keep="first").to_numpy() & ~missing

    @property
    def repeated(self) -> np.ndarray:
        """Every row whose id another row has too, the first included: a module row of
        that id belongs to either, so neither household can be built from it."""
        if not self.duplicate.any():
            return self.duplicate
        return pd.Series(self.ids).duplicated(keep=False).to_numpy() & ~self.missing

    def _hashed(self):
        if self._index is None:
            first = ~self.duplicate & ~self.missing
            vals = _text_or_number(pd.Series(self.ids))
            self._index = (pd.Index(vals[first]), np.flatnonzero(first))
        return self._index

    def positions(self, keys: pd.Series, table: str = ""):
        """(household position of each key (-1: absent or missing), rows left out, True
        when row i is household i throughout, True when the positions never decrease)."""
        from rima._kernels.build import code_summary

        if self._dense is not None:
            k, ok = _int_keys(keys, f"{table}.{keys.name}" if table else str(keys.name))
            if k is not None:
                lo, table = self._dense
                return _lookup(k if ok is None else np.where(ok, k, lo - 1), lo, table,
                               np.int32 if self.n < 2**31 - 1 else np.int64)
        index, pos = self._hashed()
        if self._dense is None:
            _int_keys(keys, f"{table}.{keys.name}" if table else str(keys.name))  # exactness
        got = index.get_indexer(_text_or_number(keys))
        out = np.where(got >= 0, pos[np.maximum(got, 0)], -1).astype(np.int64)
        return (out, *code_summary(out))

    def positions_by_number(self, keys: pd.Series, module: str):
        """`positions` of a module whose ids matched none of the household table's, where
        one of the two holds text and the other numbers: the text ids that read as whole
        numbers (" 100001" is 100001) are matched as numbers, the others stay unmatched
        (listed as usual). None where both hold the same type; a DataError where no text
        id reads as a whole number, or two of the household table's read as one."""
        there, here = _id_kind(pd.Series(self.ids)), _id_kind(keys)
        if there is None or here is None or there == here:
            return None
        why = ""
        if here == "text":
            x = _whole_numbers(keys)
            if x is not None:
                return self.positions(x)
            text = keys
        else:
            if self._numbers is None:
                # made once for every module with numeric ids (one assignment: modules of
                # two threads may get here together)
                self._numbers = self._as_numbers()
            if isinstance(self._numbers, HouseholdIndex):
                return self._numbers.positions(keys)
            why = self._numbers
            text = pd.Series(self.ids)
        if not why:
            why = f" (e.g. {_show(text[text.notna()].iloc[0])})"
        raise DataError(f"{module}.{keys.name} holds {here}, {self._column()} holds {there}"
                        f"{why}: no {module} row matches a household; store the household ids as "
                        "numbers, or as text, in every table (text ids that read as whole "
                        "numbers are matched to numbers)")

    def _as_numbers(self):
        """An index of the text ids read as whole numbers, or why they cannot be ("" when
        none reads as one)."""
        x = _whole_numbers(pd.Series(self.ids, name=self.key))
        if x is None:
            return ""
        alt = HouseholdIndex(x)
        # two text ids reading as one number ("01" and "1") are not one household
        twice = alt.duplicate & ~self.duplicate
        if twice.any():
            i = int(np.flatnonzero(twice)[0])
            j = int(np.flatnonzero(x.to_numpy() == x.iloc[i])[0])
            return f" ({_show(self.ids[j])} and {_show(self.ids[i])} read as the same number)"
        return alt

    def _column(self) -> str:
        """The household table's key column, as messages name it."""
        return (f"{self._name}.{self.key}" if self._name
                else f"the household table's key column {self.key!r}")

    def example(self):
        """A household id, for messages."""
        return self.ids[int(np.argmin(self.missing))]


def _lookup(keys, lo, table, dtype):
    """`positions` through the dense table: the rows cut into about equal blocks looked
    up on the available threads, each block's summary merged with its edges."""
    from rima._kernels.build import dense_lookup
    from rima._kernels.threads import run_blocks

    m = keys.shape[0]
    n_blocks = max(1, min(BLOCKS, m // BLOCK_ROWS))
    bounds = (np.arange(n_blocks + 1, dtype=np.int64) * m) // n_blocks
    out = np.empty(m, dtype=dtype)
    summary = np.zeros((n_blocks, 3), dtype=np.int64)
    run_blocks(dense_lookup, n_blocks, m, keys, lo, table, out, bounds, summary)
    lost, moved, falls = (int(v) for v in summary.sum(axis=0))
    edges = bounds[1:-1]
    edges = edges[(edges > 0) & (edges < m)]
    falls += int(np.count_nonzero(out[edges] < out[edges - 1]))
    return out, lost, moved == 0, falls == 0


def _int_keys(s: pd.Series, where: str):
    """(int64 keys, ok mask or None when every key is there) when the ids are integers
    (floats without fractions count); (None, None) otherwise. Whole-number ids stored as
    decimals beyond 2**53 are a DataError naming `where`: distinct ids there can read as
    one (a CSV id column with a blank cell is read as decimals), so no match is trusted."""
    if _plain_int(s):
        if s.dtype.kind == "u" and len(s) and s.max() > np.iinfo(np.int64).max:
            return None, None  # matched as Python integers (`_text_or_number`)
        return s.to_numpy(dtype=np.int64), None
    if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        if s.hasnans:
            ok = s.notna().to_numpy()
            return s.fillna(0).to_numpy(dtype=np.int64), ok
        return s.to_numpy(dtype=np.int64), None
    if pd.api.types.is_float_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64)
        ok = np.isfinite(x)
        whole = x[ok] == np.round(x[ok])
        big = whole & (np.abs(x[ok]) > 2.0**53)
        if big.any():
            raise DataError(
                f"{where}: household ids such as {x[ok][big][0]:.0f} are stored as decimal "
                "numbers beyond 2**53, where whole numbers lose digits and distinct ids can "
                "read as one; store the ids as text or as integers (in a CSV file, one blank "
                "id cell makes the whole column decimal)")
        if whole.all():
            return np.where(ok, x, 0).astype(np.int64), ok
    return None, None


def _plain_int(s: pd.Series) -> bool:
    """True for a NumPy integer column, which cannot hold a missing value (no pass over
    it to look for one)."""
    return isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu"


def _id_kind(s: pd.Series):
    """"numbers" or "text" when every id present is one or the other, else None."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return None
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "numbers"
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = pd.Series(s.cat.categories)
    kind = pd.api.types.infer_dtype(s, skipna=True)
    if kind == "string":
        return "text"
    return "numbers" if kind in ("integer", "floating", "mixed-integer-float") else None


def _whole_numbers(s: pd.Series):
    """Text ids as float64 whole numbers (" 100001" as 100001; NaN where missing or not
    a whole number); None when no id reads as one."""
    present = s.notna().to_numpy()
    x = pd.to_numeric(s.astype(object).where(present, None).map(
        lambda v: v.strip() if isinstance(v, str) else v), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    whole = np.isfinite(x) & (x == np.round(x)) & (np.abs(x) < 2.0**53)
    if not whole.any():
        return None
    return pd.Series(np.where(whole, x, np.nan), index=s.index, name=s.name)


def _show(v) -> str:
    """An id as a message shows it: text quoted (its spaces seen), numbers as numbers."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return repr(v) if isinstance(v, str) else str(v)


def _text_or_number(s: pd.Series):
    if _plain_int(s):
        return s.to_numpy(dtype=object)  # Python integers: exact beyond int64 too
    if pd.api.types.is_numeric_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64)
        if np.all(np.isnan(x) | (x == np.round(x))):
            return np.asarray(pd.array(s, dtype="Int64").astype(object), dtype=object)
        return x
    return s.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v).to_numpy()


def number_codes(codes) -> list[float]:
    """The declared missing codes a number is compared with: the numeric ones and the
    text ones that read as a number ("-99" in the spec is -99 in a numeric column, as
    -99 matches the text cell "-99")."""
    out = []
    for c in codes:
        try:
            v = float(c.strip() if isinstance(c, str) else c)
        except ValueError:
            continue
        if not np.isnan(v) and v not in out:
            out.append(v)
    return out


def numeric(series: pd.Series, codes=(), out=None) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, non-numeric mask): missing codes and Stata missing become NaN.
    `out` (float64, the column's length), when given, receives the values."""
    num_codes = number_codes(codes)
    text_codes = {str(c).strip() for c in codes}
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        from rima._kernels.build import to_float
        from rima._kernels.threads import run_ranges

        # one pass: the conversion and the declared codes together
        x = np.empty(len(series)) if out is None else out
        src = series.to_numpy()
        codes_f = np.array(num_codes, dtype=np.float64)
        run_ranges(lambda i, a, b: to_float(src[a:b], codes_f, x[a:b]), x.shape[0])
        return x, np.zeros(x.shape[0], dtype=bool)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        x = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if num_codes and not x.flags.writeable:
            x = x.copy()
        bad = np.zeros(x.shape[0], dtype=bool)
    else:
        s = series.astype(object)
        isna = s.isna().to_numpy()
        text = s.astype(str).str.strip()
        blank = (text == "") | text.str.lower().str.match(_STATA_MISSING.pattern).fillna(False)
        blank = blank.to_numpy() | isna | text.isin(text_codes).to_numpy()
        # a copy of its own: pandas may hand back a read-only view, and the codes below
        # are set to NaN in place (a text column holding -99.0 as a number, say)
        x = pd.to_numeric(text.where(~blank, None), errors="coerce").to_numpy(
            dtype=np.float64, copy=True)
        bad = np.isnan(x) & ~blank
    for c in num_codes:
        hit = x == c
        if hit.any():
            x[hit] = np.nan
    if out is not None:
        out[:] = x
        x = out
    return x, bad


def value_labels(series: pd.Series) -> dict:
    """The value labels of a column of codes read from Stata or SPSS (`rima.io` keeps
    them in the table's attrs; {} for none)."""
    if not pd.api.types.is_numeric_dtype(series.dtype):
        return {}
    return (series.attrs.get("value_labels") or {}).get(str(series.name)) or {}


def labelled(series: pd.Series, values: list) -> list:
    """Distinct `values` of `series` as the survey names them: each code's value label
    where the column has them, other values as they are."""
    labels = value_labels(series)
    return [labels.get(v, v) for v in values] if labels else values


def missing_text(v, missing_codes) -> bool:
    """A text answer that is no answer: blank, a Stata missing value (".", ".a" ...) or a
    declared missing code."""
    t = str(v).strip()
    return not t or bool(_STATA_MISSING.match(t)) or t in {str(c) for c in missing_codes}


def text_codes(series: pd.Series, fn) -> np.ndarray:
    """fn applied to each distinct value of a text column, spread back to the rows
    (missing values get fn(None)); text work once per distinct value, not per row; a
    code with a value label is given as its label (`labelled`)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniq = series.cat.codes.to_numpy(), list(series.cat.categories)
    else:
        codes, uniq = pd.factorize(series, use_na_sentinel=True)
        uniq = list(uniq)
    uniq = labelled(series, uniq)
    table = np.array([fn(u) for u in uniq] + [fn(None)])
    # np.take rather than indexing: half the time for the int8 codes of a categorical
    return np.take(table, codes)  # a missing value's code -1 takes the last: fn(None)


class TextValues:
    """A text variable held as labels and each household's label index (-1: none), as
    a recipe may return it: the table's text column is one take from the labels, and
    the per-household object array is made only if another recipe reads the values."""

    def __init__(self, labels: np.ndarray, idx: np.ndarray):
        self.labels = labels
        self.idx = idx
        self._array = None

    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.append(self.labels, None)[self.idx]  # -1 takes the last: None
        return self._array


class Module:
    """One source table with each row's household position (`codes`).

    `log()` gives the issue log of the recipe reading the module now; the module's own
    issues (`orphan_issues`, a column's non-numeric cells) go there with a `once` key
    (see `rima.build.status.IssueLog`)."""

    def __init__(self, name: str, df: pd.DataFrame, key: str, codes_missing: tuple,
                 index: HouseholdIndex, log, main: bool = False):
        self.name = name
        self.df = df
        self.key = key
        self.missing_codes = codes_missing
        self.main = main
        self.n_rows = len(df)
        if key not in df.columns:
            raise SpecError(f"source {name}: no household key column {key!r}"
                            + _near(key, df.columns))
        from rima._kernels.build import code_summary

        if main:
            self.codes = np.arange(self.n_rows, dtype=np.int64)
            left_out = index.missing | index.duplicate
            if left_out.any():
                self.codes[left_out] = -1
                lost, self._identity, self.ordered = code_summary(self.codes)
            else:  # row i is household i: no pass needed to find it out
                lost, self._identity, self.ordered = 0, True, True
        else:
            # rows left out (reported), whether row i is household i and whether each
            # household's rows are one run, from the pass that finds the positions
            self.codes, lost, self._identity, self.ordered = index.positions(df[key], name)
            if lost == self.n_rows and lost and df[key].notna().any():
                # not one row matched: ids held as text in one table and as numbers in
                # the other are matched as numbers, or the difference named
                again = index.positions_by_number(df[key], name)
                if again is not None:
                    self.codes, lost, self._identity, self.ordered = again
        self._unmatched = ""
        if lost == self.n_rows and lost and not main:
            keys = df[key]
            here = keys[keys.notna()]
            if len(here):
                self._unmatched = (f"; no {name} row matches a household: ids such as "
                                   f"{_show(here.iloc[0])} here, {_show(index.example())} "
                                   f"in {index.table}")
        self.orphan_issues = self._orphans() if lost and not main else []
        self._bounds = None
        self._numeric: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._log = log
        self._wide = None
        self._miss = None

    def _orphans(self) -> list[dict]:
        """The issues of rows left out (household not in the household table, or no id),
        as `IssueLog.add` arguments."""
        lost = np.flatnonzero(self.codes < 0)
        if lost.size == 0:
            return []
        out = []
        keys = self.df[self.key].to_numpy()[lost]
        from rima.validation import blank_ids

        nokey = blank_ids(pd.Series(keys))
        absent = (f"{self.name} row whose household is not in the household table "
                  f"(row not used{self._unmatched})")
        for mask, kind, msg in ((~nokey, st.NOT_IN_HOUSEHOLDS, absent),
                                (nokey, st.MISSING_KEY,
                                 f"{self.name} row without a household id (row not used)")):
            if mask.any():
                out.append({"variable": "", "status": kind, "module": self.name,
                            "column": self.key, "households": keys[mask],
                            "rows": lost[mask] + 1, "values": keys[mask], "message": msg,
                            "once": ("rows left out", self.name, kind)})
        return out

    @property
    def bounds(self) -> np.ndarray:
        """Row boundaries of the blocks the grouped kernels cut this module into: about
        equal blocks of whole households' runs when each household's rows are one run
        in household order (blocks then run on several threads, each household summed
        in one block, in row order, whatever the thread count), else one block."""
        if self._bounds is None:
            from rima._kernels.build import block_bounds

            n_blocks = min(BLOCKS, self.n_rows // BLOCK_ROWS) if self.ordered else 1
            self._bounds = (block_bounds(self.codes, n_blocks) if n_blocks > 1
                            else np.array([0, self.n_rows], dtype=np.int64))
        return self._bounds

    def run(self, kernel, *args) -> None:
        """kernel(*args, b0, b1) over this module's blocks (`bounds`), spread over the
        threads for a large module (`rima._kernels.threads.run_blocks`)."""
        from rima._kernels.threads import run_blocks

        run_blocks(kernel, self.bounds.shape[0] - 1, self.n_rows, *args)

    def has(self, column: str) -> bool:
        return column in self.df.columns

    def require(self, column: str, where: str) -> None:
        if column not in self.df.columns:
            raise SpecError(f"{where}: source {self.name} has no column {column!r}"
                            + _near(column, self.df.columns))

    def number(self, column: str, where: str, variable: str = "") -> np.ndarray:
        """The column as float64 (NaN = missing); non-numeric cells are reported once."""
        return self.number_into(column, None, where, variable)

    def stored(self, column: str) -> bool:
        """True when `values` gives the column as stored (a plain numeric column)."""
        d = self.df[column].dtype if column in self.df.columns else None
        return isinstance(d, np.dtype) and d.kind in "biuf"

    def values(self, column: str, where: str, variable: str = ""):
        """(values, missing codes) for a kernel: a plain numeric column as stored, with
        the declared numeric missing codes (float64) the kernel treats as NaN; any
        other column as `number` reads it, with no codes."""
        from rima._kernels.build import NO_CODES

        self.require(column, where)
        if column not in self._numeric:
            s = self.df[column]
            if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biuf":
                if self._miss is None:
                    self._miss = np.array(number_codes(self.missing_codes),
                                          dtype=np.float64)
                return s.to_numpy(), self._miss
        return self.number(column, where, variable), NO_CODES

    def number_into(self, column: str, out, where: str, variable: str = "") -> np.ndarray:
        """`number`, writing the values into `out` (a float64 row of the module's length)
        when the column has not been read yet; returns the values (out or the earlier
        array). The values are kept for later reads: callers do not modify them."""
        self.require(column, where)
        if column not in self._numeric:
            self._numeric[column] = numeric(self.df[column], self.missing_codes, out)
        x, bad = self._numeric[column]
        if out is not None and x is not out:
            out[:] = x
        once = (st.NON_NUMERIC, self.name, column)
        if bad.any() and not (log := self._log()).has(once):
            rows = np.flatnonzero(bad)
            log.add(variable=variable, status=st.NON_NUMERIC, module=self.name,
                    column=column, households=self.df[self.key].to_numpy()[rows],
                    rows=rows + 1, values=self.df[column].to_numpy()[rows],
                    message=f"non-numeric value in {self.name}.{column} (missing)",
                    once=once)
        return x

    def aligned(self, n_households: int) -> bool:
        """True when row i is household i's only row (a cover sheet or a wide module
        exported in household order)."""
        return self.n_rows == n_households and self._identity

    def household_rows(self, n_households: int):
        """(row of each household or -1, rows per household) for a one-row-per-household
        module; a household with several rows is the caller's to flag."""
        if self._wide is None:
            if self.main:
                pos = self.codes.copy()
                rows = (pos >= 0).astype(np.int64)
            else:
                from rima._kernels.build import group_reduce

                rows, pos, *_ = group_reduce(self.codes, n_households,
                                             np.empty((0, self.n_rows)))
            self._wide = (pos, rows)
        return self._wide


def _near(name, columns) -> str:
    from rima.suggest import did_you_mean

    return did_you_mean(name, list(map(str, columns)))
