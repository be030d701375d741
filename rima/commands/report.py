"""`rima report DIR`: rebuild report.html and the figures of a `rima fit` directory."""

import click


@click.command("report")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report path as JSON.")
def command(directory, as_json):
    """Write DIR/report.html (self-contained) and DIR/figures/*.png from a fit directory."""
    import json

    from rima.report import rebuild

    path = rebuild(directory)
    click.echo(json.dumps({"report": str(path)}) if as_json else f"report written to {path}")
