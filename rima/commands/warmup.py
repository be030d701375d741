"""`rima warmup`: compile and cache every numba kernel now."""

import click


@click.command("warmup")
def command():
    """Compile every numerical kernel now and cache it (e.g. in a container build), so no
    later run pays the compilation. The cache is NUMBA_CACHE_DIR when set, else
    rima/_kernels/__pycache__; set NUMBA_CACHE_DIR to the same directory at run time."""
    from rima.warmup import warmup

    info = warmup(echo=lambda s: click.echo(f"[warmup] {s}", err=True))
    click.echo(f"kernels compiled and cached in {info['cache']} ({info['seconds']:.1f} s)")
