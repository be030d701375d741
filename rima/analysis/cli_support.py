"""Shared pieces of the analysis commands (`rima shocks`, `panel`, `scenario`, `target`)."""

from __future__ import annotations

from types import SimpleNamespace

import click

from rima.errors import RimaInputError

model_option = click.option(
    "--model", "model_path", type=click.Path(dir_okay=False), required=True,
    help="Saved model (model.json from `rima fit`).")
soums_option = click.option(
    "--soums", "soums_path", type=click.Path(dir_okay=False), default=None,
    help="Dzud soum table (soum, round, severity, dzud_class, ...).")
round_option = click.option(
    "--round", "round_", type=int, default=None,
    help="Use only this round of the soum table (and of DATA when it has a round column).")
out_option = click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), default=None,
    help="Write the tables to this directory (created if needed).")
format_option = click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet", "dta"]), default="csv",
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
    from rima.io import read_table

    df = read_table(path)
    if round_ is not None and "round" in df.columns:
        df = df[df["round"] == round_].drop(columns="round").reset_index(drop=True)
        if df.empty:
            raise RimaInputError(f"{path}: no rows for round {round_}")
    return df


def scored(model_path, data):
    """A result-like object (scores, data, spec, model) from a saved model and data."""
    from rima.model_file import load

    model = load(model_path)
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
