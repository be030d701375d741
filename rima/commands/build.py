"""`rima build SPEC --out FILE`: household variables from the raw survey modules."""

import click


@click.command("build")
@click.argument("spec_path", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="Built household table; the format follows the extension (.csv, "
                   ".parquet, .dta, .tsv). The report and issue list go beside it.")
@click.option("--source", "sources", multiple=True, metavar="NAME=PATH",
              help="Use this file for source NAME instead of the spec's (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def command(spec_path, out_path, sources, as_json):
    """Build the spec's [build.<variable>] recipes from its [sources].

    Writes FILE (the household table with the built variables), FILE_build_report (one
    row per household: id, build_status and the status of each built variable) and
    FILE_build_issues (every bad case by module, column, household id and source row).
    Households with a bad value are kept, with the value missing and the reason given.
    """
    import json

    from rima.build.run import build_for_spec, parse_sources, report_paths, write_build
    from rima.errors import SpecError
    from rima.io import refuse_overwrite
    from rima.spec import load_spec

    spec = load_spec(spec_path)
    if spec.build is None:
        raise SpecError(f"{spec_path}: no [sources] and [build] tables to build from")
    # the table, its report and its issue list never replace the spec or a module
    given = parse_sources(sources)
    refuse_overwrite([out_path, *report_paths(out_path)],
                     [spec_path, *(s.path for s in spec.build.sources.values()),
                      *given.values()])
    _, _, result = build_for_spec(spec, None, parse_sources(sources))
    out, report, issues = write_build(result, out_path)
    if as_json:
        info = {"households": len(result.table), "all_ok": int(result.ok.sum()),
                "variables": result.counts().to_dict(orient="records"),
                "issues": len(result.issues),
                "issues_by_status": {str(k): int(v) for k, v in
                                     result.issues["status"].value_counts().items()},
                "out": str(out), "report": str(report), "issues_file": str(issues)}
        click.echo(json.dumps(info, indent=1))
    else:
        click.echo(result.summary())
        click.echo(f"\nbuilt table written to {out}\nper-household report: {report}\n"
                   f"issues: {issues}")
