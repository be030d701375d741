"""The guard around every HTTP request: auth, body-size cap, deadline, access log.

Pure ASGI, outermost of the service's middleware. It caps the body size while it streams
in (413 before the whole body is buffered), puts one deadline on the whole request (408
if the client is still sending, 503 if the work overran) and writes one JSON access-log
line per request: method, route, status, sizes, timing, row count and model name; never a
household id or value.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from datetime import UTC, datetime

import anyio
import anyio.lowlevel
from fastapi.responses import Response

from rima.service.encoding import json_response
from rima.service.errors import BodyTooLarge, error_body
from rima.service.settings import ServiceSettings

ACCESS_LOGGER = "rima.service.access"
# routes anyone may call: liveness probes and the API description carry no data
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs"})


def too_large_response(settings: ServiceSettings) -> Response:
    msg = f"request body over the limit of {settings.max_body_bytes} bytes: split the batch"
    return json_response(413, error_body(413, msg))


class Guard:
    """Auth, body-size cap, request deadline and access log for every HTTP request."""

    def __init__(self, app, settings: ServiceSettings):
        self.app = app
        self.settings = settings
        self.log = logging.getLogger(ACCESS_LOGGER)
        self.token = settings.token.encode() if settings.token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        ctx = {"status": None, "bytes_in": 0, "bytes_out": 0, "body_done": False,
               "stalled": False}
        limit = self.settings.max_body_bytes
        deadline = None  # the request's cancel scope, once it runs

        async def guarded_receive():
            if ctx["body_done"]:
                message = await receive()
            else:
                # a body that stops arriving ends the request at once (408), without
                # holding a job slot until the whole request's deadline
                with anyio.move_on_after(self.settings.body_timeout) as waited:
                    message = await receive()
                if waited.cancelled_caught:
                    ctx["stalled"] = True
                    deadline.deadline = anyio.current_time()
                    await anyio.lowlevel.checkpoint()  # the request scope now ends with TimeoutError
            if message["type"] == "http.request":
                ctx["bytes_in"] += len(message.get("body", b""))
                if ctx["bytes_in"] > limit:
                    raise BodyTooLarge()
                if not message.get("more_body", False):
                    ctx["body_done"] = True
            return message

        async def logged_send(message):
            if message["type"] == "http.response.start":
                ctx["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                ctx["bytes_out"] += len(message.get("body", b""))
            await send(message)

        try:
            early = self._precheck(scope)
            if early is not None:
                await early(scope, receive, logged_send)
            else:
                with anyio.fail_after(self.settings.request_timeout) as deadline:
                    await self.app(scope, guarded_receive, logged_send)
        except TimeoutError:
            if ctx["status"] is None:
                if ctx["body_done"] or _no_body(scope):
                    status, msg = 503, (
                        f"the request did not finish within {self.settings.request_timeout:g} s; "
                        "send fewer households per request or retry later"
                    )
                elif ctx["stalled"]:
                    status, msg = 408, (
                        f"no part of the request body arrived for "
                        f"{self.settings.body_timeout:g} s"
                    )
                else:
                    status, msg = 408, (
                        f"the request body was not received within "
                        f"{self.settings.request_timeout:g} s"
                    )
                await json_response(status, error_body(status, msg), {"connection": "close"})(
                    scope, receive, logged_send
                )
        except BodyTooLarge:
            if ctx["status"] is None:
                await too_large_response(self.settings)(scope, receive, logged_send)
        except Exception as exc:  # noqa: BLE001 - answer 500 in our shape, log without data
            state["error"] = _where(exc)
            if ctx["status"] is None:
                await json_response(500, error_body(500, "internal error; see the server log"))(
                    scope, receive, logged_send
                )
        finally:
            self._log(scope, state, ctx, request_id, start)

    def _precheck(self, scope):
        """An immediate answer (401, 413) or None to go on."""
        headers = dict(scope.get("headers") or [])
        if self.token is not None and scope["path"] not in PUBLIC_PATHS:
            auth = headers.get(b"authorization", b"")
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                reason = "missing" if not auth else "invalid"
                return json_response(
                    401,
                    error_body(401, f"{reason} bearer token: send 'Authorization: Bearer <token>'"),
                    {"www-authenticate": 'Bearer realm="rima"'},
                )
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.settings.max_body_bytes
            except ValueError:
                return json_response(400, error_body(400, "invalid Content-Length header"))
            if too_big:
                return too_large_response(self.settings)
        return None

    def _log(self, scope, state, ctx, request_id, start):
        route = scope.get("route")
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "access",
            "request_id": request_id,
            "method": scope.get("method"),
            # the route template when routed; the raw path (never the query) otherwise
            "path": getattr(route, "path", None) or scope.get("path", "")[:200],
            "model": state.get("model"),
            "status": ctx["status"],
            "duration_ms": round((time.perf_counter() - start) * 1000, 2),
            "bytes_in": ctx["bytes_in"],
            "bytes_out": ctx["bytes_out"],
            "households": state.get("rows"),
            "client": (scope.get("client") or [None])[0],
        }
        if "error" in state:
            entry["error"] = state["error"]
        self.log.info(json.dumps(entry, separators=(",", ":")))


def _no_body(scope) -> bool:
    return scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE")


def _where(exc: BaseException) -> str:
    """Exception type and innermost frame: enough to find the bug, no data values."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    loc = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(exc).__name__}{loc}"
