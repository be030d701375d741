"""`rima scenario DATA --model model.json`: what-if changes and the sensitivity table."""

import click

from rima.commands._input import input_options
from rima.commands.analysis_support import (
    add_to_report,
    format_option,
    model_path_or_report,
    out_option,
    read_data,
    report_dir_checked,
    report_option,
    round_option,
)


@click.command("scenario")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="Saved model (model.json from `rima fit`; default with --report and no "
                   "--spec: DIR/model.json).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), default=None,
              help="Instead of --model: fit this spec on DATA (needed for --refit).")
@click.option("--refit", "n_refit", default=0, show_default=True, type=click.IntRange(min=0),
              help="With --spec: also refit the model on this many resamples for intervals "
                   "that include model uncertainty.")
@round_option
@click.option("--scenarios", "scenario_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file of [[scenario]] tables.")
@click.option("--change", "changes", multiple=True,
              help="'ACTION VARIABLE key=value ...', e.g. 'enrol social_insurance points=5 "
                   "soums=Ider,Tes' or 'scale hay_reserve_t factor=1.2' (repeatable: one "
                   "scenario of all of them).")
@click.option("--name", default="command line", show_default=True,
              help="Name of the --change scenario.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the random enrolment and the bootstrap.")
@click.option("--boot", "n_boot", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap replicates for the intervals.")
@click.option("--effect", type=click.Choice(["expected", "rescored"]), default="expected",
              show_default=True, help="Carry pillar changes through gamma, or re-score with "
                                      "food security held fixed.")
@click.option("--sensitivity", is_flag=True, help="Also print the one-SD sensitivity table.")
@out_option
@input_options
@format_option
@report_option
def command(data, model_path, spec_path, n_refit, round_, scenario_file, changes, name, seed,
            n_boot, effect, sensitivity, out_dir, fmt, report_dir):
    """Apply what-if changes to DATA and estimate the change in mean RCI_100.

    Overall, by soum and by profile, with stratified bootstrap intervals, and the number of
    households leaving the low-resilience class.
    """
    from rima.analysis.scenario import Scenario, load_scenarios, parse_change, scenario
    from rima.analysis.scenario import sensitivity as sens
    from rima.errors import RimaInputError
    from rima.io import write_table
    from rima.model_file import load

    report_dir_checked(report_dir)
    if spec_path is None:
        model_path = model_path_or_report(model_path, report_dir, required=False)
    scs = load_scenarios(scenario_file) if scenario_file else []
    from rima.io import refuse_overwrite_in

    refuse_overwrite_in(out_dir, ("scenario_*", "sensitivity.*"),
                        [data, model_path, spec_path, scenario_file])
    if changes:
        scs.append(Scenario(name, tuple(parse_change(c) for c in changes)))
    if not scs:
        raise RimaInputError("no scenario: give --scenarios FILE or at least one --change")
    if (model_path is None) == (spec_path is None):
        raise click.UsageError("give exactly one of --model and --spec")
    if n_refit and not spec_path:
        raise click.UsageError("--refit needs --spec (the model is refitted on resamples of DATA)")
    df = read_data(data, round_)
    if spec_path:
        from rima.result import fit

        fitted = fit(df, spec_path)
        model = fitted.model
        res = scenario(fitted, scs, seed=seed, n_boot=n_boot, effect=effect, n_refit=n_refit)
    else:
        model = load(model_path)
        res = scenario(model, scs, df, seed=seed, n_boot=n_boot, effect=effect)
    click.echo(res.summary())
    table = sens(model) if sensitivity or out_dir else None
    if sensitivity:
        click.echo("\nEffect of one standard deviation of each variable on RCI_100")
        cols = ["variable", "pillar", "sd", "pillar_weight", "gamma", "effect_RCI_100"]
        click.echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if out_dir:
        from pathlib import Path

        paths = res.write(out_dir, fmt)
        path = Path(out_dir) / f"sensitivity.{fmt}"
        write_table(table, path)
        click.echo("\nwritten: " + ", ".join(str(p) for p in [*paths.values(), path]))
    add_to_report(report_dir, model, scenario=res)
