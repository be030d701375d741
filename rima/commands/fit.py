"""`rima fit DATA --spec SPEC --out DIR`: the RIMA-II analysis, written to a directory."""

import time

import click

from rima.commands._input import engine_options, input_options, input_settings


def headline(result) -> dict:
    """The numbers people look at first, as plain JSON-ready values."""
    s = result.scores
    ok = s["status"] == "ok"
    fm = result.mimic.fit_measures
    return {
        "households": len(s), "scored": int(ok.sum()),
        "factors": {p: int(pr.n_factors) for p, pr in result.pillars.items()},
        "rsm": {r.pillar: float(r.share) for r in result.rsm.itertuples()},
        # the share drops the sign: a negative value pulls the RCI down as the pillar rises
        "rsm_signed": {r.pillar: float(r.r_signed) for r in result.rsm.itertuples()},
        "mimic": {k: float(fm[k]) for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea",
                                            "srmr") if k in fm},
        "coefficients": {r.rhs: float(r.est) for r in result.mimic.params.itertuples()
                         if r.op == "~"},
        "rci_100_mean": float(result.mean_rci_100),
        "rci_100_mean_weight": result.weight_column,
        "accounting": {r.status: int(r.rows) for r in result.accounting.itertuples()},
    }


# what `rima fit --out DIR` writes into DIR (RimaResult.save, the report, --format)
FIT_OUTPUTS = ("scores.*", "rsm.*", "mimic.*", "profile_*", "model.json", "report.html",
               "report_data.json", "bootstrap_*", "figures/*", "households_built*")


@click.command("fit")
@click.argument("data", type=click.Path(), required=False)
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), required=True,
              help="Model spec (TOML).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output directory (created if needed).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "dta", "xlsx"]),
              default="csv", show_default=True,
              help="Also write every table (scores, rsm, mimic, profiles, bootstrap) in this "
                   "format; the CSV files are always written.")
@click.option("--no-report", is_flag=True, help="Skip report.html and the figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the headline results as JSON.")
@click.option("--quiet", is_flag=True, help="No progress messages on stderr.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(0, 1_000_000), default=0,
              show_default=True,
              help="Bootstrap replicates for percentile intervals of the RSM shares, MIMIC "
                   "parameters and mean RCI_100 by profile (0: none).")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="Bootstrap seed (default: the spec's options.seed).")
@engine_options("dask: DATA is a directory or glob of Parquet/CSV partitions, fitted on a "
                "dask cluster; scores and row status are written per partition.")
@input_options
def command(data, spec_path, out_dir, fmt, no_report, as_json, quiet, n_boot, seed, engine,
            scheduler, workers):
    """Fit the RIMA-II model to DATA and write scores, RSM, MIMIC table, model and report.

    With a spec holding [sources] and [build], the household variables are built from the
    raw modules first (DATA, if given, replaces the household table) and written as
    households_built.<format> with its _build_report and _build_issues tables; the saved
    model keeps the recipes and their learned constants.

    Writes scores.csv (id, pillars, RCI, RCI_100, status for every input row), rsm.csv,
    mimic.csv, profile_<var>.csv, model.json and report.html with figures/; with
    --bootstrap N also bootstrap_rsm.csv, bootstrap_mimic.csv, bootstrap_overall.csv and
    bootstrap_profile_<var>.csv (percentile intervals).
    """
    import json
    from contextlib import nullcontext

    from rima.commands._build import prepare
    from rima.commands._progress import Progress
    from rima.io import output_dir, refuse_overwrite_in
    from rima.report.figures import workers_started
    from rima.result import fit
    from rima.spec import load_spec

    spec = load_spec(spec_path)
    # the raw modules a spec builds from are inputs too
    modules = [m.path for m in spec.build.sources.values()] if spec.build is not None else []
    refuse_overwrite_in(out_dir, FIT_OUTPUTS, [data, spec_path, *modules])
    # an unwritable --out is an input error before the fit, not after; a folder made
    # for a fit that fails is removed again
    with output_dir(out_dir):
        say = Progress(quiet)
        if engine == "dask":
            if data is None:
                raise click.UsageError("DATA (a directory or glob of partitions) is required "
                                       "with --engine dask")
            _fit_dask(data, spec, out_dir, as_json, say, n_boot, scheduler, workers)
            return
        data, spec, built = prepare(data, spec, say)  # the spec read once, above
        started = time.time()
        with nullcontext() if no_report else workers_started():
            result = fit(data, spec, progress=say, **input_settings())
            if n_boot:
                say(f"bootstrap ({n_boot} replicates)")
                result.bootstrap(n_boot=n_boot, seed=seed, progress=not quiet)
            say("writing outputs" + ("" if no_report else " and the report"))
            out = result.save(out_dir, report=not no_report, formats=("csv", fmt))
        if built is not None:
            from rima.build.run import write_build

            write_build(built, out / f"households_built.{fmt}")
        _say_earlier_outputs(out, started)
        say("done")
        if as_json:
            info = {"out": str(out), **headline(result)}
            if result.bootstrap_result is not None:
                info["bootstrap"] = result.bootstrap_result.headline()
            if built is not None:
                info["build"] = {"households": len(built.table), "all_ok": int(built.ok.sum()),
                                 "issues": len(built.issues)}
            click.echo(json.dumps(info, indent=1))
        else:
            if built is not None:
                click.echo(built.summary() + "\n")
            click.echo(result.summary())
            click.echo(f"\noutputs written to {out}")


def _say_earlier_outputs(out, started) -> None:
    """Name the files of an earlier fit left in `out` that this one did not write (a
    report.html after --no-report, scores.xlsx after --format parquet): they describe
    another fit, and are not removed, as they may be wanted."""
    from pathlib import Path

    old = sorted(str(p.relative_to(out)) for pat in FIT_OUTPUTS for p in Path(out).glob(pat)
                 if p.is_file() and p.stat().st_mtime < started)
    if old:
        shown = ", ".join(old[:8]) + (f" and {len(old) - 8} more" if len(old) > 8 else "")
        click.echo(f"note: {out} still holds files of an earlier run that this fit did not "
                   f"write: {shown}", err=True)


def _fit_dask(data, spec, out_dir, as_json, say, n_boot, scheduler, workers):
    import json

    from rima.scale_out import check_options, cluster, fit_dask

    check_options(spec)  # before any cluster starts
    if spec.build is not None:
        # the build's learned constants (the asset index weights, winsorising cut points)
        # come from all households at once; partitions cannot learn them
        raise click.UsageError("--engine dask fits partitions that already hold the "
                               "household variables; this spec builds them from raw modules "
                               "([build]): run `rima build` first and fit its output, or fit "
                               "in memory")
    if n_boot:
        raise click.BadParameter("the bootstrap is not yet available with --engine dask",
                                 param_hint="--bootstrap")
    with cluster(scheduler, workers):
        result = fit_dask(data, spec, out=out_dir, progress=say)
    out = result.save()
    say("done")
    if as_json:
        info = {"out": str(out), "households": result.n_rows,
                "partitions": len(result.partitions),
                "rsm": {r.pillar: float(r.share) for r in result.rsm.itertuples()},
        # the share drops the sign: a negative value pulls the RCI down as the pillar rises
        "rsm_signed": {r.pillar: float(r.r_signed) for r in result.rsm.itertuples()},
                "accounting": {r.status: int(r.rows) for r in result.accounting.itertuples()}}
        click.echo(json.dumps(info, indent=1))
    else:
        click.echo(result.summary())
        click.echo(f"\noutputs written to {out}")
