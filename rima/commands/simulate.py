"""`rima simulate`: write a simulated Zavkhan herder survey with its ground truth."""

import click


@click.command("simulate")
@click.option("--n", "n", type=click.IntRange(min=1), default=2240, show_default=True,
              help="Number of households (per round).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Output directory (created if needed).")
@click.option("--panel", is_flag=True, help="Two rounds: after an ordinary and a dzud winter.")
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "parquet", "dta", "xlsx"]),
              default="csv", show_default=True, help="File format of the written tables.")
@click.option("--no-missing", is_flag=True, help="Do not blank out any values.")
@click.option("--pilot", is_flag=True,
              help="With --panel: three rounds and the shock-responsive Child Money top-up in "
                   "5 pilot soums (column topup) with known effects (effects table).")
def command(n, seed, out, panel, fmt, no_missing, pilot):
    """Simulate a Zavkhan herder survey with known latent structure.

    Writes households, soums (the dzud soum table) and truth (latent pillar capacities and
    resilience per household) into OUT.
    """
    from rima.simulation import simulate

    if pilot and not panel:
        raise click.UsageError("--pilot needs --panel")
    survey = simulate(n_households=n, seed=seed, panel=panel, missing=not no_missing,
                      **({"pilot": True} if pilot else {}))
    paths = survey.write(out, fmt=fmt)
    n_rounds = len(survey.rounds)
    click.echo(f"simulated {n} households{f' x {n_rounds} rounds' if panel else ''} (seed {seed})")
    for name, path in paths.items():
        click.echo(f"  {name:<10} {path}  ({len(getattr(survey, name))} rows)")
