"""`rima init DATA`: a commented starter spec guessed from the data's columns."""

import click


@click.command("init")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write the spec here (default: print it).")
@click.option("--sheet", default=None, help="Excel worksheet (name or 0-based position).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def command(data, out_path, sheet, force):
    """Guess a model spec from DATA's column names and write it as commented TOML.

    The spec lists every column with its type, missing count and guessed role (id, weight,
    profiles, pillars ABS/AST/SSN/AC, food-security indicators, negative variables) and
    every [options] key with its default and a one-line help. Check it, then run
    `rima validate DATA --spec SPEC`.
    """
    import os
    import tempfile
    from pathlib import Path

    from rima.errors import RimaInputError
    from rima.io import read_table, refuse_overwrite
    from rima.starter import starter_toml

    # --force replaces an older spec, never the data it is guessed from
    refuse_overwrite([out_path], [data])
    df = read_table(data, sheet=sheet)
    text = starter_toml(df, source=Path(data).name)
    if out_path is None:
        click.echo(text, nl=False)
        return
    out = Path(out_path)
    if out.exists() and not force:
        raise click.UsageError(f"{out} exists; use --force to overwrite it")
    # write next to the target and rename, so a failure never leaves half a spec
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except OSError as exc:
        raise RimaInputError(f"{out}: cannot write the spec: {exc}") from exc
    click.echo(f"starter spec written to {out}; check every guessed role before fitting",
               err=True)
