"""`rima validate DATA --spec SPEC`: data summary and row accounting, exit 3 on errors."""

import click

from rima.commands._input import input_options, read_input


@click.command("validate")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), required=True,
              help="Model spec (TOML).")
@input_options
@click.option("--row-status", "row_status", type=click.Path(dir_okay=False), default=None,
              help="Also write every row's number, id and status to this table (.csv, ...).")
@click.option("--max-rows", default=10, show_default=True, type=click.IntRange(min=0),
              help="Row numbers printed per reason.")
def command(data, spec_path, row_status, max_rows):
    """Check DATA against a model spec.

    Prints the summary of every variable (N, missing, min, max, median, mean) and the row
    accounting: how many rows are usable and why the others are not. Exit status 0 when
    the data are usable, 3 with the named errors otherwise.
    """
    from rima.errors import DataError
    from rima.io import refuse_overwrite, write_table
    from rima.labels import label_categories
    from rima.spec import load_spec
    from rima.validation import validate

    refuse_overwrite([row_status], [data, spec_path])
    spec = load_spec(spec_path)
    df = label_categories(read_input(data, spec), keep=[*spec.numeric_columns, spec.id])
    report = validate(df, spec, source=data)
    click.echo(report.format(max_rows_listed=max_rows))
    if row_status:
        write_table(report.rows_with_status(), row_status)
        click.echo(f"row status written to {row_status}")
    if not report.ok:
        raise DataError(f"{data}: not usable with {spec_path}: {len(report.errors)} error(s), listed above")
