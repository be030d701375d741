"""`rima demo`: the bundled Zavkhan example end to end."""

import click

from rima.example import EXAMPLE_SEED, example_dir


def _stopping(helper, fn, *args, **kwargs):
    """fn(*args, **kwargs), stopping the background compile if it raises."""
    from rima import precompile

    try:
        return fn(*args, **kwargs)
    except BaseException:
        precompile.stop(helper)
        raise


def run_demo(echo=click.echo, out=None, progress=None, background=False):
    """Build the bundled example's household variables from its raw survey modules,
    validate them and print the build and data summaries (`progress(step)` hears the
    build start: on a first run it compiles the build's kernels). With `background`, on a
    cold kernel cache a second process compiles the MIMIC's kernels meanwhile
    (`rima.precompile`; `ctx["helper"]`, which `run_pipeline` stops).

    Returns a dict of what it produced so later stages (fit, report) can extend it. If the
    example files are not available (installed without the source tree), the same
    households and modules are simulated with the example's seed.
    """
    import tomllib

    from rima import precompile
    from rima.build.run import build_for_spec
    from rima.io import read_table
    from rima.simulation_raw import raw_spec_text
    from rima.spec import load_spec
    from rima.validation import validate

    d = example_dir()
    raw_spec = d / "spec_raw.toml"
    if progress is not None:
        progress("building the household variables from the raw survey modules")
    if raw_spec.exists() and (d / "raw").is_dir():
        spec = load_spec(raw_spec)
        helper = precompile.start(spec) if background else None
        df, spec, built = _stopping(helper, build_for_spec, spec)
        source = f"{d / 'raw'} (built by {raw_spec.name})"
    else:
        from rima.simulation import simulate

        survey = simulate(n_households=2240, seed=EXAMPLE_SEED)
        spec = load_spec(tomllib.loads(raw_spec_text()))
        helper = precompile.start(spec) if background else None
        df, spec, built = _stopping(helper, build_for_spec, spec, None, survey.raw())
        source = f"simulated Zavkhan survey (seed {EXAMPLE_SEED}), built from its raw modules"
    echo(built.summary() + "\n")
    report = _stopping(helper, validate, df, spec, source=source)
    echo(report.format(max_rows_listed=5))
    if report.errors:
        precompile.stop(helper)
    report.raise_if_errors()
    soums = read_table(d / "soums.csv") if (d / "soums.csv").exists() else None
    if soums is not None:
        counts = soums["dzud_class"].value_counts()
        echo(
            f"\nDzud winter: {counts.get('dzud', 0)} soums dzud, "
            f"{counts.get('dzud-like', 0)} dzud-like, {counts.get('none', 0)} none; "
            f"median household loss {100 * df['loss_share'].median():.1f} % of sheep units"
        )
    return {"data": df, "spec": spec, "report": report, "source": source, "soums": soums,
            "build": built, "helper": helper}


def run_pipeline(ctx, echo=click.echo, out=None, progress=None):
    """Fit the RIMA-II model on the demo data and print the headline results."""
    from rima import precompile
    from rima.pipeline import MIMIC_STEP
    from rima.result import fit

    helper = ctx.get("helper")

    def step(name):
        if name == MIMIC_STEP:
            precompile.wait(helper)
        if progress is not None:
            progress(name)

    try:
        result = fit(ctx["data"], ctx["spec"], progress=step if helper else progress)
    finally:
        precompile.stop(helper)
    s = result.scores
    ok = s["status"] == "ok"
    echo("\nRIMA-II on the Zavkhan example")
    echo(f"  households scored: {int(ok.sum())} of {len(s)}")
    echo("  factors retained: " + ", ".join(f"{p} {pr.n_factors}"
                                            for p, pr in result.pillars.items()))
    fm = result.mimic.fit_measures
    echo(f"  MIMIC fit: chi-square {fm['chisq']:.2f} (df {int(fm['df'])}), CFI {fm['cfi']:.3f}, "
         f"RMSEA {fm['rmsea']:.3f}")
    echo("  RSM (share of RCI): " + ", ".join(
        f"{r.pillar} {r.share:.1f} % (r {r.r_signed:+.2f})" for r in result.rsm.itertuples()))
    echo(f"  {result.mean_rci_100_label}: {result.mean_rci_100:.1f}")
    for var, tab in result.profiles.items():
        if len(tab) <= 6:
            echo(f"  by {var}: " + ", ".join(
                f"{r.category} {r.mean_RCI_100:.1f} [{r.ci_lower:.1f}, {r.ci_upper:.1f}]"
                for r in tab.itertuples()))
        else:
            lo, hi = tab.iloc[tab["mean_RCI_100"].argmin()], tab.iloc[tab["mean_RCI_100"].argmax()]
            echo(f"  by {var}: lowest {lo.category} {lo.mean_RCI_100:.1f}, highest "
                 f"{hi.category} {hi.mean_RCI_100:.1f} ({len(tab)} groups)")
    if out is not None:
        path = result.save(out)
        echo(f"  outputs and report.html written to {path}")
    ctx["result"] = result
    return ctx


@click.command("demo")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Also write scores, model.json and report.html to this directory.")
def command(out_dir):
    """Run the bundled Zavkhan example and print the headline results."""
    from contextlib import nullcontext

    from rima.commands._progress import Progress
    from rima.io import output_dir
    from rima.report.figures import workers_started

    with output_dir(out_dir) if out_dir is not None else nullcontext(), \
            workers_started() if out_dir is not None else nullcontext():
        progress = Progress()
        run_pipeline(run_demo(progress=progress, background=True), out=out_dir,
                     progress=progress)
