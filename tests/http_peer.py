"""A real HTTP server on a loopback port, in a thread, that records every request it receives and
answers as the test says: the receiver for webhook, Slack and SMS provider tests."""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    client_port: int  # the same port on two requests: one reused connection

    def json(self) -> object:
        return orjson.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # wait for this before answering (a receiver that hangs)


class RecordingServer:
    """`answers` are used in order, then `default` for every later request."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[Answer] = deque()
        self.default = Answer()
        self.respond: Callable[[Received], Answer] | None = None
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="recording-server", daemon=True
        )

    def answer(self, status: int, body: bytes | dict[str, object] = b"") -> None:
        """Answer every request from now on with `status` and `body` (a dict is sent as JSON)."""
        self.default = _answer(status, body)

    def then(
        self, status: int, body: bytes | dict[str, object] = b"", *, hold: threading.Event | None = None
    ) -> None:
        """Answer the next request (after those already queued) with `status`; with `hold`, only once
        that event is set (a receiver that hangs)."""
        answer = _answer(status, body)
        answer.hold = hold
        self.answers.append(answer)

    def _next(self, request: Received) -> Answer:
        if self.respond is not None:
            return self.respond(request)
        with self._lock:
            return self.answers.popleft() if self.answers else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be seen

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.client_address[1],
                )
                with server._lock:
                    server.received.append(request)
                answer = server._next(request)
                if answer.hold is not None:
                    answer.hold.wait(10)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_POST = do_GET = do_PUT = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout under test) closed the connection: nothing to report."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _answer(status: int, body: bytes | dict[str, object]) -> Answer:
    if isinstance(body, dict):
        return Answer(status, orjson.dumps(body), {"content-type": "application/json"})
    return Answer(status, body)


@contextmanager
def recording_server() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    try:
        yield server
    finally:
        server.stop()
