"""`rima bench`: rima against its peers (np.cov, semopy, the R reference procedure)."""

import click


def parse_sizes(text):
    """"2240,1e5, 1M 10_000_000" -> (2240, 100000, 1000000, 10000000)."""
    out = []
    for tok in str(text).replace(",", " ").split():
        t = tok.strip().lower().replace("_", "")
        mult = 1
        if t[-1:] in ("k", "m"):
            mult = 1_000 if t[-1] == "k" else 1_000_000
            t = t[:-1]
        try:
            v = int(float(t) * mult)
        except ValueError:
            raise click.BadParameter(f"{tok!r} is not a number of households",
                                     param_hint="--sizes") from None
        if v < 50:
            raise click.BadParameter(f"{tok!r}: use at least 50 households",
                                     param_hint="--sizes")
        out.append(v)
    if not out:
        raise click.BadParameter("give at least one size", param_hint="--sizes")
    return tuple(out)


@click.command("bench")
@click.option("--quick", is_flag=True,
              help="Smoke run in seconds: 2,240 households, one repeat, no R/semopy/demo.")
@click.option("--sizes", default=None,
              help="Household counts, e.g. '2240,100000,1M' (default 2,240 / 100,000 / "
                   "1,000,000 / 10,000,000).")
@click.option("--repeat", type=click.IntRange(1, 50), default=None,
              help="Runs per timing; the median is reported (default 3, 1 with --quick).")
@click.option("--boot", "n_boot", type=click.IntRange(2, 100_000), default=1000,
              show_default=True, help="Bootstrap replicates timed at 2,240 households.")
@click.option("--no-r", is_flag=True, help="Do not run the R reference procedure.")
@click.option("--no-demo", is_flag=True, help="Do not time `rima demo` cold and warm.")
@click.option("--busy", type=click.IntRange(0, 256), default=0, show_default=True,
              help="Contention mode: also time the tasks (with --build: the build and the "
                   "pandas sum) beside this many busy-loop processes (e.g. the number of "
                   "cores) and print quiet and busy medians and p90 side by side.")
@click.option("--scaling", is_flag=True,
              help="Also print time against thread count (1, 2, all) for the largest fit, "
                   "its scoring and the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--build", "build_only", is_flag=True,
              help="Benchmark the build instead: every variable of the Zavkhan raw spec from "
                   "5 roster persons and 5 livestock rows per household (default 1,000,000 "
                   "households; --quick 20,000) against pandas groupby().sum() of one roster "
                   "column in the same run.")
@click.option("--engine", type=click.Choice(["memory", "dask"]), default="memory",
              show_default=True,
              help="dask: the partitioned fit on a local cluster against the in-memory fit "
                   "of the same data, with each worker's peak memory.")
@click.option("--households", default="10M", show_default=True,
              help="With --engine dask: households simulated.")
@click.option("--partitions", type=click.IntRange(1), default=40, show_default=True,
              help="With --engine dask: Parquet partitions.")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
              help="With --engine dask: worker processes.")
def command(quick, sizes, repeat, n_boot, no_r, no_demo, busy, scaling, as_json,
            build_only, engine, households, partitions, workers):
    """Time rima's tasks and its peers in the same run; print one table with the ratios.

    Peers: np.cov on the same matrix (the memory-bandwidth floor), semopy for the MIMIC
    model (pip install rima[bench]), and the R reference procedure (psych + lavaan via
    Rscript) when installed; missing peers are skipped with a message.
    """
    def say(msg):
        click.echo(f"[bench] {msg}", err=True)

    if build_only:
        # what the build benchmark does not do is refused, not silently left out
        for given, name in ((engine != "memory", "--engine"), (scaling, "--scaling")):
            if given:
                raise click.UsageError(f"{name} is not an option of the build benchmark "
                                       "(--build); run them separately")
    if engine == "dask":
        import json

        from rima.bench import run_dask

        (n,) = parse_sizes(households)
        r = run_dask(n, partitions, workers, echo=say)
        if as_json:
            click.echo(json.dumps(r, indent=1))
        else:
            click.echo(f"{r['households']:,} households, {r['partitions']} partitions, "
                       f"{r['workers']} worker processes\n"
                       f"  in-memory fit   {r['memory_seconds']:9.1f} s\n"
                       f"  partitioned fit {r['dask_seconds']:9.1f} s "
                       f"({r['dask_seconds'] / r['memory_seconds']:.2f} x; workers "
                       f"warmed up by a {r['dask_warmup_seconds']:.1f} s small fit)\n"
                       f"  max |RCI_100 difference| {r['max_abs_diff_rci_100']:.2e}, "
                       f"max |MIMIC estimate difference| {r['max_abs_diff_mimic_est']:.2e}\n"
                       "  worker peak memory (MiB): "
                       + ", ".join(f"{v:,.0f}" for v in r["worker_peak_rss_mib"]))
        return
    if build_only:
        import json

        from rima.bench_build import format_table
        from rima.bench_build import run as run_build

        df = run_build(sizes=parse_sizes(sizes) if sizes else None,
                       repeat=repeat or (1 if quick else 3), quick=quick, echo=say, busy=busy)
        click.echo(json.dumps({"build": df.to_dict(orient="records")}, indent=1) if as_json
                   else format_table(df))
        return
    from rima.bench import run

    res = run(sizes=parse_sizes(sizes) if sizes else None, repeat=repeat, quick=quick,
              n_boot=n_boot, echo=say, with_r=not no_r, with_demo=not no_demo, busy=busy,
              scaling=scaling)
    click.echo(res.to_json() if as_json else res.format())
