"""Options and helpers shared by the analysis commands (`rima shocks`, `panel`, `scenario`,
`target`): click stays in the command-line layer."""

from __future__ import annotations

from types import SimpleNamespace

import click

from rima.errors import RimaInputError

model_option = click.option(
    "--model", "model_path", type=click.Path(dir_okay=False), default=None,
    help="Saved model (model.json from `rima fit`; default with --report: DIR/model.json).")
soums_option = click.option(
    "--soums", "soums_path", type=click.Path(dir_okay=False), default=None,
    help="Dzud soum table (soum, round, severity, dzud_class, ...).")
round_option = click.option(
    "--round", "round_", type=int, default=None,
    help="Use only this round of the soum table (and of DATA when it has a round column).")
out_option = click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), default=None,
    help="Write the tables to this directory (created if needed).")
report_option = click.option(
    "--report", "report_dir", type=click.Path(file_okay=False), default=None,
    help="A `rima fit --out` directory: add this analysis as a section of its report.html "
         "(kept in DIR/report_sections/, so `rima report DIR` keeps it).")
format_option = click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet", "dta", "xlsx"]), default="csv",
    show_default=True, help="Format of the written tables.")


def read_soums(path, round_):
    if path is None:
        return None
    from rima.io import read_table

    soums = read_table(path)
    if round_ is not None and "round" in soums.columns:
        soums = soums[soums["round"] == round_]
        if soums.empty:
            raise RimaInputError(f"{path}: no rows for round {round_}")
        soums = soums.drop(columns="round")
    return soums


def read_data(path, round_=None):
    from rima.commands._input import read_input

    df = read_input(path)
    if round_ is not None and "round" in df.columns:
        df = df[df["round"] == round_].drop(columns="round").reset_index(drop=True)
        if df.empty:
            raise RimaInputError(f"{path}: no rows for round {round_}")
    return df


def scored(model_path, data):
    """A result-like object (scores, data, spec, model) from a saved model and data."""
    from rima.labels import label_categories
    from rima.model_file import load

    model = load(model_path)
    # value labels (Stata/SPSS) name the groups of profiles and targeting; the model's
    # own columns keep their codes
    data = label_categories(data, keep=[*model.spec.numeric_columns, model.spec.id])
    scores = model.score(data)
    return SimpleNamespace(scores=scores, data=data, spec=model.spec, model=model)


def float_list(text, name):
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers",
                                 param_hint=name) from None


def report_dir_checked(report_dir):
    """Fail before the analysis runs, not after, when --report is not a fit directory."""
    if report_dir is None:
        return None
    from rima.report.sections import check_fit_dir

    return check_fit_dir(report_dir)


def model_path_or_report(model_path, report_dir, required=True):
    """--model, else the model.json of the --report directory (the model its report shows)."""
    if model_path is not None:
        return model_path
    if report_dir is not None:
        path = report_dir_checked(report_dir) / "model.json"
        if not path.exists():
            raise RimaInputError(f"{report_dir}: no model.json; give --model")
        return str(path)
    if required:
        raise click.UsageError("give --model (or --report DIR: a `rima fit` directory whose "
                               "model.json is used)")
    return None


def add_to_report(report_dir, model, **results):
    """Write the analysis sections into the --report directory and re-render its page."""
    if report_dir is None:
        return
    from rima.analysis.report_parts import add_analyses

    path = add_analyses(report_dir, model=model, **results)
    click.echo(f"\nreport section added: {path}")
