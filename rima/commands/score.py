"""`rima score DATA --model model.json --out FILE`: score new households with a saved model."""

import click


@click.command("score")
@click.argument("data", type=click.Path(dir_okay=False), required=False)
@click.option("--model", "model_path", type=click.Path(dir_okay=False), required=True,
              help="model.json written by `rima fit`.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="Output table; the format follows the extension (.csv, .parquet, .dta).")
@click.option("--sheet", default=None, help="Excel worksheet (name or 0-based position).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--source", "sources", multiple=True, metavar="NAME=PATH",
              help="Raw module NAME of the new households (repeatable): the model's "
                   "[build] recipes build its variables first, with the stored constants.")
@click.option("--batch-rows", type=click.IntRange(1), default=None,
              help="Stream CSV/TSV/Parquet in batches of this many rows (flat memory); "
                   "inputs over 256 MiB are streamed anyway.")
def command(data, model_path, out_path, sheet, as_json, sources, batch_rows):
    """Score the households in DATA on the saved model's training scale.

    A model fitted from raw modules ([sources] and [build]) builds the variables of new
    households from their modules first: DATA is then their household table and --source
    NAME=PATH gives each module (a DATA that already holds every built variable is scored
    as it is). The build report and issue list are written beside the output.

    RCI_100 outside 0-100 (a household beyond the training range) is kept and flagged in
    the out_of_range column, never clipped.
    """
    import json

    from rima.io import read_table, write_table
    from rima.model_file import load

    model = load(model_path)
    raw = _raw_input(model, data, sheet, sources)
    if raw is not None:
        from rima.build.run import score_raw, write_build

        scores, built = score_raw(model, raw[1], raw[0])
        write_table(scores, out_path)
        _, report, issues = write_build(built, _beside(out_path))
        ok = scores["status"] == "ok"
        info = {"rows": len(scores), "scored": int(ok.sum()),
                "out_of_range": int(scores["out_of_range"].sum()),
                "rci_100_mean": float(scores.loc[ok, "RCI_100"].mean()) if ok.any() else None,
                "out": str(out_path), "build_report": str(report), "build_issues": str(issues),
                "build_issues_count": len(built.issues)}
    elif data is None:
        raise click.UsageError("DATA is required (or --source for a model with [build])")
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


def _raw_input(model, data, sheet, sources):
    """(household table or None, {module: path}) when the model builds from raw modules."""
    from rima.build.run import needs_build, parse_sources
    from rima.io import read_table

    given = parse_sources(sources)
    if getattr(model.spec, "build", None) is None:
        if given:
            raise click.BadParameter("this model has no [build] recipes",
                                     param_hint="--source")
        return None
    df = None
    if data is not None:
        sheet_arg = int(sheet) if sheet is not None and sheet.isdigit() else sheet
        df = read_table(data, sheet=sheet_arg)
        if not given and not needs_build(model, df):
            return None
    return df, given


def _beside(out_path):
    """The built table's name beside the scores (its report and issues derive from it)."""
    from pathlib import Path

    p = Path(out_path)
    return p.with_name(p.name.replace(p.stem, p.stem + "_households", 1))


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
