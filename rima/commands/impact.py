"""`rima impact DATA --treatment topup`: did the transfer protect households through the dzud?"""

import click

from rima.commands.analysis_support import (
    format_option,
    model_path_or_report,
    out_option,
    read_soums,
    report_dir_checked,
    report_option,
    soums_option,
)


def _names(text):
    return [s.strip() for s in text.split(",") if s.strip()] if text else []


@click.command("impact")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="Saved baseline model (model.json): RCI outcomes, baseline pillars as "
                   "covariates, resilience classes (default with --report: DIR/model.json).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), default=None,
              help="Instead of --model: fit this spec on the baseline round.")
@click.option("--no-model", is_flag=True,
              help="Raw outcomes only (no RCI, classes or responsiveness table).")
@soums_option
@click.option("--outcome", "outcomes", default="fcs", show_default=True,
              help="Outcome column(s), comma-separated; RCI, RCI_100 and the pillars are the "
                   "baseline model's scores of each round.")
@click.option("--treatment", default=None, help="0/1 household column: received the transfer.")
@click.option("--pilot-soums", default=None,
              help="Instead of --treatment: comma-separated soums whose households are treated.")
@click.option("--treated-from", type=int, default=None,
              help="First round after the transfer (default: first round with treatment 1, "
                   "else the last round).")
@click.option("--baseline", type=int, default=None,
              help="Round the change is measured from (default: the last round before).")
@click.option("--covariates", default=None,
              help="Baseline covariates of the doubly robust DiD besides the model's pillars.")
@click.option("--randomised", is_flag=True,
              help="The transfer was randomised: the plain DiD is the headline.")
@click.option("--weight", "weight", default=None,
              help="Survey weight column (default: the model spec's weight).")
@click.option("--round-col", default="round", show_default=True, help="Round column of DATA.")
@click.option("--n-boot", type=click.IntRange(min=0), default=9999, show_default=True,
              help="Wild cluster bootstrap replicates (0 = none).")
@click.option("--boot-weights", type=click.Choice(["webb", "rademacher"]), default="webb",
              show_default=True, help="Cluster weights of the wild bootstrap.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--level", type=float, default=0.95, show_default=True, help="Confidence level.")
@click.option("--benefit", type=float, default=None,
              help="Transfer per household (MNT): cost per low-resilience household reached.")
@click.option("--dzud-classes", default="dzud", show_default=True,
              help="Soum dzud classes (post-transfer winter) that count as dzud soums.")
@out_option
@format_option
@report_option
def command(data, model_path, spec_path, no_model, soums_path, outcomes, treatment, pilot_soums,
            treated_from, baseline, covariates, randomised, weight, round_col, n_boot,
            boot_weights, seed, level, benefit, dzud_classes, out_dir, fmt, report_dir):
    """Effect of a transfer (e.g. the Child Money top-up) on a household panel.

    Prints the doubly robust DiD (headline unless --randomised), the two-way fixed-effects
    DiD with wild cluster bootstrap p-values and intervals, the naive post comparison, the
    event study and pre-trend test (two or more rounds before the transfer), effects by
    baseline resilience class and dzud, and how well the transfer reached low-resilience
    households in dzud soums. Clusters are soums; their numbers are printed.
    """
    from rima.analysis.impact import impact
    from rima.errors import RimaInputError
    from rima.io import read_table, refuse_overwrite_in

    refuse_overwrite_in(out_dir, ("impact_*",), [data, model_path, spec_path, soums_path])

    if (treatment is None) == (pilot_soums is None):
        raise click.UsageError("give exactly one of --treatment and --pilot-soums")
    report_dir_checked(report_dir)
    if no_model and (model_path or spec_path):
        raise click.UsageError("--no-model excludes --model and --spec")
    if not no_model and spec_path is None:
        model_path = model_path_or_report(model_path, report_dir, required=False)
    if not no_model and (model_path is None) == (spec_path is None):
        raise click.UsageError("give exactly one of --model, --spec and --no-model")
    if report_dir and no_model:
        raise click.UsageError("--report needs the model the report shows")
    if not 0 < level < 1:
        raise click.BadParameter("must be between 0 and 1", param_hint="--level")
    df = read_table(data)
    if round_col not in df.columns:
        raise RimaInputError(f"{data}: no {round_col!r} column; an impact evaluation needs "
                             "the survey round")
    model = None
    if model_path:
        from rima.model_file import load

        model = load(model_path)
    elif spec_path:
        from rima.result import fit

        rounds = sorted(df[round_col].dropna().unique().tolist())
        start = treated_from
        if start is None:
            treated = (df[treatment] == 1) if treatment in df.columns else None
            start = (min(df.loc[treated, round_col]) if treated is not None and treated.any()
                     and not treated.groupby(df[round_col]).all().all() else rounds[-1])
        b = baseline if baseline is not None else max([r for r in rounds if r < start] or rounds[:1])
        model = fit(df[df[round_col] == b].reset_index(drop=True), spec_path).model
        click.echo(f"fitted the spec on round {b} ({int((df[round_col] == b).sum())} rows)")
    res = impact(model, df, outcomes=_names(outcomes), treatment=treatment,
                 pilot_soums=_names(pilot_soums) if pilot_soums else None,
                 treated_from=treated_from, baseline=baseline,
                 covariates=_names(covariates) if covariates else None,
                 soums=read_soums(soums_path, None), randomised=randomised,
                 weight=weight if weight else ("spec" if model is not None else None),
                 round_col=round_col, n_boot=n_boot, bootstrap_weights=boot_weights,
                 seed=seed, level=level, benefit=benefit, dzud_classes=_names(dzud_classes))
    click.echo(res.summary())
    if out_dir:
        paths = res.write(out_dir, fmt)
        click.echo("\nwritten: " + ", ".join(str(q) for q in paths.values()))
    if report_dir:
        from pathlib import Path

        from rima.analysis.impact_report import section
        from rima.report.sections import add_sections

        out = report_dir_checked(report_dir)
        path = add_sections(out, [section(res, Path(out) / "figures")], model=model)
        click.echo(f"\nreport section added: {path}")
