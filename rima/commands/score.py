"""`rima score DATA --model model.json --out FILE`: score new households with a saved model."""

import click


@click.command("score")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", type=click.Path(dir_okay=False), required=True,
              help="model.json written by `rima fit`.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="Output table; the format follows the extension (.csv, .parquet, .dta).")
@click.option("--sheet", default=None, help="Excel worksheet (name or 0-based position).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def command(data, model_path, out_path, sheet, as_json):
    """Score the households in DATA on the saved model's training scale.

    RCI_100 outside 0-100 (a household beyond the training range) is kept and flagged in
    the out_of_range column, never clipped.
    """
    import json

    from rima.io import read_table, write_table
    from rima.model_file import load

    model = load(model_path)
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
