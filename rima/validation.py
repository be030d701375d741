"""Data against spec: typed checks, per-variable summary and row accounting.

`validate(df, spec)` never raises on bad data; it returns a `ValidationReport` holding
every problem found (`report.errors`, each naming the file, column, data rows and first
offending values), a per-variable summary, and the status of every input row: ``"ok"``
when the row can be analysed, otherwise the reason it cannot (``"missing value in
hay_reserve_t"``). `report.raise_if_errors()` turns the errors into one `DataError`.

Row numbers are data row numbers counted from 1: row 1 is the first row under the header
(line 2 of a CSV file, row 2 of a spreadsheet).

Every numeric column is converted once into one float64 block (a row per column) and
checked while it is copied (`rima.columns.convert_block`, the one home of the converted
column block), which also gives each row a bit mask of its missing columns; row reasons
are made once per distinct mask. The fit takes the block over
(`ValidationReport.take_numeric`) instead of converting the columns again. The row status strings and the summary's medians are built when first
asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rima._kernels.columns import constant_over_usable, finite_total
from rima.columns import ColumnBlock, convert_block, to_float
from rima.config import by_rows
from rima.errors import DataError
from rima.spec import Spec, load_spec
from rima.suggest import did_you_mean

OK = "ok"
ROW_CONVENTION = "data rows counted from 1, header excluded"
_SHOW = 5  # offending rows / values quoted in a message


@dataclass(frozen=True)
class Issue:
    """One problem found in the data.

    kind : "missing_column", "duplicate_column", "empty", "non_numeric", "infinite", "all_missing",
           "constant", "duplicate_id", "missing_id", "negative_weight", "no_usable_rows",
           "missing_profile" (a warning); "not_estimable" (`rima validate`: the fit stops on
           usable rows, e.g. two identical pillar variables)
    column : the column at fault, or None
    rows : 1-based data row numbers of the offending cells (all of them)
    values : the first offending values
    message : the full sentence shown to the user
    """

    kind: str
    column: str | None
    message: str
    rows: tuple[int, ...] = ()
    values: tuple = ()
    severity: str = "error"

    def __str__(self) -> str:
        return self.message


@dataclass
class ValidationReport:
    """Result of `validate`.

    Attributes
    ----------
    spec : Spec
        The spec the data were checked against.
    source : str or None
        The data's file name, used in messages.
    n_rows, n_columns : int
        Size of the data.
    errors : list of Issue
        Every problem found (empty when the data can be analysed).
    warnings : list of Issue
        Problems that do not stop the analysis (e.g. an empty profile cell).
    row_status : Series of str
        Indexed like the input: "ok" or the reason the row cannot be used. The pipeline
        reuses it as its `status` column.
    summary : DataFrame
        One row per analysis variable (and the weight): role, N, missing, min, max,
        median, mean over all rows.

    Examples
    --------
    >>> from rima.example import EXAMPLE_SPEC
    >>> df = rima.simulate(n_households=300, seed=2).households
    >>> rep = rima.validate(df, EXAMPLE_SPEC)
    >>> rep.ok, rep.n_rows == len(df)
    (True, True)
    >>> rep.accounting.columns.tolist()
    ['status', 'rows']
    """

    spec: Spec
    source: str | None
    n_rows: int
    n_columns: int
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    _ids: pd.Series | None = field(default=None, repr=False)
    _index: pd.Index | None = field(default=None, repr=False)
    # row accounting as codes into reasons (reasons[0] == "ok"); the Series is made lazily
    _codes: np.ndarray | None = field(default=None, repr=False)
    _reasons: list = field(default_factory=lambda: [OK], repr=False)
    _row_status: pd.Series | None = field(default=None, repr=False)
    # the converted numeric columns: names, the (q, n) block (until taken), masks per row
    _columns: ColumnBlock = field(default_factory=lambda: ColumnBlock([], None, None),
                                  repr=False)
    _stats: dict | None = field(default=None, repr=False)
    _frame: pd.DataFrame | None = field(default=None, repr=False)
    _summary: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def row_status(self) -> pd.Series:
        """Series of str indexed like the input: "ok" or the reason the row is not used."""
        if self._row_status is None:
            n = self.n_rows
            index = self._index if self._index is not None else pd.RangeIndex(n)
            codes = self._codes if self._codes is not None else np.zeros(n, dtype=np.int32)
            status = np.asarray(self._reasons, dtype=object)[codes]
            self._row_status = pd.Series(status, index=index, dtype=object, name="status")
        return self._row_status

    @row_status.setter
    def row_status(self, value: pd.Series) -> None:
        self._row_status = value
        self._codes = None
        self._reasons = [OK]
        self._columns.masks = None

    @property
    def summary(self) -> pd.DataFrame:
        """One row per analysis variable (and the weight): role, N, missing, min, max,
        median, mean."""
        if self._summary is None:
            self._summary = (pd.DataFrame() if self._stats is None
                             else _summary(self.spec, self._stats, self._frame))
        return self._summary

    @summary.setter
    def summary(self, value: pd.DataFrame) -> None:
        self._summary = value

    @property
    def ok(self) -> bool:
        """True when no error was found."""
        return not self.errors

    def _usable_array(self) -> np.ndarray:
        if self._codes is not None:
            return self._codes == 0
        return (self.row_status == OK).to_numpy()

    @property
    def usable(self) -> pd.Series:
        """Boolean Series (input index): True for rows the analysis uses."""
        if self._codes is not None:
            index = self._index if self._index is not None else pd.RangeIndex(self.n_rows)
            return pd.Series(self._codes == 0, index=index, name="status")
        return self.row_status == OK

    @property
    def n_usable(self) -> int:
        """The number of rows the analysis can use."""
        return int(self._usable_array().sum())

    @property
    def accounting(self) -> pd.DataFrame:
        """Rows per status ("ok" first, then reasons by decreasing count)."""
        if self._codes is None:
            counts = self.row_status.value_counts(sort=False)
        else:
            # the order of value_counts(sort=False), first appearance, from the codes alone
            n = np.bincount(self._codes, minlength=len(self._reasons))
            order = _first_appearance(self._codes)
            counts = pd.Series(n[order], name="count",
                               index=pd.Index([self._reasons[c] for c in order], dtype=object))
        reasons = counts.drop(OK, errors="ignore").sort_values(ascending=False, kind="stable")
        ordered = pd.concat([counts.reindex([OK]).dropna(), reasons]).astype(np.int64)
        return ordered.rename_axis("status").rename("rows").reset_index()

    def rows_with_status(self) -> pd.DataFrame:
        """Every input row with its status.

        Returns
        -------
        DataFrame
            Columns ``row`` (data row number, from 1), the id (if present) and ``status``.
        """
        out = pd.DataFrame({"row": np.arange(1, self.n_rows + 1)}, index=self.row_status.index)
        if self._ids is not None:
            out[self.spec.id] = self._ids
        out["status"] = self.row_status
        return out

    def take_numeric(self) -> tuple[list[str], np.ndarray | None]:
        """Hand over the converted numeric columns (`rima.columns.ColumnBlock`).

        The report keeps no reference to the block afterwards.

        Returns
        -------
        names : list of str
            The converted columns (the spec's `numeric_columns` present).
        block : ndarray of shape (q, n) or None
            float64, one row per column, NaN for missing, non-numeric or infinite cells;
            None when already taken.
        """
        return list(self._columns.names), self._columns.take()

    @property
    def row_masks(self) -> np.ndarray | None:
        """(n, words) uint64: bit j % 64 of word j // 64 set when numeric column j (the
        order `take_numeric` gives) is missing in that row; None if not computed."""
        return self._columns.masks

    def complete_rows(self, columns: Iterable[str]) -> np.ndarray:
        """Rows where none of `columns` is missing, from the check pass's per-row masks.

        Parameters
        ----------
        columns : iterable of str
            Converted numeric columns.

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        return ~self._missing_rows(columns, every=False)

    def all_missing_rows(self, columns: Iterable[str]) -> np.ndarray:
        """Rows where every one of `columns` is missing.

        Parameters
        ----------
        columns : iterable of str
            Converted numeric columns.

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        return self._missing_rows(columns, every=True)

    def _missing_rows(self, columns, every):
        if self._columns.masks is None:
            raise RuntimeError("the report holds no per-row masks (its row status was replaced)")
        return self._columns.missing_rows(columns, every)

    def raise_if_errors(self) -> None:
        """Raise the errors found as one DataError.

        Raises
        ------
        DataError
            When `errors` is not empty; the message lists every problem.
        """
        if self.errors:
            where = f"{self.source}: " if self.source else ""
            if len(self.errors) == 1:
                raise DataError(f"{where}{self.errors[0].message}")
            listed = "\n".join(f"  - {e.message}" for e in self.errors)
            raise DataError(f"{where}{len(self.errors)} problems in the data:\n{listed}")

    def format(self, max_rows_listed: int = 10) -> str:
        """The text `rima validate` prints: summary, row accounting, problems.

        Parameters
        ----------
        max_rows_listed : int, default 10
            How many rows (and reasons) to list before summarising the rest.

        Returns
        -------
        str
        """
        lines = []
        name = self.source or "data"
        lines.append(f"{name}: {self.n_rows} rows, {self.n_columns} columns")
        sp = self.spec
        lines.append(
            f"spec{f' {sp.source}' if sp.source else ''}: {len(sp.pillars)} pillars "
            f"({', '.join(f'{k} {len(v)}' for k, v in sp.pillars.items())}), "
            f"{len(sp.indicators)} indicators ({sp.indicator_group})"
        )
        lines.append(f"Row numbers: {ROW_CONVENTION}.")
        if len(self.summary):
            lines.append("")
            lines.append("Variables")
            lines.append(_format_summary(self.summary))
        if len(self.row_status):
            lines.append("")
            lines.append(
                "Row accounting (reference rule: listwise deletion over all pillar "
                "variables and indicators)"
            )
            lines.append(f"  usable: {self.n_usable} of {self.n_rows} rows")
            rows = np.arange(1, self.n_rows + 1)
            status = self.row_status.to_numpy()
            for rec in self.accounting.itertuples(index=False):
                if rec.status == OK:
                    continue
                hit = rows[status == rec.status]
                shown = ", ".join(map(str, hit[:max_rows_listed]))
                more = f", … ({len(hit) - max_rows_listed} more)" if len(hit) > max_rows_listed else ""
                label = "rows" if len(hit) > 1 else "row"
                lines.append(f"  {rec.rows:>6}  {rec.status}: {label} {shown}{more}")
        for title, issues in (("Errors", self.errors), ("Warnings", self.warnings)):
            if issues:
                lines.append("")
                lines.append(f"{title} ({len(issues)})")
                lines.extend(f"  - {i.message}" for i in issues)
        lines.append("")
        lines.append("usable: yes" if self.ok else "usable: no (fix the errors above)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return (f"<ValidationReport {self.source or 'data'}: {self.n_rows} rows, "
                f"{self.n_usable} usable, {len(self.errors)} error(s), "
                f"{len(self.warnings)} warning(s)>")

    def _repr_html_(self) -> str:
        from rima.display import card_html

        items = [("data", self.source or "data frame"),
                 ("rows", f"{self.n_rows} ({self.n_usable} usable)"),
                 ("usable", "yes" if self.ok else "no (fix the errors)")]
        items += [("error", e.message) for e in self.errors[:10]]
        items += [("warning", w.message) for w in self.warnings[:10]]
        return card_html("Validation report", items, [("Row accounting", self.accounting, 0)])


@by_rows(lambda df, *a, **k: len(df) if hasattr(df, "__len__") else 0)
def validate(df: pd.DataFrame, spec: Spec | dict | str | Path,
             source: str | Path | None = None) -> ValidationReport:
    """Check data against a spec; never raises on bad data.

    Parameters
    ----------
    df : DataFrame
        The household survey, one row per household.
    spec : Spec, dict or path
        The model spec (`rima.load_spec`).
    source : str or Path, optional
        The data's file name, used in messages.

    Returns
    -------
    ValidationReport
        Every problem found, a per-variable summary and the status of every row.

    Raises
    ------
    DataError
        `df` is not a DataFrame.
    SpecError
        The spec is invalid.

    Examples
    --------
    >>> from rima.example import EXAMPLE_SPEC
    >>> df = rima.simulate(n_households=300, seed=2).households
    >>> df.loc[0, "hay_reserve_t"] = None
    >>> rep = rima.validate(df, EXAMPLE_SPEC)
    >>> rep.row_status.iloc[0]
    'missing value in hay_reserve_t'
    """
    spec = load_spec(spec)
    source = str(source) if source is not None else None
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"validate needs a pandas DataFrame, got {type(df).__name__}")
    report = ValidationReport(
        spec=spec, source=source, n_rows=len(df), n_columns=df.shape[1], _index=df.index
    )
    errors = report.errors
    columns = [str(c) for c in df.columns]
    if list(df.columns) != columns:
        df = df.set_axis(columns, axis=1)

    from rima.io import duplicate_columns, duplicate_message

    dups = duplicate_columns(columns)
    if dups:
        errors.append(Issue("duplicate_column", dups[0][0], duplicate_message(columns)))
        return report

    from rima.io import columns_hint

    absent = list(spec.missing_columns(columns))
    hint = columns_hint(columns, spec.required_columns) if absent else ""
    for k, name in enumerate(absent):
        errors.append(Issue(
            "missing_column", name,
            f"column {name!r} ({spec._role(name)}) is named in the spec but not in the data"
            f"{did_you_mean(name, columns)}" + (hint if k == 0 else ""),
        ))
    present = set(columns)

    if len(df) == 0:
        errors.append(Issue("empty", None, "the data has no rows (only a header, or nothing)"))
        report._stats = _no_stats(spec, present)
        return report

    # numeric roles: coerce into one block, naming cells that are not numbers; each
    # column is checked while it is copied (range, infinite cells, per-row missing masks)
    numeric = [c for c in spec.numeric_columns if c in present]
    pos = {c: j for j, c in enumerate(numeric)}
    conv = convert_block(df, numeric)
    block, keys = conv.block.values, conv.block.masks
    count, vmin, vmax = conv.count, conv.minimum, conv.maximum
    for j, col in enumerate(numeric):
        src, bad, n_inf = conv.sources[j], conv.not_numbers[j], conv.n_infinite[j]
        if bad is not None and bad.any():
            rows = np.flatnonzero(bad) + 1
            first = tuple(df[col].to_numpy()[bad][:_SHOW])
            errors.append(Issue(
                "non_numeric", col,
                f"column {col!r} ({_role(spec, col)}) must be numeric but has "
                f"{len(rows)} non-numeric value(s) at {_rows_text(rows)} "
                f"(first: {', '.join(repr(_plain(v)) for v in first)}); if they mark "
                "missing values, leave those cells empty",
                tuple(rows.tolist()), first,
            ))
        if n_inf:
            v = np.asarray(src, dtype=float)
            inf = np.isinf(v)
            rows = np.flatnonzero(inf) + 1
            first = tuple(v[inf][:_SHOW].tolist())
            errors.append(Issue(
                "infinite", col,
                f"column {col!r} ({_role(spec, col)}) has {len(rows)} infinite value(s) at "
                f"{_rows_text(rows)} (first: {', '.join(map(str, first))})",
                tuple(rows.tolist()), first,
            ))
    report._columns = conv.block
    report._frame = df.copy(deep=False)
    # no sums: the summary's means add the values when it is first asked for
    report._stats = {"columns": numeric, "count": count, "min": vmin, "max": vmax,
                     "n": len(df), "present": present}

    for col in spec.variables:
        if col not in pos:
            continue
        if count[pos[col]] == 0 and not any(e.column == col for e in errors):
            errors.append(Issue(
                "all_missing", col,
                f"column {col!r} ({_role(spec, col)}) has no values: all {len(df)} rows are "
                "missing",
            ))

    # id: present for every row, unique
    if spec.id in present:
        ids = df[spec.id]
        report._ids = ids
        miss = blank_ids(ids)
        if miss.any():
            rows = np.flatnonzero(miss) + 1
            errors.append(Issue(
                "missing_id", spec.id,
                f"id column {spec.id!r} is empty at {_rows_text(rows)}",
                tuple(rows.tolist()),
            ))
        dup = _duplicated(ids) & ~miss
        if dup.any():
            rows = np.flatnonzero(dup) + 1
            dup_vals = pd.unique(ids.to_numpy()[dup])
            first = tuple(_plain(v) for v in dup_vals[:_SHOW])
            errors.append(Issue(
                "duplicate_id", spec.id,
                f"id column {spec.id!r} has {len(dup_vals)} duplicated value(s) "
                f"(first: {', '.join(map(repr, first))}) at {_rows_text(rows)}",
                tuple(rows.tolist()), first,
            ))

    if spec.weight and spec.weight in pos:
        w = block[pos[spec.weight]]
        neg = w < 0
        if neg.any():
            rows = np.flatnonzero(neg) + 1
            first = tuple(w[neg][:_SHOW].tolist())
            errors.append(Issue(
                "negative_weight", spec.weight,
                f"weight column {spec.weight!r} has {len(rows)} negative value(s) at "
                f"{_rows_text(rows)} (first: {', '.join(map(str, first))})",
                tuple(rows.tolist()), first,
            ))

    for col in spec.profiles:
        if col in present:
            miss = df[col].isna().to_numpy()
            if miss.any():
                rows = np.flatnonzero(miss) + 1
                report.warnings.append(Issue(
                    "missing_profile", col,
                    f"profile column {col!r} is empty at {_rows_text(rows)}; those rows are "
                    "analysed but left out of the results by "
                    f"{col}",
                    tuple(rows.tolist()), severity="warning",
                ))

    # row accounting: the reference rule deletes listwise over every analysis variable;
    # a declared weight must be present too (the numeric columns are exactly those)
    report._codes, report._reasons = _status_codes(keys, numeric)
    if spec.options.weights and spec.weight and spec.weight in pos:
        from rima.row_status import weight_reason

        # the fit leaves out rows of weight 0 (a household that counts for nothing):
        # account for them as it does
        zero = block[pos[spec.weight]] == 0
        if zero.any():
            report._reasons.append(weight_reason(spec.weight))
            report._codes[zero] = len(report._reasons) - 1
    n_usable = int(np.count_nonzero(report._codes == 0))

    # constant columns break standardisation; check over the rows actually analysed
    for col in spec.variables:
        if col not in pos or any(e.column == col for e in errors):
            continue
        j = pos[col]
        if count[j] and vmin[j] == vmax[j]:
            errors.append(Issue(
                "constant", col,
                f"column {col!r} ({_role(spec, col)}) is constant (every value is "
                f"{_plain(vmin[j])}); it carries no information, remove it from the spec",
                values=(_plain(vmin[j]),),
            ))
            continue
        any_usable, constant, value = constant_over_usable(block[j], keys)
        if any_usable and constant:
            errors.append(Issue(
                "constant", col,
                f"column {col!r} ({_role(spec, col)}) is constant over the {n_usable} usable "
                f"rows (every value is {_plain(value)})",
                values=(_plain(value),),
            ))

    if not n_usable and not any(e.kind == "all_missing" for e in errors):
        errors.append(Issue(
            "no_usable_rows", None,
            f"no row has every analysis variable present, so nothing can be analysed "
            f"(most common reason: {report.row_status.value_counts().index[0]})",
        ))
    return report


def blank_ids(ids: pd.Series) -> np.ndarray:
    """Rows whose id is missing or text that is empty or only spaces (an id nobody can
    look up)."""
    miss = ids.isna().to_numpy()
    if not (isinstance(ids.dtype, np.dtype) and ids.dtype.kind in "iufb"):
        text = ids.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
        miss = miss | text
    return miss


def _duplicated(ids: pd.Series) -> np.ndarray:
    """`ids.duplicated(keep=False)`; a strictly increasing integer id (the usual household
    number) needs no hash table."""
    a = ids.to_numpy() if isinstance(ids.dtype, np.dtype) else None
    if a is not None and a.dtype.kind in "iu" and (a.size < 2 or bool(np.all(a[1:] > a[:-1]))):
        return np.zeros(a.size, dtype=bool)
    return ids.duplicated(keep=False).to_numpy()


def _status_codes(keys: np.ndarray, columns: list) -> tuple[np.ndarray, list]:
    """(codes (n,) int32, reasons): one reason per distinct mask of missing columns."""
    from rima.row_status import status_codes_from_masks

    return status_codes_from_masks(keys, columns)


def _first_appearance(codes: np.ndarray) -> list[int]:
    """Distinct values of `codes` (0 = ok, most rows) in order of first appearance."""
    bad = np.flatnonzero(codes)
    seen, first = np.unique(codes[bad], return_index=True)
    found = [(int(bad[f]), int(c)) for c, f in zip(seen, first)]
    if bad.size < codes.size:
        found.append((int(np.argmin(codes != 0)), 0))
    return [c for _, c in sorted(found)]


def _no_stats(spec: Spec, present: set) -> dict:
    cols = [c for c in spec.numeric_columns if c in present]
    q = len(cols)
    return {"columns": cols, "count": np.zeros(q, dtype=np.int64), "min": np.full(q, np.inf),
            "max": np.full(q, -np.inf), "n": 0, "present": present}


def _summary(spec: Spec, stats: dict, frame) -> pd.DataFrame:
    """Per-variable summary from the check pass; medians need the values again, so they are
    computed here, from the (copy-on-write protected) frame that was validated."""
    recs = []
    for j, col in enumerate(stats["columns"]):
        n_ok = int(stats["count"][j])
        median = mean = np.nan
        if n_ok:
            v = to_float(frame[col])[0]
            median = float(np.median(v[np.isfinite(v)]))
            mean = float(finite_total(v) / n_ok)
        recs.append({
            "variable": col,
            "role": _role(spec, col),
            "N": n_ok,
            "missing": int(stats["n"] - n_ok),
            "min": float(stats["min"][j]) if n_ok else np.nan,
            "max": float(stats["max"][j]) if n_ok else np.nan,
            "median": median,
            "mean": mean,
        })
    cols = ["variable", "role", "N", "missing", "min", "max", "median", "mean"]
    return pd.DataFrame(recs, columns=cols).set_index("variable")


def _format_summary(summary: pd.DataFrame) -> str:
    shown = summary.copy()
    for c in ("min", "max", "median", "mean"):
        shown[c] = shown[c].map(lambda x: "" if pd.isna(x) else f"{x:.4g}")
    return "\n".join("  " + line for line in shown.reset_index().to_string(index=False).splitlines())


def _role(spec: Spec, col: str) -> str:
    return spec._role(col)


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(map(str, rows[:_SHOW]))
    more = f" and {len(rows) - _SHOW} more" if len(rows) > _SHOW else ""
    return f"data row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v
