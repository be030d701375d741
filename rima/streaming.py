"""Score files larger than memory with a saved model, one row batch at a time.

    summary = rima.streaming.score_file("model.json", "households.parquet", "scores.parquet")

CSV/TSV (optionally compressed) and Parquet in, CSV/TSV and Parquet out, read and written
in row batches with pyarrow, so peak memory depends on `batch_rows`, not on the number of
rows. Output rows are in input order, with the model's id column. Every batch goes
through the model's own scoring (`FittedModel.score`), so streamed scores equal in-memory
scores exactly.

A bad cell (text in a numeric column) does not stop the run: the row gets the status
``non-numeric value 'abc' in herd_su`` and no scores, and the summary lists it with its
1-based data row number in the whole file; every other row is scored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rima.columns import arrow_float
from rima.errors import DataError, ModelFileError
from rima.row_status import mark_bad_cells
from rima.score_table import score_arrow

if TYPE_CHECKING:
    from rima.classes import ClassScheme
    from rima.model_file import FittedModel

DEFAULT_BATCH_ROWS = 262_144
_MAX_LISTED = 1000


@dataclass
class StreamSummary:
    """What `score_file` did."""

    source: str
    destination: str
    rows: int = 0
    scored: int = 0
    batches: int = 0
    status_counts: dict = field(default_factory=dict)
    bad_cells: list = field(default_factory=list)  # (data row, column, value), first 1000
    n_bad_cells: int = 0
    out_of_range: int = 0
    rci_100_sum: float = 0.0

    @property
    def rci_100_mean(self) -> float | None:
        """Mean RCI_100 of the scored rows (None when none was scored)."""
        return self.rci_100_sum / self.scored if self.scored else None

    @property
    def not_scored(self) -> int:
        return self.rows - self.scored

    def format(self) -> str:
        lines = [(f"scored {self.scored:,} of {self.rows:,} rows from {self.source} into "
                 f"{self.destination} ({self.batches} batch(es))")]
        for s, c in sorted(self.status_counts.items(), key=lambda kv: (-kv[1], kv[0])):
            if s != "ok":
                lines.append(f"  not scored {c:,}: {s}")
        for row, col, val in self.bad_cells[:20]:
            lines.append(f"  row {row:,}: non-numeric value {val!r} in {col}")
        if self.n_bad_cells > 20:
            lines.append(f"  ... and {self.n_bad_cells - 20:,} more bad cell(s)")
        return "\n".join(lines)


def _kind(path: Path) -> str:
    from rima.io import table_format

    fmt = table_format(path)
    if fmt not in ("csv", "tsv", "parquet"):
        raise DataError(f"{path}: streaming reads CSV, TSV or Parquet, not {fmt}; convert it "
                        "or score it in memory")
    return fmt


def _reader(src: Path, fmt: str, columns: list[str], numeric: list[str], batch_rows: int,
            text=()):
    """Iterator of pyarrow RecordBatches holding `columns` (numeric ones as text for CSV,
    and the `text` columns as text)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from rima.io import check_unique_columns

    if fmt == "parquet":
        try:
            pf = pq.ParquetFile(src)
        except Exception as exc:
            raise DataError(f"{src}: not a readable Parquet file: {exc}") from exc
        check_unique_columns(pf.schema_arrow.names, src)
        have = set(pf.schema_arrow.names)
        _check_columns(src, have, columns)
        return pf.iter_batches(batch_size=batch_rows, columns=columns)
    delim = "\t" if fmt == "tsv" else ","
    # numeric columns are read as text so one bad cell in a late block cannot stop the
    # reader; the cast to float64 happens per batch, where bad cells are found and reported
    types = {c: pa.string() for c in [*numeric, *text]}
    try:
        head = pcsv.open_csv(src, parse_options=pcsv.ParseOptions(delimiter=delim),
                             read_options=pcsv.ReadOptions(block_size=1 << 16),
                             convert_options=pcsv.ConvertOptions(column_types=types,
                                                                 strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        raise DataError(f"{src}: cannot read the header and first rows: "
                        f"{_bad_line(src, delim) or exc}") from exc
    check_unique_columns(head.schema.names, src)
    _check_columns(src, set(head.schema.names), columns)
    reader = pcsv.open_csv(
        src, parse_options=pcsv.ParseOptions(delimiter=delim),
        read_options=pcsv.ReadOptions(block_size=_block_size(src, batch_rows)),
        convert_options=pcsv.ConvertOptions(include_columns=columns, column_types=types,
                                            strings_can_be_null=True))
    return _rebatch(reader, batch_rows)


def _block_size(src: Path, batch_rows: int) -> int:
    """CSV block size holding about `batch_rows` rows, from the line length of the first
    64 KiB (decompressed), between 64 KiB and 64 MiB."""
    import pyarrow as pa

    with pa.input_stream(src, compression="detect") as fh:
        head = fh.read(1 << 16)
    per_row = max(len(head) / max(head.count(b"\n"), 1), 8.0)
    return int(min(max(batch_rows * per_row, 1 << 16), 1 << 26))


def _rebatch(reader, batch_rows):
    """CSV blocks regrouped into batches of exactly `batch_rows` rows (the last shorter)."""
    import pyarrow as pa

    pending, count = [], 0
    for rb in reader:
        pending.append(rb)
        count += rb.num_rows
        while count >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_rows).combine_chunks().to_batches()[0]
            rest = table.slice(batch_rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _check_columns(src, have, columns):
    missing = [c for c in columns if c not in have]
    if missing:
        from rima.suggest import did_you_mean

        raise ModelFileError(f"{src}: the data lacks {len(missing)} column(s) the model "
                             "needs: " + "; ".join(f"{c}{did_you_mean(c, sorted(have))}"
                                                   for c in missing))


def _bad_line(src: Path, delim: str) -> str | None:
    """"line N has K fields, the header has H" for the first CSV line whose field count
    differs from the header's (read again from the start, only after a failure)."""
    import csv
    import io

    import pyarrow as pa

    try:
        with pa.input_stream(src, compression="detect") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            reader = csv.reader(text, delimiter=delim)
            width = None
            for row in reader:
                if width is None:
                    width = len(row)
                elif row and len(row) != width:
                    return (f"line {reader.line_num} has {len(row)} field(s), the header "
                            f"has {width}")
    except (OSError, csv.Error, pa.ArrowException) as exc:
        return f"near line {reader.line_num}: {exc}" if "reader" in locals() else None
    return None


def _output_table(model, rb, keep, P, rci, rci100, codes, reasons, classes=None):
    """The columns of FittedModel.score (id, pillars, RCI, RCI_100, status, out_of_range),
    with any `keep` columns after the id and, with a `rima.classes.ClassScheme`, the
    resilience class after RCI_100 (as the service answers), built straight in Arrow."""
    return score_arrow(rb.column(model.id), {c: rb.column(c) for c in keep},
                       model.pillar_names, P, rci, rci100, codes, reasons, model.id,
                       classes=classes)


class _Writer:
    """Incremental CSV/TSV or Parquet writer with one `write_table` / `close` interface.

    CSV and TSV batches are written by pandas' `to_csv`, the writer of the in-memory
    path (`rima.io.write_table`), so a streamed file has the same bytes as one scored in
    memory: the same quoting (only where a field needs it), floats, booleans and empty
    cells. Arrow's CSV writer quotes every text field."""

    def __init__(self, dst: Path, fmt: str, schema, carried=()):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._sink = None
        self._carried = list(carried)  # id and kept columns (whole numbers as integers)
        self._csv = fmt != "parquet"
        if fmt == "parquet":
            # dictionary pages only where they pay (ids and scores are nearly all distinct)
            self._w = pq.ParquetWriter(dst, schema, use_dictionary=["status"])
        else:
            self._sink = pa.output_stream(dst, compression="detect")
            self._sep = "\t" if fmt == "tsv" else ","
            self._header = True

    def write_table(self, table):
        if not self._csv:
            self._w.write_table(table)
            return
        from rima.io import csv_quoting, whole_numbers_as_integers

        df = table.to_pandas()
        for c in self._carried:
            df[c] = whole_numbers_as_integers(df[c])
        text = df.to_csv(sep=self._sep, index=False, header=self._header,
                          quoting=csv_quoting(df))
        self._header = False
        self._sink.write(text.encode("utf-8"))

    def close(self):
        if self._sink is not None:
            self._sink.close()
        else:
            self._w.close()


def score_file(model: FittedModel | str | Path, src: str | Path, dst: str | Path,
               batch_rows: int = DEFAULT_BATCH_ROWS, keep: Sequence[str] = (),
               progress: Callable[[int], Any] | None = None,
               classes: ClassScheme | None = None) -> StreamSummary:
    """Score a CSV/TSV/Parquet file into another, batch by batch, with flat memory.

    The output is written to a temporary file next to `dst` and moved into place only
    when every row is written, so a failed run leaves no partial file (and an existing
    `dst` untouched).

    Parameters
    ----------
    model : FittedModel, str or Path
        A loaded model or the path of a model.json.
    src, dst : str or Path
        Input and output files (CSV, TSV, optionally gzipped, or Parquet).
    batch_rows : int
        Rows per batch.
    keep : sequence of str
        Extra input columns copied to the output after the id.
    progress : callable, optional
        Called with the rows done after every batch.
    classes : rima.classes.ClassScheme, optional
        Adds the resilience class column.

    Returns
    -------
    StreamSummary
        Rows, scored rows, status counts, cells that were not numbers, out-of-range count.

    Raises
    ------
    DataError
        The input is missing or unreadable, `dst` would overwrite it, or a column changes
        type between batches.
    """
    if isinstance(model, (str, Path)):
        from rima.model_file import load

        model = load(model)
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise DataError(f"{src}: file not found")
    from rima.io import refuse_overwrite

    refuse_overwrite([dst], [src])
    batch_rows = int(batch_rows)
    if batch_rows < 1:
        raise DataError(f"batch_rows = {batch_rows}: give a positive number of rows")
    fin, fout = _kind(src), _kind(dst)
    keep = [c for c in keep if c not in model.required_columns]
    if not dst.parent.is_dir():
        from rima.io import writable_dir

        writable_dir(dst.parent)
    # same extension, so the writer picks the same format and compression
    tmp = dst.with_name(f".partial-{os.getpid()}-{dst.name}")
    try:
        try:
            summary = _score_into(model, src, fin, tmp, fout, batch_rows, keep, progress,
                                  classes, text=())
        except _IdsNotNumbers:
            # the ids looked like numbers in the first block only: read them as text
            summary = _score_into(model, src, fin, tmp, fout, batch_rows, keep, progress,
                                  classes, text=[model.id, *keep])
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    summary.destination = str(dst)
    return summary


class _IdsNotNumbers(Exception):
    pass


def _score_into(model, src, fin, dst, fout, batch_rows, keep, progress, classes, text):
    import pyarrow as pa

    use_y = model.prediction != "causes"
    numeric = list(model.variables) + (list(model.indicators) if use_y else [])
    columns = [model.id, *keep, *numeric]
    summary = StreamSummary(source=str(src), destination=str(dst))
    writer = None
    schema = None
    row0 = 1
    p, m = len(model.variables), len(model.indicators)
    delim = "\t" if fin == "tsv" else ","
    try:
        for rb in _reader(src, fin, columns, numeric, batch_rows, text=text):
            n = rb.num_rows
            if n == 0:
                continue
            bad = []
            # column-major, so each column is one contiguous copy out of Arrow
            X = np.empty((p, n)).T
            for j, c in enumerate(model.variables):
                X[:, j] = arrow_float(rb.column(c), c, row0, bad)
            Y = np.empty((m, n)).T
            for j, c in enumerate(model.indicators):
                Y[:, j] = arrow_float(rb.column(c), c, row0, bad) if use_y else np.nan
            P, rci, rci100, codes, reasons = model.score_batch(X, Y)
            if bad:
                cols = [P[:, k] for k in range(P.shape[1])]  # views: NaN goes into P
                mark_bad_cells(bad, row0, [*cols, rci, rci100], codes, reasons)
                summary.n_bad_cells += len(bad)
                room = _MAX_LISTED - len(summary.bad_cells)
                summary.bad_cells.extend(bad[:max(room, 0)])
            table = _output_table(model, rb, keep, P, rci, rci100, codes, reasons, classes)
            if writer is None:
                writer = _Writer(dst, fout, table.schema, carried=[model.id, *keep])
                schema = table.schema
            elif table.schema != schema:
                try:
                    table = table.cast(schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise DataError(f"{src}: the id or kept columns change type after data "
                                    f"row {row0 - 1:,}: {exc}") from exc
            writer.write_table(table)
            counts = np.bincount(codes, minlength=len(reasons))
            for r, c in zip(reasons, counts):
                if c:
                    summary.status_counts[r] = summary.status_counts.get(r, 0) + int(c)
            ok = codes == 0
            summary.rci_100_sum += float(rci100[ok].sum())
            with np.errstate(invalid="ignore"):
                summary.out_of_range += int(((rci100 < 0) | (rci100 > 100)).sum())
            summary.rows += n
            summary.scored += int(counts[0])
            summary.batches += 1
            row0 += n
            if progress is not None:
                progress(summary.rows)
    except (pa.ArrowException, OSError) as exc:
        if fin != "parquet" and not isinstance(exc, pa.ArrowInvalid):
            raise
        if fin != "parquet" and not text and "conversion error" in str(exc):
            raise _IdsNotNumbers() from exc
        if fin == "parquet":
            raise DataError(f"{src}: cannot read the Parquet data after data row "
                            f"{row0 - 1:,} (damaged file?): {exc}") from exc
        where = _bad_line(src, delim)
        raise DataError(f"{src}: cannot read the rows after data row {row0 - 1:,}: "
                        f"{where or exc}") from exc
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise DataError(f"{src}: no data rows to score")
    return summary
