"""`rima target DATA --model model.json`: classes, low-resilience lists, soum ranking."""

import click

from rima.commands._input import input_options
from rima.commands.analysis_support import (
    add_to_report,
    float_list,
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


@click.command("target")
@click.argument("data", type=click.Path(dir_okay=False))
@model_option
@soums_option
@round_option
@click.option("--thresholds", default=None,
              help="Increasing cut points on RCI_100, e.g. 33.3,66.7 (default thirds).")
@click.option("--quantiles", default=None,
              help="Cut at weighted quantiles instead, e.g. 0.2,0.5,0.8.")
@click.option("--labels", default=None, help="Class labels, lowest first, e.g. low,medium,high.")
@out_option
@input_options
@format_option
@report_option
def command(data, model_path, soums_path, round_, thresholds, quantiles, labels, out_dir, fmt,
            report_dir):
    """Resilience classes, low-resilience households by soum and the soum ranking.

    Writes households, low_resilience and soum_ranking tables with --out.
    """
    from rima.analysis.targeting import target

    report_dir_checked(report_dir)
    model_path = model_path_or_report(model_path, report_dir)
    from rima.io import refuse_overwrite_in

    refuse_overwrite_in(out_dir, ("households.*", "low_resilience.*", "soum_ranking.*"),
                        [data, model_path, soums_path])
    df = read_data(data, round_)
    res = scored(model_path, df)
    t = target(
        res,
        soums=read_soums(soums_path, round_),
        thresholds=float_list(thresholds, "--thresholds"),
        quantiles=float_list(quantiles, "--quantiles"),
        labels=[s.strip() for s in labels.split(",")] if labels else None,
    )
    click.echo(t.summary())
    if out_dir:
        paths = t.write(out_dir, fmt)
        click.echo("\nwritten: " + ", ".join(str(p) for p in paths.values()))
    add_to_report(report_dir, res.model, target=t)
