"""Slow and greedy clients (slowloris) cannot take the service down.

The server runs in this process on 127.0.0.1 with short configured timeouts; clients are
plain loopback sockets. Every wait is for an event (the server's answer or its closing
the connection), bounded by a generous socket timeout, so the tests do not depend on how
fast the machine is.
"""

import json
import select
import socket
import threading
import time

import httpx
import pytest

import rima

pytest.importorskip("uvicorn")

BOUND = 30.0  # upper bound on any wait; a passing run waits far less


@pytest.fixture(scope="module")
def model(example_model_path):
    return rima.load(example_model_path)


class Running:
    def __init__(self, model, **settings):
        import uvicorn

        from rima.service import ServiceSettings, create_app
        from rima.service.connections import server_config

        self.settings = ServiceSettings(**settings)
        app = create_app({"m": model}, self.settings)
        self.config = server_config(app, self.settings, log_level="warning")
        self.server = uvicorn.Server(self.config)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:  # set by uvicorn once it listens
            assert self.thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=BOUND)
        self.sock.close()

    def client_socket(self, source="127.0.0.1"):
        s = socket.socket()
        s.settimeout(BOUND)
        s.bind((source, 0))
        s.connect(("127.0.0.1", self.port))
        return s

    def health(self):
        return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=BOUND)


def _answer(s) -> tuple[int, dict]:
    """The status and JSON body the server sent before closing the connection."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_unfinished_headers_get_408_and_the_connection_is_closed(model):
    with Running(model, header_timeout=0.3) as srv:
        s = srv.client_socket()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        status, body = _answer(s)
        assert status == 408
        assert body["error"]["message"] == "the request headers were not received within 0.3 s"
        s.close()
        assert srv.health().status_code == 200


def test_headers_sent_a_byte_at_a_time_do_not_reset_the_deadline(model):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100_000
    with Running(model, header_timeout=0.3) as srv:
        s = srv.client_socket()
        closed_early = False
        for i in range(len(request)):
            try:
                s.sendall(request[i:i + 1])
            except OSError:
                closed_early = True
                break
            if select.select([s], [], [], 0.01)[0]:  # the server answered
                break
        else:
            pytest.fail("the server never timed out a client trickling its headers")
        if not closed_early:
            assert _answer(s)[0] == 408
        s.close()


def test_kept_alive_connection_gets_the_header_deadline_again(model):
    with Running(model, header_timeout=0.3) as srv:
        s = srv.client_socket()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
            first += s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /health HTTP/1.1\r\n")  # a second request that never finishes
        status, _ = _answer(s)
        assert status == 408
        s.close()


def test_one_client_cannot_hold_every_connection(model):
    # 10 unfinished requests from 127.0.0.2 against 8 connections in all and 4 per client:
    # without the per-client limit they would fill the server and /health would get 503
    with Running(model, header_timeout=BOUND, max_connections=8,
                 max_client_connections=4) as srv:
        held = []
        refused = []
        for i in range(10):
            s = srv.client_socket(source="127.0.0.2")
            if i < 4:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
            else:
                # (sending too would let the kernel reset the refused connection before
                # the answer is read; the server answers without reading anyway)
                refused.append(s)
        for s in refused:
            status, body = _answer(s)
            assert status == 503
            assert "too many connections from this client (at most 4" in body["error"]["message"]
            s.close()
        protocol = srv.config.http
        assert protocol.client_counts == {"127.0.0.2": 4}
        assert srv.health().status_code == 200  # another client is served
        for s in held:
            s.close()


def test_a_stalled_body_gets_408_without_waiting_for_the_request_deadline(model):
    with Running(model, body_timeout=0.3, request_timeout=BOUND) as srv:
        s = srv.client_socket()
        s.sendall(b"POST /models/m/score HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"hhid\":")
        status, body = _answer(s)
        assert status == 408
        assert body["error"]["message"] == "no part of the request body arrived for 0.3 s"
        s.close()
        assert srv.health().status_code == 200


def test_settings_refuse_nonsense_limits():
    from rima.errors import RimaInputError
    from rima.service import ServiceSettings

    with pytest.raises(RimaInputError, match="header_timeout must be a positive number"):
        ServiceSettings(header_timeout=0)
    with pytest.raises(RimaInputError, match="max_client_connections must be a positive"):
        ServiceSettings(max_client_connections=0)
