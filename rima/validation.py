"""Data against spec: typed checks, per-variable summary and row accounting.

`validate(df, spec)` never raises on bad data; it returns a `ValidationReport` holding
every problem found (`report.errors`, each naming the file, column, data rows and first
offending values), a per-variable summary, and the status of every input row: ``"ok"``
when the row can be analysed, otherwise the reason it cannot (``"missing value in
hay_reserve_t"``). `report.raise_if_errors()` turns the errors into one `DataError`.

Row numbers are data row numbers counted from 1: row 1 is the first row under the header
(line 2 of a CSV file, row 2 of a spreadsheet).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

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
           "missing_profile" (a warning)
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

    row_status : Series of strings indexed like the input: "ok" or the reason the row
        cannot be used. The pipeline reuses it as its `status` column.
    summary : DataFrame, one row per analysis variable (and the weight): role, N,
        missing, min, max, median, mean over all rows.
    """

    spec: Spec
    source: str | None
    n_rows: int
    n_columns: int
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    row_status: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    _ids: pd.Series | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def usable(self) -> pd.Series:
        """Boolean Series (input index): True for rows the analysis uses."""
        return self.row_status == OK

    @property
    def n_usable(self) -> int:
        return int(self.usable.sum())

    @property
    def accounting(self) -> pd.DataFrame:
        """Rows per status ("ok" first, then reasons by decreasing count)."""
        counts = self.row_status.value_counts(sort=False)
        reasons = counts.drop(OK, errors="ignore").sort_values(ascending=False, kind="stable")
        ordered = pd.concat([counts.reindex([OK]).dropna(), reasons]).astype(np.int64)
        return ordered.rename_axis("status").rename("rows").reset_index()

    def rows_with_status(self) -> pd.DataFrame:
        """Every input row with its data row number, id (if present) and status."""
        out = pd.DataFrame({"row": np.arange(1, self.n_rows + 1)}, index=self.row_status.index)
        if self._ids is not None:
            out[self.spec.id] = self._ids
        out["status"] = self.row_status
        return out

    def raise_if_errors(self) -> None:
        if self.errors:
            where = f"{self.source}: " if self.source else ""
            if len(self.errors) == 1:
                raise DataError(f"{where}{self.errors[0].message}")
            listed = "\n".join(f"  - {e.message}" for e in self.errors)
            raise DataError(f"{where}{len(self.errors)} problems in the data:\n{listed}")

    def format(self, max_rows_listed: int = 10) -> str:
        """The text `rima validate` prints: summary, row accounting, problems."""
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


def validate(df: pd.DataFrame, spec, source=None) -> ValidationReport:
    """Check `df` against `spec` (a Spec, dict or TOML path); never raises on bad data."""
    spec = load_spec(spec)
    source = str(source) if source is not None else None
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"validate needs a pandas DataFrame, got {type(df).__name__}")
    report = ValidationReport(
        spec=spec, source=source, n_rows=len(df), n_columns=df.shape[1]
    )
    report.row_status = pd.Series(OK, index=df.index, dtype=object, name="status")
    errors = report.errors
    columns = [str(c) for c in df.columns]
    if list(df.columns) != columns:
        df = df.set_axis(columns, axis=1)

    dup_cols = sorted({c for c in columns if columns.count(c) > 1})
    if dup_cols:
        errors.append(Issue("duplicate_column", dup_cols[0],
                            f"column name(s) appear more than once: {', '.join(dup_cols)}"))
        return report

    for name in spec.missing_columns(columns):
        errors.append(Issue(
            "missing_column", name,
            f"column {name!r} ({spec._role(name)}) is named in the spec but not in the data"
            f"{did_you_mean(name, columns)}",
        ))
    present = set(columns)

    if len(df) == 0:
        errors.append(Issue("empty", None, "the data has no rows (only a header, or nothing)"))
        report.summary = _summary(df, spec, {}, present)
        return report

    # numeric roles: coerce, naming cells that are not numbers
    numeric: dict[str, np.ndarray] = {}
    for col in spec.numeric_columns:
        if col not in present:
            continue
        values, bad = _to_float(df[col])
        if bad.any():
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
        inf = np.isinf(values)
        if inf.any():
            rows = np.flatnonzero(inf) + 1
            first = tuple(values[inf][:_SHOW].tolist())
            errors.append(Issue(
                "infinite", col,
                f"column {col!r} ({_role(spec, col)}) has {len(rows)} infinite value(s) at "
                f"{_rows_text(rows)} (first: {', '.join(map(str, first))})",
                tuple(rows.tolist()), first,
            ))
            values = np.where(inf, np.nan, values)
        numeric[col] = np.where(bad, np.nan, values)

    for col in spec.variables:
        if col not in numeric:
            continue
        v = numeric[col]
        if np.isnan(v).all() and not any(e.column == col for e in errors):
            errors.append(Issue(
                "all_missing", col,
                f"column {col!r} ({_role(spec, col)}) has no values: all {len(v)} rows are missing",
            ))

    # id: present for every row, unique
    if spec.id in present:
        ids = df[spec.id]
        report._ids = ids
        miss = ids.isna().to_numpy()
        if miss.any():
            rows = np.flatnonzero(miss) + 1
            errors.append(Issue(
                "missing_id", spec.id,
                f"id column {spec.id!r} is empty at {_rows_text(rows)}",
                tuple(rows.tolist()),
            ))
        dup = ids.duplicated(keep=False).to_numpy() & ~miss
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

    if spec.weight and spec.weight in numeric:
        w = numeric[spec.weight]
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
    # a declared weight must be present too
    checked = [c for c in (*spec.variables, *((spec.weight,) if spec.weight else ())) if c in numeric]
    report.row_status = _row_status(df.index, checked, numeric)

    # constant columns break standardisation; check over the rows actually analysed
    usable = report.usable.to_numpy()
    for col in spec.variables:
        if col not in numeric or any(e.column == col for e in errors):
            continue
        v = numeric[col]
        vals = v[~np.isnan(v)]
        if vals.size and vals.min() == vals.max():
            errors.append(Issue(
                "constant", col,
                f"column {col!r} ({_role(spec, col)}) is constant (every value is "
                f"{_plain(vals[0])}); it carries no information, remove it from the spec",
                values=(_plain(vals[0]),),
            ))
            continue
        u = v[usable]
        if u.size and u.min() == u.max():
            errors.append(Issue(
                "constant", col,
                f"column {col!r} ({_role(spec, col)}) is constant over the {u.size} usable rows "
                f"(every value is {_plain(u[0])})",
                values=(_plain(u[0]),),
            ))

    if not usable.any() and not any(e.kind == "all_missing" for e in errors):
        errors.append(Issue(
            "no_usable_rows", None,
            f"no row has every analysis variable present, so nothing can be analysed "
            f"(most common reason: {report.row_status.value_counts().index[0]})",
        ))

    report.summary = _summary(df, spec, numeric, present)
    return report


def _to_float(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
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


def _row_status(index, columns, numeric) -> pd.Series:
    status = np.full(len(index), OK, dtype=object)
    if columns:
        missing = np.column_stack([np.isnan(numeric[c]) for c in columns])
        hit = missing.any(axis=1)
        if hit.any():
            # one reason string per distinct pattern of missing columns
            sub = missing[hit]
            if sub.shape[1] <= 62:
                # encode each pattern as an integer: far faster than np.unique(axis=0)
                codes = sub.astype(np.int64) @ (np.int64(1) << np.arange(sub.shape[1], dtype=np.int64))
                _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
                patterns = sub[first]
            else:
                patterns, inverse = np.unique(sub, axis=0, return_inverse=True)
            reasons = np.array(
                [_reason([c for c, m in zip(columns, p) if m]) for p in patterns], dtype=object
            )
            status[hit] = reasons[inverse.ravel()]
    return pd.Series(status, index=index, name="status", dtype=object)


def _reason(cols: list[str]) -> str:
    if len(cols) == 1:
        return f"missing value in {cols[0]}"
    return f"missing values in {', '.join(cols)}"


def _summary(df, spec: Spec, numeric: dict, present: set) -> pd.DataFrame:
    recs = []
    for col in spec.numeric_columns:
        if col not in present:
            continue
        v = numeric.get(col)
        if v is None:
            v = np.full(len(df), np.nan)
        ok = v[~np.isnan(v)]
        recs.append({
            "variable": col,
            "role": _role(spec, col),
            "N": int(ok.size),
            "missing": int(v.size - ok.size),
            "min": float(ok.min()) if ok.size else np.nan,
            "max": float(ok.max()) if ok.size else np.nan,
            "median": float(np.median(ok)) if ok.size else np.nan,
            "mean": float(ok.mean()) if ok.size else np.nan,
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
