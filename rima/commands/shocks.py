"""`rima shocks DATA --model model.json`: food security on RCI, shocks and interactions."""

import click

from rima.commands._input import input_options
from rima.commands.analysis_support import (
    add_to_report,
    format_option,
    model_option,
    model_path_or_report,
    out_option,
    read_data,
    read_soums,
    report_dir_checked,
    report_option,
    round_option,
    scored,
    soums_option,
)


@click.command("shocks")
@click.argument("data", type=click.Path(dir_okay=False))
@model_option
@soums_option
@round_option
@click.option("--outcome", default="fcs", show_default=True, help="Food-security column.")
@click.option("--kind", type=click.Choice(["ols", "logit", "probit"]), default="ols",
              show_default=True, help="ols: level (or change); logit/probit: a loss.")
@click.option("--rci", default="RCI", show_default=True, help="RCI or RCI_100 as predictor.")
@click.option("--household-shock", "household_shocks", multiple=True,
              help="Household shock column (repeatable; default loss_share).")
@click.option("--soum-shock", "soum_shocks", multiple=True,
              help="Soum shock column: severity, dzud_class, ... (repeatable; default severity).")
@click.option("--control", "controls", multiple=True, help="Control column (repeatable).")
@click.option("--no-interactions", is_flag=True, help="Leave out RCI x shock products.")
@click.option("--baseline", default=None, help="Column with the earlier outcome: model the change.")
@click.option("--loss-line", type=float, default=None,
              help="Loss = outcome below this line (logit/probit; default 35).")
@click.option("--drop", type=float, default=None,
              help="Loss = a fall of at least this much from --baseline.")
@click.option("--where", default=None,
              help="Only households meeting a condition, e.g. \"dzud_class != 'none'\".")
@click.option("--cluster", default="soum", show_default=True,
              help="Cluster column for the standard errors ('none' for HC1).")
@out_option
@input_options
@format_option
@report_option
def command(data, model_path, soums_path, round_, outcome, kind, rci, household_shocks,
            soum_shocks, controls, no_interactions, baseline, loss_line, drop, where,
            cluster, out_dir, fmt, report_dir):
    """Regress food security on RCI, household and soum shocks and their interactions.

    Survey weights from the model's spec, soum-clustered standard errors (statsmodels),
    t intervals with (soums - 1) degrees of freedom.
    """
    from pathlib import Path

    from rima.analysis.shocks import shocks
    from rima.io import write_table

    report_dir_checked(report_dir)
    model_path = model_path_or_report(model_path, report_dir)
    from rima.io import refuse_overwrite_in

    refuse_overwrite_in(out_dir, ("shocks_*",), [data, model_path, soums_path])
    df = read_data(data, round_)
    res = scored(model_path, df)
    out = shocks(
        res,
        soums=read_soums(soums_path, round_),
        outcome=outcome,
        kind=kind,
        rci=rci,
        household_shocks=list(household_shocks) or ["loss_share"],
        soum_shocks=list(soum_shocks) or ["severity"],
        interactions=not no_interactions,
        controls=list(controls),
        baseline=baseline,
        loss_line=loss_line,
        drop=drop,
        cluster=None if cluster.lower() == "none" else cluster,
        where=where,
    )
    click.echo(out.summary())
    if out_dir:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"shocks_{kind}.{fmt}"
        tab = out.table.copy()
        if fmt == "dta":
            tab["term"] = tab["term"].str.replace("[", "_").str.replace("]", "")
        write_table(tab, path)
        click.echo(f"\ncoefficients written to {path}")
    add_to_report(report_dir, res.model, shocks=out)
