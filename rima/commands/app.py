"""`rima app`: the analysis in a browser (upload, map variables, fit, results, downloads)."""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click


@click.command("app")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Without a token only a loopback address is allowed.")
@click.option("--port", default=8050, show_default=True, type=click.IntRange(0, 65535),
              help="Port; 0 picks a free one (the start-up log line says which).")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="File whose first line is the access token analysts sign in with.")
@click.option("--token-env", default="RIMA_APP_TOKEN", show_default=True, metavar="VAR",
              help="Environment variable holding the token (when no --token-file).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Where uploads and results live, one private folder per analyst "
                   "[default: a new temporary directory].")
@click.option("--max-upload-mb", default=200.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Largest uploaded file.")
@click.option("--max-workspace-mb", default=1024.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Disk space of one analyst's files and results; an upload that would "
                   "pass it is refused, and so is a run once it is full.")
@click.option("--keep-hours", default=24.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Hours after which an analyst's files and results are deleted.")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(min=1),
              help="Fits and analyses running at once; more wait in order.")
@click.option("--model", "models", multiple=True, metavar="[NAME=]PATH",
              help="Also serve this saved model's scoring API under /service (as `rima serve`).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def command(host, port, token_file, token_env, data_dir, max_upload_mb, max_workspace_mb,
            keep_hours, jobs, models, log_level):
    """Serve the RIMA-II analysis as web pages.

    Analysts upload a survey (CSV/TSV, Stata, SPSS, Excel, Parquet), map its columns to
    the pillars starting from `rima init`'s guesses, run the fit (and the bootstrap) and
    download scores, tables, model, spec and report. Same security rules as `rima serve`:
    a token, or a loopback address only; size limits; JSON logs without household data.
    """
    try:
        import uvicorn

        from rima.app import AppSettings, create_app
    except ImportError as exc:
        raise click.ClickException(
            "the app needs the optional 'serve' extra (FastAPI and uvicorn): "
            f"pip install 'rima[serve]' ({exc})") from None
    from rima.commands.serve import (
        bind_socket,
        configure_logging,
        is_loopback,
        model_names,
        read_token,
    )

    token = read_token(token_file, token_env)
    if token is None and not is_loopback(host):
        raise click.UsageError(
            f"refusing to serve on {host} without a token: use --token-file or "
            f"{token_env}, or bind a loopback address (127.0.0.1, ::1)")
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="rima-app-"))
    settings = AppSettings(data_dir=root, token=token,
                           max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                           max_workspace_bytes=int(max_workspace_mb * 1024 * 1024),
                           retention=keep_hours * 3600.0, max_jobs=jobs)
    configure_logging(log_level)
    loaded = None
    if models:
        import rima

        loaded = {name: rima.load(path) for name, path in model_names(models).items()}
    app = create_app(settings, loaded)
    sock = bind_socket(host, port)
    logging.getLogger("rima.service").info(json.dumps({
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": "listening",
        "app": True, "host": host, "port": sock.getsockname()[1], "auth": token is not None,
        "max_upload_bytes": settings.max_upload_bytes,
        "max_workspace_bytes": settings.max_workspace_bytes, "keep_hours": keep_hours,
        "jobs": jobs, "service": sorted(loaded) if loaded else [],
    }, separators=(",", ":")))
    config = uvicorn.Config(app, log_config=None, access_log=False, log_level=log_level,
                            server_header=False, timeout_keep_alive=5,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
