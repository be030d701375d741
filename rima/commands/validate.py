"""`rima validate DATA --spec SPEC`: data summary and row accounting, exit 3 on errors."""

import click

from rima.commands._input import input_options, read_input


@click.command("validate")
@click.argument("data", type=click.Path(dir_okay=False), required=False)
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
    accounting: how many rows are usable and why the others are not. A spec with
    [sources] and [build] is built first (DATA, if given, is the household table) and the
    build's statuses are printed before the validation. Data that pass are fitted once
    as `rima fit` would, so data it would refuse (two identical pillar variables, values
    too large to square) are not called usable. Exit status 0 when the data are usable,
    3 with the named errors otherwise.
    """
    from rima.commands._build import prepare
    from rima.errors import DataError
    from rima.io import refuse_overwrite, write_table
    from rima.labels import label_categories
    from rima.validation import validate

    refuse_overwrite([row_status], [data, spec_path] if data else [spec_path])
    data, spec, built = prepare(data, spec_path, None)
    if built is not None:
        click.echo(built.summary() + "\n")
        df, data = data, f"{spec_path} (built)"
    else:
        df = label_categories(read_input(data, spec), keep=[*spec.numeric_columns, spec.id])
    report = validate(df, spec, source=data)
    if report.ok:
        _check_estimation(df, spec, report)
    click.echo(report.format(max_rows_listed=max_rows))
    if row_status:
        write_table(report.rows_with_status(), row_status)
        click.echo(f"row status written to {row_status}")
    if not report.ok:
        raise DataError(f"{data}: not usable with {spec_path}: {len(report.errors)} error(s), listed above")


def _check_estimation(df, spec, report) -> None:
    """Fit the model once, quietly, and list why it stops if it does: data the fit would
    refuse (two identical pillar variables, values whose cross-products overflow) are
    not called usable. The fit's own checks decide, so the two never disagree."""
    import warnings

    from rima.errors import RimaInputError
    from rima.result import fit
    from rima.validation import Issue

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fit's advice is for `rima fit` to give
            fit(df, spec)
    except RimaInputError as exc:
        report.errors.append(Issue("not_estimable", None, f"the fit would stop: {exc}"))
