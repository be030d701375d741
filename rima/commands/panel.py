"""`rima panel DATA --model model.json`: score later rounds on the baseline scale."""

import click

from rima.commands._input import input_options
from rima.commands.analysis_support import (
    add_to_report,
    format_option,
    model_path_or_report,
    out_option,
    read_soums,
    report_dir_checked,
    report_option,
    soums_option,
)


@click.command("panel")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="Saved baseline model (model.json; default with --report and no --spec: "
                   "DIR/model.json).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), default=None,
              help="Instead of --model: fit this spec on the baseline round.")
@soums_option
@click.option("--round-col", default="round", show_default=True, help="Round column of DATA.")
@click.option("--baseline", type=int, default=None, help="Baseline round (default: the first).")
@click.option("--outcome", default="fcs", show_default=True, help="Food-security column.")
@click.option("--loss-line", type=float, default=None, help="Loss = outcome below this (default 35).")
@click.option("--drop", type=float, default=None, help="Loss = a fall of at least this much.")
@out_option
@input_options
@format_option
@report_option
def command(data, model_path, spec_path, soums_path, round_col, baseline, outcome, loss_line,
            drop, out_dir, fmt, report_dir):
    """Score every round of DATA with the baseline model (same scale, never refit).

    Prints RCI change by profile, the class transition matrix and whether baseline RCI
    predicts next-round food security, a loss and recovery (weighted, soum-clustered).
    """
    from rima.analysis.panel import panel
    from rima.commands._input import read_input
    from rima.errors import RimaInputError
    from rima.io import refuse_overwrite_in

    refuse_overwrite_in(out_dir, ("panel_*",), [data, model_path, spec_path, soums_path])
    report_dir_checked(report_dir)
    if spec_path is None:
        model_path = model_path_or_report(model_path, report_dir, required=False)
    if (model_path is None) == (spec_path is None):
        raise click.UsageError("give exactly one of --model and --spec")
    df = read_input(data)
    if round_col not in df.columns:
        raise RimaInputError(f"{data}: no {round_col!r} column; a panel needs the survey round")
    if model_path:
        from rima.model_file import load

        model = load(model_path)
    else:
        from rima.result import fit

        b = baseline if baseline is not None else min(df[round_col].dropna().unique())
        model = fit(df[df[round_col] == b].reset_index(drop=True), spec_path).model
    p = panel(model, df, round_col=round_col, baseline=baseline,
              soums=read_soums(soums_path, None), outcome=outcome, loss_line=loss_line, drop=drop)
    click.echo(p.summary())
    click.echo("\nChange in food security since the baseline, by shock and baseline RCI")
    click.echo(p.shocks().summary())
    if out_dir:
        paths = p.write(out_dir, fmt)
        click.echo("\nwritten: " + ", ".join(str(q) for q in paths.values()))
    add_to_report(report_dir, model, panel=p)
