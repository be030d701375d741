"""The `rima` command line.

Each subcommand lives in its own module `rima.commands.<name>` that defines a click
command called `command`; modules are imported only when their command runs, so
`rima --help` and `rima score` do not pay for what they do not use.
"""

import sys
from importlib import import_module

import click

from rima.errors import RimaInputError, RimaWarning

EXIT_INPUT_ERROR = 3
EXIT_INTERNAL_ERROR = 1

# name -> short help; the module rima.commands.<name> (dashes become underscores)
COMMANDS = {
    "simulate": "Simulate a Zavkhan herder survey with known latent structure.",
    "build": "Build household variables from raw survey modules ([sources], [build]).",
    "init": "Write a commented starter spec guessed from a data file's columns.",
    "validate": "Check a dataset against a model spec; print the data summary and row accounting.",
    "fit": "Fit the RIMA-II model (pillars, MIMIC, RSM) and write scores, tables, model and report.",
    "score": "Score new households with a saved model.",
    "report": "Write the HTML report of a fitted model directory.",
    "demo": "Run the bundled Zavkhan example end to end and print the headline results.",
    "bench": "Benchmark rima against its peers measured in the same run.",
    "shocks": "Regress food security on RCI, household and soum shocks.",
    "panel": "Score later survey rounds with a baseline model and analyse change.",
    "scenario": "What-if changes to input variables applied to a fitted model.",
    "target": "Resilience classes, low-resilience lists and soum early-action ranking.",
    "impact": "Effect of a transfer on a household panel: DiD, doubly robust DiD, reach.",
    "serve": "Serve saved models over HTTP for scoring.",
    "sign": "Sign a saved model with an Ed25519 or HMAC key.",
    "app": "Serve the analysis as web pages for analysts who do not write code.",
    "warmup": "Compile and cache every numerical kernel now (e.g. in a container build).",
}


# commands that run no numerical kernel: no first-run compile notice
QUIET_COMMANDS = {"simulate", "report", "init", "app"}


def _with_compile_notice(callback):
    """The command, preceded (on a first run only) by rima.config's one-line notice that
    the numerical kernels are being compiled; not shown for --help or usage errors."""
    import functools

    @functools.wraps(callback)
    def run(*args, **kwargs):
        from rima.config import compile_notice

        compile_notice()
        return callback(*args, **kwargs)

    run._notice = True
    return run


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(name for name in COMMANDS if _module_exists(name))

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _module_exists(name):
            return None
        cmd = import_module(_module_name(name)).command
        if name not in QUIET_COMMANDS and not getattr(cmd.callback, "_notice", False):
            cmd.callback = _with_compile_notice(cmd.callback)
        return cmd

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_name(name):
    return "rima.commands." + name.replace("-", "_")


def _module_exists(name):
    from importlib.util import find_spec

    return find_spec(_module_name(name)) is not None


def _check_thread_setting(args) -> None:
    """NUMBA_NUM_THREADS must be a whole number of 1 or more: numba otherwise fails as the
    first kernel loads, deep inside a command (--threads, which replaces it, is checked
    by its own option)."""
    import os

    value = os.environ.get("NUMBA_NUM_THREADS")
    if value is None or any(a == "--threads" or a.startswith("--threads=") for a in args):
        return
    if not (value.strip().isdigit() and int(value) >= 1):
        raise click.UsageError(f"NUMBA_NUM_THREADS={value!r}: the kernels' thread count must "
                               "be a whole number of 1 or more; set another, unset it, or "
                               "give --threads N")


def _set_threads(ctx, param, value):
    """--threads N: the pool numba starts is N threads (NUMBA_NUM_THREADS, when numba is
    not loaded yet), and every task uses at most N (rima.config.set_num_threads)."""
    if value is None:
        return None
    import os

    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(value)
    from rima import config

    return config.set_num_threads(value)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rima")
@click.option("--threads", type=click.IntRange(min=1), default=None, callback=_set_threads,
              expose_value=False, is_eager=True,
              help="Threads for the numerical kernels (default: NUMBA_NUM_THREADS or all "
                   "cores). Results do not depend on it.")
def cli():
    """rima: RIMA-II resilience index measurement and analysis.

    Exit status: 0 success, 2 usage error, 3 input error (data, spec, options or model file;
    the message names the culprit), 1 internal error.
    """


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # rima's own warnings are addressed to the analyst: the message alone, not the source
    # line of the library that raised it
    if issubclass(category, RimaWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def main(argv=None):
    if argv is None:  # the console script; callers in Python keep their own warning handling
        import warnings

        global _default_showwarning
        _default_showwarning = warnings.showwarning
        warnings.showwarning = _show_warning
    try:
        _check_thread_setting(sys.argv[1:] if argv is None else argv)
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERNAL_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RimaInputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT_ERROR)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - last resort: say it is our bug, not the user's
        import traceback

        traceback.print_exc()
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL_ERROR)
    sys.exit(0)
