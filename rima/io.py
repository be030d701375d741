"""Tables in and out, chosen by file extension.

Read: CSV, TSV, Parquet, Stata .dta, SPSS .sav, Excel .xlsx/.xlsm.
Write: CSV, TSV, Parquet, Stata .dta (with variable labels, a data label and Stata-safe
names, rima.labels), Excel .xlsx; `write_tables` writes tables that belong together all or
none. FAO analysts work in Stata and Excel, so those formats are first-class; every error
names the file.
"""

from __future__ import annotations

import csv
import os
import re
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pandas as pd

from rima.errors import DataError

READ_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".dta": "stata",
    ".sav": "spss",
    ".zsav": "spss",
    ".xlsx": "excel",
    ".xlsm": "excel",
}
WRITE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".dta": "stata",
    ".xlsx": "excel",
}
_COMPRESSION = (".gz", ".bz2", ".xz", ".zst", ".zip")


def _suffix(path: Path) -> str:
    """Extension deciding the format; a compression suffix on CSV/TSV is looked through."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSION:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def table_format(path, write: bool = False) -> str:
    """Format name for `path` ("csv", "parquet", ...), or a DataError naming the file."""
    path = Path(path)
    formats = WRITE_FORMATS if write else READ_FORMATS
    ext = _suffix(path)
    if ext not in formats:
        verb = "write" if write else "read"
        known = ", ".join(sorted(formats))
        shown = ext or "(no extension)"
        raise DataError(f"{path}: cannot {verb} files of type {shown!r}; known extensions: {known}")
    return formats[ext]


def read_table(path: str | Path, sheet: str | int | None = None, sep: str | None = None,
               decimal: str | None = None) -> pd.DataFrame:
    """Read a data table by extension (CSV, TSV, Parquet, Stata, SPSS, Excel).

    Stata and SPSS value labels are not applied, because the numeric codes are what the
    analysis needs (mobile coverage 0/1/2, not its labels); they are kept in
    ``df.attrs["value_labels"]`` ({column: {code: label}}) and `apply_value_labels` turns
    chosen columns (profiles such as soum) into their labels.

    Parameters
    ----------
    path : str or Path
        The file; its extension says the format.
    sheet : str or int, optional
        Excel worksheet by name or 0-based position (default: the first); an error for
        other formats.
    sep, decimal : str, optional
        CSV separator and decimal mark; default what the file's first lines show
        (`sniff_csv`): Excel in many locales saves "1,5;2,25" rows.

    Returns
    -------
    DataFrame

    Raises
    ------
    DataError
        The file is missing, a directory, of an unknown format, unreadable, or has
        duplicate column names.

    Examples
    --------
    >>> import pandas as pd
    >>> path = rima.write_table(pd.DataFrame({"hhid": [1, 2], "fcs": [35.5, 42.0]}),
    ...                         "households.csv")
    >>> rima.read_table(path)
       hhid   fcs
    0     1  35.5
    1     2  42.0
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a data file")
    if sheet is not None and fmt != "excel":
        raise DataError(f"{path}: --sheet applies only to Excel files (.xlsx), not {fmt}")
    if fmt == "tsv":
        sep = "\t" if sep is None else sep
    try:
        if fmt == "csv":
            if sep is None or decimal is None:
                found_sep, found_dec = sniff_csv(path)
                sep = sep or found_sep
                decimal = decimal or found_dec
            df = pd.read_csv(path, sep=sep, decimal=decimal)
        elif fmt == "tsv":
            df = pd.read_csv(path, sep=sep, decimal=decimal or ".")
        elif fmt == "parquet":
            df = pd.read_parquet(path)
        elif fmt == "stata":
            df = _read_stata(path)
        elif fmt == "spss":
            df = _read_spss(path)
        else:
            df = _read_excel(path, sheet)
    except DataError:
        raise
    except ImportError as exc:
        raise DataError(
            f"{path}: reading {fmt} files needs an optional package ({exc.name}); "
            'install it with: python -m pip install "rima[io]"'
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty (no header row, no data)") from exc
    except Exception as exc:
        raise DataError(f"{path}: cannot read as {fmt}: {type(exc).__name__}: {exc}") from exc
    if fmt in ("csv", "tsv", "excel"):
        # pandas renames a repeated header ("x", "x.1"): check the header as written
        check_unique_columns(_header(path, fmt, sheet, sep), path)
    df.columns = [str(c) for c in df.columns]
    check_unique_columns(df.columns, path)
    return df


def duplicate_columns(names) -> list[tuple[str, list[int]]]:
    """[(name, 1-based positions)] of every column name that appears more than once."""
    where: dict[str, list[int]] = {}
    for i, c in enumerate(names, 1):
        where.setdefault(str(c), []).append(i)
    return [(c, ps) for c, ps in where.items() if len(ps) > 1]


def duplicate_message(names) -> str | None:
    """"column 'x' appears twice (columns 3 and 7)" for the first repeated name, or None."""
    dups = duplicate_columns(names)
    if not dups:
        return None
    parts = []
    for c, ps in dups:
        times = "twice" if len(ps) == 2 else f"{len(ps)} times"
        shown = ", ".join(map(str, ps[:-1])) + f" and {ps[-1]}"
        parts.append(f"column {c!r} appears {times} (columns {shown})")
    return "; ".join(parts) + ": rename or drop the extra column(s); rima will not guess which one is meant"


def check_unique_columns(names, source=None) -> None:
    """DataError naming every repeated column name and its positions."""
    msg = duplicate_message(names)
    if msg:
        raise DataError(f"{source}: {msg}" if source else msg)


def _header(path: Path, fmt: str, sheet, sep=None) -> list[str]:
    """The header row as written in the file (CSV/TSV/Excel)."""
    if fmt == "excel":
        if isinstance(sheet, str) and sheet.isdigit():
            names = pd.ExcelFile(path, engine="openpyxl").sheet_names
            sheet = sheet if sheet in names else int(sheet)
        head = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, header=None,
                             nrows=1, engine="openpyxl")
    else:
        head = pd.read_csv(path, sep=sep or ("\t" if fmt == "tsv" else ","), header=None,
                           nrows=1, dtype=str, keep_default_na=False)
    return [str(c) for c in head.iloc[0].tolist()] if len(head) else []


def refuse_overwrite_in(directory, patterns, inputs) -> None:
    """`refuse_overwrite` for a command that writes files named by glob `patterns` (e.g.
    "scores.*", "figures/*") into `directory`: refused when an input is one of them."""
    if directory is None:
        return
    d = Path(directory).resolve()
    for p in inputs:
        if p is None:
            continue
        r = Path(p).resolve()
        try:
            rel = r.relative_to(d)
        except ValueError:
            continue
        if any(rel.match(pat) and len(rel.parts) == len(Path(pat).parts) for pat in patterns):
            raise DataError(f"{p}: this input is in {directory} under a name the command "
                            "writes there, so the output would overwrite it; write the "
                            "results to another directory")


def refuse_overwrite(outputs, inputs) -> None:
    """DataError before anything is written when an output path is one of the inputs (a
    results file written over the data it came from would destroy the data)."""
    ins = []
    for p in inputs:
        if p is None:
            continue
        p = Path(p)
        ins.append((p, p.resolve()))
    for out in outputs:
        if out is None:
            continue
        o = Path(out)
        for p, r in ins:
            same = o.resolve() == r
            if not same and o.exists() and p.exists():
                try:
                    same = o.samefile(p)
                except OSError:
                    same = False
            if same:
                raise DataError(f"{o}: the output would overwrite the input {p}; "
                                "write the results to another file")

_DECIMAL_COMMA = re.compile(r"(?:^|;)\s*-?\d+,\d+\s*(?:;|$)")


def sniff_csv(path) -> tuple[str, str]:
    """(separator, decimal mark) of a CSV from its first lines: ";" when the header has
    more semicolons than commas, and then "," as decimal mark when a field reads like
    "1,5"; otherwise "," and "."."""
    import pyarrow as pa

    try:
        with pa.input_stream(str(path), compression="detect") as fh:
            head = fh.read(1 << 16).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - pandas then reports the unreadable file
        return ",", "."
    lines = head.splitlines()[:50]
    if not lines or lines[0].count(";") <= lines[0].count(","):
        return ",", "."
    body = lines[1:-1] if len(lines) > 2 else lines[1:]
    return ";", ("," if any(_DECIMAL_COMMA.search(x) for x in body) else ".")


def columns_hint(have, needed) -> str:
    """A hint for data that lack most of the spec's columns: the usual causes."""
    have = [str(c) for c in have]
    missing = [c for c in needed if c not in set(have)]
    if len(missing) * 2 < len(needed):
        return ""
    if len(have) == 1 and any(ch in have[0] for ch in ";\t|"):
        return (" (the file has a single column whose name holds separators: it is "
                "probably separated by something other than commas; give --sep, e.g. "
                "--sep ';', or sep in [data])")
    return (" (most of the spec's columns are absent: is this the right file, worksheet "
            "(--sheet / sheet in [data]) and spec?)")


def _read_stata(path: Path) -> pd.DataFrame:
    with pd.io.stata.StataReader(path) as reader:
        df = reader.read(convert_categoricals=False)
        labels = reader.value_labels()
        # the value-label set attached to each variable; pandas keeps it only privately,
        # so fall back to Stata's usual convention of naming the set after the variable
        label_names = getattr(reader, "_lbllist", None) or list(df.columns)
    attached = {}
    for col, name in zip(df.columns, label_names):
        if name and name in labels:
            attached[str(col)] = dict(labels[name])
    df.attrs["value_labels"] = attached
    return df


def _read_spss(path: Path) -> pd.DataFrame:
    import pyreadstat

    df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    df.attrs["value_labels"] = {
        str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items()
    }
    return df


def apply_value_labels(df: pd.DataFrame, columns=None) -> pd.DataFrame:
    """Copy of `df` with Stata/SPSS value labels applied to `columns` (default: all labelled).

    Codes without a label are kept as they are (as text), so nothing becomes missing.
    """
    labels = df.attrs.get("value_labels", {})
    out = df.copy()
    for col in labels if columns is None else columns:
        if col not in labels or col not in out:
            continue
        mapping = labels[col]
        out[col] = out[col].map(
            lambda v, m=mapping: m.get(v, v if pd.isna(v) else str(_plain_code(v)))
        )
    return out


def _plain_code(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _read_excel(path: Path, sheet) -> pd.DataFrame:
    import openpyxl  # noqa: F401 - fail early with a clear message if the extra is missing

    if sheet is None:
        return pd.read_excel(path, sheet_name=0, engine="openpyxl")
    names = pd.ExcelFile(path, engine="openpyxl").sheet_names
    if isinstance(sheet, str) and sheet not in names:
        if sheet.isdigit() and int(sheet) < len(names):
            sheet = int(sheet)
        else:
            raise DataError(f"{path}: no sheet named {sheet!r}; sheets: {', '.join(names)}")
    if isinstance(sheet, int) and not 0 <= sheet < len(names):
        raise DataError(f"{path}: sheet index {sheet} out of range; the file has {len(names)}")
    return pd.read_excel(path, sheet_name=sheet, engine="openpyxl")


def write_table(df: pd.DataFrame, path: str | Path, data_label: str | None = None,
                labels: dict | None = None) -> Path:
    """Write a table by extension (CSV, TSV, Parquet, Stata .dta, Excel .xlsx).

    Parameters
    ----------
    df : DataFrame
        The table.
    path : str or Path
        The file to write; its extension says the format.
    data_label : str, optional
        A .dta file's data label (default: "rima <version>: <file name>").
    labels : dict, optional
        {column: variable label} for a .dta file (default `rima.labels.variable_label`).

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    DataError
        Unknown format, an unwritable directory, or values the format cannot hold.
    """
    path = Path(path)
    fmt = table_format(path, write=True)
    if not path.parent.is_dir():
        writable_dir(path.parent)
    if fmt == "excel":
        check_excel_text(df, path)
    _write(df, path, fmt, path, data_label, labels)
    return path


def _write(df: pd.DataFrame, path: Path, fmt: str, shown: Path, data_label, labels) -> None:
    """Write `df` to `path`, which may be a temporary name: errors and a .dta file's
    default data label name `shown`, the file the user asked for (a temporary name or a
    process id in them would mean nothing to the user and make two runs' files differ)."""
    try:
        if fmt == "csv":
            df.to_csv(path, index=False, quoting=csv_quoting(df))
        elif fmt == "tsv":
            df.to_csv(path, sep="\t", index=False, quoting=csv_quoting(df))
        elif fmt == "parquet":
            df.to_parquet(path, index=False)
        elif fmt == "excel":
            _write_excel(df, path)
        else:
            _write_stata(df, path, data_label, labels or {}, shown)
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        reason = str(exc).replace(str(path), str(shown)) if path != shown else exc
        raise DataError(f"{shown}: cannot write {fmt}: {reason}") from exc


def write_tables(tables) -> list[Path]:
    """Write tables that belong together (a built table, its report and its issue list),
    all or none.

    Each table goes to a temporary file beside its destination, and the files are renamed
    into place once all are written; the files they replace are moved aside first and put
    back if a rename fails, so the destinations never hold a mix of two runs. Every
    destination is checked before anything is written.

    Parameters
    ----------
    tables : list of tuple
        (DataFrame, path) or (DataFrame, path, labels): each table, its file (the
        extension says the format) and, for .dta, its {column: variable label} as in
        `write_table`.

    Returns
    -------
    list of Path
        The paths, in order.

    Raises
    ------
    DataError
        Unknown format, a destination that cannot be written (a directory, an unwritable
        folder or file), values the format cannot hold, or a rename that failed (the files
        there before are then as they were). The message names the user's path.
    """
    items = []
    for df, path, *rest in tables:
        path = Path(path)
        items.append((df, path, table_format(path, write=True), rest[0] if rest else None))
    # the text first: checking a destination makes its missing folder
    for df, path, fmt, _ in items:
        if fmt == "excel":
            check_excel_text(df, path)
    for _, path, _, _ in items:
        check_destination(path)
    temps = []
    try:
        for df, path, fmt, labels in items:
            # the destination's suffixes, so that the format and compression are the same
            tmp = path.with_name(f".{path.name}.partial{_writer()}{''.join(path.suffixes)}")
            temps.append(tmp)
            _write(df, tmp, fmt, path, None, labels)
        with _folders_locked({path.parent for _, path, _, _ in items}):
            # again: something may have taken a destination while the tables were written
            for _, path, _, _ in items:
                check_destination(path)
            _replace_together([(tmp, path) for tmp, (_, path, _, _) in zip(temps, items)])
    finally:
        for tmp in temps:
            with suppress(OSError):
                if tmp.exists():
                    tmp.unlink()
    return [path for _, path, _, _ in items]


def check_destination(path) -> None:
    """DataError naming `path` when a file cannot be written there: its folder cannot be
    made or written, or it is a directory, not a regular file (renaming over a device such
    as /dev/null would replace it), or a file that cannot be opened for writing (read-only,
    or locked by another program such as Excel on Windows)."""
    path = Path(path)
    reason = _dir_problem(path.parent)
    if reason:
        raise DataError(f"{path}: cannot write output in {path.parent}: {reason}")
    if path.is_dir():
        raise DataError(f"{path}: cannot write output there: it is a directory; remove or "
                        "rename it, or write the table elsewhere")
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: cannot write output there: it is not a regular file "
                        "(a device, pipe or socket)")
    if path.is_file():
        # opened without O_CREAT or O_TRUNC: the file is left as it is
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            raise DataError(f"{path}: cannot write output there: "
                            f"{exc.strerror or type(exc).__name__} (is it read-only, or "
                            "open in another program?)") from None


def _writer() -> str:
    """This process and thread, in the names of temporary files: two writers of the same
    outputs (two processes, or two threads of the service) never share one."""
    import threading

    return f"{os.getpid()}-{threading.get_ident()}"


@contextmanager
def _folders_locked(folders):
    """An exclusive lock on each folder (in a fixed order) while a group of files is
    renamed into it: two runs writing the same outputs at once then rename their groups
    one after the other, never one run's table beside the other's issue list. A lock on
    the folder itself leaves no lock file behind; where folders cannot be locked
    (Windows), the renames go ahead unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fds = []
    try:
        for folder in sorted(str(Path(f).resolve()) for f in folders):
            fd = os.open(folder, os.O_RDONLY)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            with suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _replace_together(moves) -> None:
    """Rename each (temporary, destination) pair, all or none: the destinations' files
    are moved aside first and put back if any rename fails."""
    aside, placed, at = [], [], None
    try:
        for _, dst in moves:
            at = dst
            if os.path.lexists(dst):
                old = dst.with_name(f".{dst.name}.previous{_writer()}")
                os.replace(dst, old)
                aside.append((dst, old))
        for tmp, dst in moves:
            at = dst
            os.replace(tmp, dst)
            placed.append(dst)
    except BaseException as exc:
        for dst in placed:
            with suppress(OSError):
                dst.unlink()
        kept = []
        for dst, old in aside:
            try:
                os.replace(old, dst)
            except OSError:
                kept.append(f"{dst} is kept as {old}")
        if not isinstance(exc, OSError):
            raise
        after = ("the files there before are as they were" if not kept else
                 "the earlier files could not all be put back: " + "; ".join(kept))
        raise DataError(f"{at}: cannot write output there: "
                        f"{exc.strerror or type(exc).__name__}; nothing was written "
                        f"({after})") from exc
    for _, old in aside:
        with suppress(OSError):
            old.unlink()


def check_excel_text(df: pd.DataFrame, path) -> None:
    """DataError naming the column and data row of the first text cell (or the column
    name) holding a control character, which Excel files cannot hold: openpyxl stops
    with an error halfway through the file, and removing the character would change the
    data. Only text columns are read.

    Parameters
    ----------
    df : DataFrame
    path : str or Path
        The file named in the message.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def bad(v) -> bool:
        return isinstance(v, str) and ILLEGAL_CHARACTERS_RE.search(v) is not None

    advice = "which Excel files cannot hold; write the table as .csv or .parquet instead"
    for c in df.columns:
        if bad(c):
            ch = ILLEGAL_CHARACTERS_RE.search(c).group()
            raise DataError(f"{path}: the column name {c!r} holds the control character "
                            f"{ch!r}, {advice}")
    first = None
    for j, col in enumerate(df.columns):
        s = df.iloc[:, j]
        if isinstance(s.dtype, pd.CategoricalDtype):
            hit = np.flatnonzero([bad(v) for v in s.cat.categories])
            if not len(hit):
                continue
            rows = np.flatnonzero(np.isin(s.cat.codes.to_numpy(), hit))
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            values = s.to_numpy(dtype=object)
            try:
                distinct = pd.unique(values)
            except TypeError:  # unhashable cells (lists): looked at one by one
                distinct = values
            if not any(bad(v) for v in distinct):
                continue
            rows = np.flatnonzero([bad(v) for v in values])
        else:
            continue
        if first is None or rows[0] < first[0]:
            first = (rows[0], col, s.iloc[rows[0]])
    if first is not None:
        row, col, value = first
        ch = ILLEGAL_CHARACTERS_RE.search(value).group()
        raise DataError(f"{path}: column {col!r}, data row {row + 1}: the text holds the "
                        f"control character {ch!r}, {advice}")


def csv_quoting(df: pd.DataFrame) -> int:
    """The `quoting` for writing `df` as CSV/TSV text: minimal, unless a text cell or a
    column name holds a carriage return.

    Python's csv writer, with the newline line ending pandas uses, leaves a bare carriage
    return unquoted, and every reader (pandas, R, Excel) takes it for a line break: the row
    would come back split in two. Quoting every text field keeps such a value in its cell.

    Parameters
    ----------
    df : DataFrame

    Returns
    -------
    int
        ``csv.QUOTE_MINIMAL`` or ``csv.QUOTE_NONNUMERIC``.
    """
    def has_return(values) -> bool:
        return any(isinstance(v, str) and "\r" in v for v in values)

    if has_return(df.columns):
        return csv.QUOTE_NONNUMERIC
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            values = s.cat.categories
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            values = s.unique()
        else:
            continue
        if has_return(values):
            return csv.QUOTE_NONNUMERIC
    return csv.QUOTE_MINIMAL


def whole_numbers_as_integers(values: pd.Series) -> pd.Series:
    """An id or carried-over column as a CSV shows it: a float column's whole numbers as
    integers ("1001", not "1001.0", which pandas writes when one id is missing), other
    values unchanged. The rule is per value, so the in-memory writer and the streamed
    writer (which sees one batch at a time) give the same text."""
    if not (isinstance(values.dtype, np.dtype) and values.dtype.kind == "f"):
        return values
    v = values.to_numpy()
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(v) & (v == np.trunc(v))
    if not whole.any():
        return values
    out = values.astype(object)
    out[whole] = [int(x) for x in v[whole]]
    return out


@contextmanager
def output_dir(path):
    """`writable_dir(path)` for a command's outputs: a directory made here is removed
    again if the command fails before writing anything in it (no empty folder left
    behind that looks like a finished run's)."""
    path = Path(path)
    existed = path.exists()
    writable_dir(path)
    try:
        yield path
    except BaseException:
        if not existed and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        raise


def writable_dir(path) -> Path:
    """Create directory `path` if needed and check that files can be written in it; a
    DataError (exit 3) naming it otherwise, before any work is done."""
    path = Path(path)
    reason = _dir_problem(path)
    if reason:
        raise DataError(f"{path}: cannot write output there: {reason}")
    return path


def _dir_problem(path: Path) -> str | None:
    """Why files cannot be written in directory `path` (made here if needed), or None."""
    import tempfile

    if path.exists() and not path.is_dir():
        return "it is a file, not a directory"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".rima-write-test-"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _write_excel(df: pd.DataFrame, path: Path) -> None:
    import openpyxl  # noqa: F401 - fail early with a clear message if the extra is missing

    out = df.copy(deep=False)
    for col in out.columns:
        # Excel has no time zones; categories are written as their names
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object)
    out.to_excel(path, index=False, engine="openpyxl")


def _write_stata(df: pd.DataFrame, path: Path, data_label, labels, shown: Path) -> None:
    from rima import __version__
    from rima.labels import stata_names, variable_label

    names = stata_names(df.columns)
    var_labels = {}
    for col, safe in names.items():
        # a column given '' has no label: its name means something else in this table
        lab = labels[col] if col in labels else variable_label(col) or variable_label(safe)
        if safe != col and not lab:
            lab = col  # the original name, when Stata's rules changed it
        if lab:
            var_labels[safe] = lab[:80]
    if data_label is None:
        data_label = f"rima {__version__}: {shown.stem}"
    out = df.rename(columns=names)
    for col in out.columns:
        # Stata has no bool type, and pandas' nullable/Arrow string columns need plain object
        if out[col].dtype == bool:
            out[col] = out[col].astype("int8")
        elif pd.api.types.is_string_dtype(out[col]) and not isinstance(
            out[col].dtype, pd.CategoricalDtype
        ):
            out[col] = out[col].astype(object)
    out.to_stata(path, write_index=False, version=118, data_label=data_label[:80],
                 variable_labels=var_labels)
