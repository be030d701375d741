"""`rima report DIR`: rebuild report.html and the figures of a `rima fit` directory."""

import click


@click.command("report")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--remove-section", "remove", multiple=True, metavar="KEY",
              help="Drop this analysis section (shocks, scenarios, targeting, panel, ...) "
                   "before rebuilding (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report path as JSON.")
def command(directory, remove, as_json):
    """Write DIR/report.html (self-contained) and DIR/figures/*.png from a fit directory.

    Includes every analysis section added with `rima shocks|scenario|target|panel --report
    DIR` (stored in DIR/report_sections/).
    """
    import json

    from rima.report import load_sections, rebuild, remove_section

    for key in remove:
        remove_section(directory, key, render=False)
    path = rebuild(directory)
    keys = [s["key"] for s in load_sections(directory)]
    if as_json:
        click.echo(json.dumps({"report": str(path), "sections": keys}))
    else:
        click.echo(f"report written to {path}"
                   + (f" (analysis sections: {', '.join(keys)})" if keys else ""))
