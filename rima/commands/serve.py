"""`rima serve --model [NAME=]PATH ...`: serve saved models over HTTP (FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

MIN_TOKEN_LENGTH = 16
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@click.command("serve")
@click.option("--model", "models", multiple=True, required=True, metavar="[NAME=]PATH",
              help="Saved model (model.json from `rima fit`); repeat for several. The name in "
                   "URLs is NAME, else the file stem, or the directory name for model.json.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Without a token only a loopback address is allowed.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port; 0 picks a free one (the start-up log line says which).")
@click.option("--token-env", default="RIMA_SERVE_TOKEN", show_default=True, metavar="VAR",
              help="Environment variable holding the bearer token; auth is on when it is set.")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="File whose first line is the bearer token (takes precedence over VAR).")
@click.option("--max-body-mb", default=16.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Largest request body; bigger ones get 413.")
@click.option("--max-rows", default=20_000, show_default=True, type=click.IntRange(min=1),
              help="Most households per request; more get 413.")
@click.option("--timeout", "timeout", default=30.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds for a whole request (408 slow upload, 503 slow work).")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(min=1),
              help="Scoring jobs run at once; further requests wait within their timeout.")
@click.option("--max-groups", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Most groups (soums) in one aggregate request.")
@click.option("--max-connections", default=64, show_default=True, type=click.IntRange(min=1),
              help="Concurrent connections; more get 503.")
@click.option("--max-client-connections", default=16, show_default=True,
              type=click.IntRange(min=1),
              help="Concurrent connections from one client address; more get 503.")
@click.option("--header-timeout", default=10.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds for a request's headers to arrive; slower ones get 408.")
@click.option("--body-timeout", default=10.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Longest pause in a request body; a longer one gets 408.")
@click.option("--trusted-key", "trusted_keys", multiple=True,
              type=click.Path(dir_okay=False, exists=True),
              help="Serve only models signed by this key (Ed25519 public key or HMAC secret; "
                   "repeat for several). See `rima sign`.")
@click.option("--thresholds", default=None, metavar="T1,T2",
              help="Resilience-class cut points on RCI_100 [default: 33.333,66.667].")
@click.option("--class-labels", default=None, metavar="L1,L2,L3",
              help="Class labels, lowest first [default: low,medium,high].")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def command(models, host, port, token_env, token_file, max_body_mb, max_rows, timeout, jobs,
            max_groups, max_connections, max_client_connections, header_timeout, body_timeout,
            trusted_keys, thresholds, class_labels, log_level):
    """Serve saved models over HTTP for scoring.

    Endpoints: GET /health, GET /models, GET /models/{name}, POST /models/{name}/score,
    POST /models/{name}/aggregate; API description at /docs and /openapi.json. Model files
    are read and checksum-verified once, at start; requests never touch the file system.
    One JSON access-log line per request goes to stderr, without household data.
    """
    try:
        import uvicorn

        from rima import service
    except ImportError as exc:
        raise click.ClickException(
            "the HTTP service needs the optional 'serve' extra (FastAPI and uvicorn): "
            f"pip install 'rima[serve]' ({exc})"
        ) from None
    import rima
    from rima.classes import DEFAULT_LABELS, DEFAULT_THRESHOLDS, ClassScheme

    token = read_token(token_file, token_env)
    if token is None and not is_loopback(host):
        raise click.UsageError(
            f"refusing to serve on {host} without authentication: set a bearer token with "
            f"{token_env} or --token-file, or bind a loopback address (127.0.0.1, ::1)"
        )
    named = model_names(models)
    scheme = ClassScheme(
        _floats(thresholds, "--thresholds") if thresholds else DEFAULT_THRESHOLDS,
        tuple(x.strip() for x in class_labels.split(",")) if class_labels else DEFAULT_LABELS,
    )
    settings = service.ServiceSettings(
        token=token, max_body_bytes=int(max_body_mb * 1024 * 1024), max_rows=max_rows,
        request_timeout=timeout, max_concurrent_jobs=jobs, max_groups=max_groups, classes=scheme,
        header_timeout=header_timeout, body_timeout=body_timeout,
        max_connections=max_connections, max_client_connections=max_client_connections,
    )
    configure_logging(log_level)
    # rima.load verifies each file's checksum; a bad file stops the start (exit 3)
    loaded = {name: rima.load(path, trusted_keys=trusted_keys or None)
              for name, path in named.items()}
    app = service.create_app(loaded, settings)

    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    logging.getLogger("rima.service").info(json.dumps({
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": "listening", "host": host, "port": bound_port,
        "models": {name: str(path) for name, path in named.items()},
        "auth": token is not None, "max_body_bytes": settings.max_body_bytes,
        "max_rows": max_rows, "timeout_s": timeout, "jobs": jobs,
        "header_timeout_s": header_timeout, "body_timeout_s": body_timeout,
        "signed_by": {name: m.signed_by for name, m in loaded.items()} if trusted_keys else None,
    }, separators=(",", ":")))
    from rima.service.connections import server_config

    uvicorn.Server(server_config(app, settings, log_level=log_level)).run(sockets=[sock])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(token_file, token_env) -> str | None:
    if token_file:
        lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        token = lines[0].strip() if lines else ""
        where = f"--token-file {token_file}"
    else:
        token = os.environ.get(token_env, "").strip()
        if not token:
            return None
        where = f"${token_env}"
    if len(token) < MIN_TOKEN_LENGTH:
        raise click.UsageError(
            f"the token in {where} is {len(token)} characters; use at least "
            f"{MIN_TOKEN_LENGTH} (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def model_names(models) -> dict[str, Path]:
    named: dict[str, Path] = {}
    for item in models:
        name, sep, rest = item.partition("=")
        if sep and _NAME.match(name) and rest:
            path = Path(rest)
        else:
            path = Path(item)
            name = path.parent.name if path.stem == "model" and path.parent.name else path.stem
        if not _NAME.match(name):
            raise click.UsageError(
                f"--model {item}: model name {name!r} must be letters, digits, '_', '.', '-'; "
                "give one with NAME=PATH"
            )
        if name in named:
            raise click.UsageError(
                f"two models are named {name!r} ({named[name]} and {path}); name them with "
                "--model NAME=PATH"
            )
        named[name] = path
    return named


def _floats(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected numbers separated by commas",
                                 param_hint=option) from None


def bind_socket(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _JsonLines(logging.Formatter):
    """Access and event records are JSON already; wrap anything else (uvicorn's) in JSON."""

    def format(self, record):
        msg = record.getMessage()
        if record.name.startswith("rima.service"):
            return msg
        return json.dumps({
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "event": "log", "level": record.levelname.lower(), "logger": record.name,
            "message": msg,
        }, separators=(",", ":"))


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    for name in ("rima.service", "uvicorn", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(level.upper())
        log.propagate = False
