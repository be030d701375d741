"""Connection-level guards against slow and greedy clients (slowloris).

uvicorn times out idle keep-alive connections but not a client that opens a connection
and sends its headers a byte at a time, or never finishes them: enough such sockets fill
the connection limit and every other request, `/health` included, gets 503. The HTTP
protocol here is uvicorn's h11 protocol with two additions:

* a header deadline: the request line and headers must be complete within
  `header_timeout` seconds of the connection opening, or of the first byte of the next
  request on a kept-alive connection; otherwise the connection gets 408 and is closed;
* a per-client limit: one client address holds at most `max_client_connections`
  connections; further ones are answered 503 and closed at once, so one client cannot
  take every slot of `--max-connections`.

The body deadline (`body_timeout`, no body bytes for that long -> 408) is enforced by the
request guard (`rima.service.middleware`), which sees the body arrive.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

# How long a connection refused with 408/503 keeps discarding what the client still sends
# before it is closed. Closing at once while the client's bytes are still arriving makes
# the kernel answer them with a reset, which can destroy the refusal before the client
# reads it (the "lingering close" of HTTP servers).
LINGER_SECONDS = 2.0


def _refusal(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": {"status": status, "message": message, "errors": []}},
                      separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
    return head + body


def guarded_protocol(header_timeout: float, max_client_connections: int):
    """An h11 protocol class for `uvicorn.Config(http=...)` with the header deadline and
    the per-client connection limit; each class keeps its own per-client counts."""
    counts: dict = {}

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._header_timer = None
            self._lingering = False
            self._peer = self.client[0] if self.client else None
            held = counts.get(self._peer, 0)
            if held >= max_client_connections:
                self._peer = None  # not counted
                self._refuse(503, "Service Unavailable",
                            f"too many connections from this client (at most "
                            f"{max_client_connections} at once); reuse or close connections")
                return
            counts[self._peer] = held + 1
            self._arm_header_timer()

        def connection_lost(self, exc):
            self._disarm_header_timer()
            if self._peer is not None:
                left = counts.get(self._peer, 1) - 1
                if left > 0:
                    counts[self._peer] = left
                else:
                    counts.pop(self._peer, None)
                self._peer = None
            super().connection_lost(exc)

        def data_received(self, data):
            if self._lingering:
                return  # refused: what the client still sends is read and dropped
            waiting = self.cycle is None or self.cycle.response_complete
            if waiting and self._header_timer is None:
                # the first byte of a new request on a kept-alive connection
                self._arm_header_timer()
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm_header_timer()  # headers complete: the request runs

        def _arm_header_timer(self):
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm_header_timer(self):
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self):
            self._header_timer = None
            if self.cycle is not None and not self.cycle.response_complete:
                return
            self._refuse(408, "Request Timeout",
                         f"the request headers were not received within {header_timeout:g} s")

        def eof_received(self):
            if self._lingering:
                self.transport.close()  # the client has read the refusal and closed
                return False
            return super().eof_received()

        def _refuse(self, status: int, reason: str, message: str) -> None:
            transport = self.transport
            if transport.is_closing() or self._lingering:
                return
            self._lingering = True
            transport.write(_refusal(status, reason, message))
            if transport.can_write_eof():
                transport.write_eof()  # the answer, then end-of-stream; keep reading
                self.loop.call_later(LINGER_SECONDS, transport.close)
            else:
                transport.close()

    GuardedH11Protocol.client_counts = counts
    return GuardedH11Protocol


def server_config(app, settings, **kw):
    """The uvicorn.Config `rima serve` runs `app` with: the guarded protocol and the
    service's connection limits (`settings`: `ServiceSettings`)."""
    import uvicorn

    protocol = guarded_protocol(settings.header_timeout, settings.max_client_connections)
    return uvicorn.Config(app, http=protocol, log_config=None, access_log=False,
                          server_header=False, timeout_keep_alive=5,
                          limit_concurrency=settings.max_connections,
                          timeout_graceful_shutdown=5, **kw)
