"""`rima score DATA --model model.json --out FILE`: score new households with a saved model."""

import click


@click.command("score")
@click.argument("data", type=click.Path())
@click.option("--model", "model_path", type=click.Path(dir_okay=False), required=True,
              help="model.json written by `rima fit`.")
@click.option("--out", "out_path", type=click.Path(), required=True,
              help="Output table; the format follows the extension (.csv, .parquet, .dta); "
                   "with --engine dask a directory of Parquet partitions.")
@click.option("--sheet", default=None, help="Excel worksheet (name or 0-based position).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--batch-rows", type=click.IntRange(1), default=None,
              help="Stream CSV/TSV/Parquet in batches of this many rows (flat memory); "
                   "inputs over 256 MiB are streamed anyway.")
@click.option("--engine", type=click.Choice(["memory", "dask"]), default="memory",
              show_default=True,
              help="dask: DATA is a directory or glob of Parquet/CSV partitions and OUT a "
                   "directory of Parquet partitions (part-00000.parquet, ...).")
@click.option("--scheduler", default="local", show_default=True,
              help="With --engine dask: 'local' or a dask scheduler address.")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
              help="Worker processes of the local cluster.")
def command(data, model_path, out_path, sheet, as_json, batch_rows, engine, scheduler,
            workers):
    """Score the households in DATA on the saved model's training scale.

    RCI_100 outside 0-100 (a household beyond the training range) is kept and flagged in
    the out_of_range column, never clipped.
    """
    import json

    from rima.io import read_table, write_table
    from rima.model_file import load

    model = load(model_path)
    if engine == "dask":
        from rima.scale_out import cluster, score_partitions

        with cluster(scheduler, workers):
            rows, scored, oor, counts = score_partitions(model, data, out_path)
        info = {"rows": rows, "scored": scored, "out_of_range": oor, "out": str(out_path),
                "accounting": counts}
    elif _stream(data, out_path, sheet, batch_rows):
        from rima.streaming import DEFAULT_BATCH_ROWS, score_file

        s = score_file(model, data, out_path, batch_rows=batch_rows or DEFAULT_BATCH_ROWS)
        info = {"rows": s.rows, "scored": s.scored, "out_of_range": s.out_of_range,
                "rci_100_mean": s.rci_100_mean, "out": str(out_path),
                "batches": s.batches,
                "bad_cells": [{"row": r, "column": c, "value": v} for r, c, v in s.bad_cells]}
        for r, c, v in s.bad_cells[:20]:
            click.echo(f"row {r:,}: non-numeric value {v!r} in {c} (not scored)", err=True)
    else:
        sheet_arg = int(sheet) if sheet is not None and sheet.isdigit() else sheet
        df = read_table(data, sheet=sheet_arg)
        scores = model.score(df)
        write_table(scores, out_path)
        ok = scores["status"] == "ok"
        info = {"rows": len(scores), "scored": int(ok.sum()),
                "out_of_range": int(scores["out_of_range"].sum()),
                "rci_100_mean": float(scores.loc[ok, "RCI_100"].mean()) if ok.any() else None,
                "out": str(out_path)}
    if as_json:
        click.echo(json.dumps(info, indent=1))
    else:
        click.echo(f"{info['scored']} of {info['rows']} households scored "
                   f"({info['out_of_range']} outside the training range 0-100, kept); "
                   f"written to {out_path}")


STREAM_ABOVE_BYTES = 256 * 2**20


def _stream(data, out_path, sheet, batch_rows):
    """Stream when asked (--batch-rows) or when a large CSV/TSV/Parquet goes to one."""
    from pathlib import Path

    from rima.io import table_format

    try:
        fin, fout = table_format(data), table_format(out_path, write=True)
    except Exception:  # noqa: BLE001 - the in-memory path reports the format error
        return False
    streamable = {"csv", "tsv", "parquet"}
    if sheet is not None or fin not in streamable or fout not in streamable:
        if batch_rows:
            raise click.BadParameter(f"streaming reads and writes CSV, TSV or Parquet, not "
                                     f"{fin} -> {fout}", param_hint="--batch-rows")
        return False
    p = Path(data)
    return bool(batch_rows) or (p.exists() and p.stat().st_size > STREAM_ABOVE_BYTES)
