"""--sheet, --sep and --decimal for every command that reads household data.

The values are kept on the click context, so `read_input` finds them without each command
passing them through; a spec's [data] sheet / sep / decimal are the defaults.
"""

from __future__ import annotations

import click


def _keep(ctx, param, value):
    ctx.meta[f"rima.{param.name}"] = value
    return value


def input_options(f):
    """Decorator adding --sheet, --sep and --decimal (not passed to the callback)."""
    opts = [
        click.option("--sheet", default=None, expose_value=False, callback=_keep,
                     help="Excel worksheet (name or 0-based position); default: the spec's "
                          "[data] sheet, else the first."),
        click.option("--sep", default=None, expose_value=False, callback=_keep,
                     help="CSV separator (default: detected; ';' for Excel files saved in "
                          "locales with a decimal comma)."),
        click.option("--decimal", type=click.Choice([".", ","]), default=None,
                     expose_value=False, callback=_keep,
                     help="CSV decimal mark (default: detected)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def input_settings(spec=None) -> dict:
    """{sheet, sep, decimal} from the command line, else the spec's [data], else None."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    out = {}
    for key in ("sheet", "sep", "decimal"):
        v = meta.get(f"rima.{key}")
        if v is None and spec is not None:
            v = getattr(spec, key, None)
        out[key] = v
    if isinstance(out["sheet"], str) and out["sheet"].isdigit():
        out["sheet"] = int(out["sheet"])
    if out["sep"] == "\\t":
        out["sep"] = "\t"
    if out["sep"] is not None and len(out["sep"]) != 1:
        # as [data] sep: pandas would read a longer one as a pattern, with a warning
        raise click.BadParameter(f"must be one character (\",\", \";\", \"\\t\"), got "
                                 f"{out['sep']!r}", param_hint="--sep")
    return out


def read_input(path, spec=None):
    """`rima.io.read_table` with the command's --sheet / --sep / --decimal."""
    from rima.io import read_table

    return read_table(path, **input_settings(spec))


def _dask_only(ctx, param, value):
    """--scheduler and --workers given without --engine dask would be ignored: refused."""
    if value != param.default and ctx.params.get("engine", "memory") != "dask":
        raise click.BadParameter("applies to --engine dask only (the fit and scoring run in "
                                 "this process otherwise)", param=param)
    return value


def engine_options(engine_help: str):
    """--engine, --scheduler and --workers, shared by the commands that can run on dask."""
    def wrap(f):
        f = click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
                         callback=_dask_only,
                         help="Worker processes of the local cluster.")(f)
        f = click.option("--scheduler", default="local", show_default=True,
                         callback=_dask_only,
                         help="With --engine dask: 'local' (a local cluster of --workers "
                              "processes) or the address of a running dask scheduler "
                              "(tcp://host:8786).")(f)
        # eager: its value is known when --scheduler and --workers are checked
        return click.option("--engine", type=click.Choice(["memory", "dask"]),
                            default="memory", show_default=True, is_eager=True,
                            help=engine_help)(f)
    return wrap
