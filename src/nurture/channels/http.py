"""Outbound HTTP calls (webhook deliveries, Slack alerts, journey webhook actions) over one pooled
httpx client, so connections to a receiver are reused across deliveries.

A call never raises for the receiver's failure: a timeout, a refused connection or a TLS error comes
back as an `HttpAnswer` without a status code and with the error. Redirects are not followed (a
webhook receiver that moved must be updated, as Standard Webhooks senders do).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from nurture import __version__

USER_AGENT = f"nurture-webhooks/{__version__}"
DEFAULT_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
EXCERPT = 1024  # characters of an answer kept in the delivery log


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"


@dataclass(frozen=True)
class HttpAnswer:
    status_code: int | None  # None: no answer at all (see `error`)
    body: str  # the start of the answer's body, decoded leniently
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class HttpCaller:
    """One client for every outbound call of a process; `call_many` posts a batch in parallel."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = 8,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.concurrency = max(1, concurrency)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(
                max_connections=self.concurrency * 2, max_keepalive_connections=self.concurrency
            ),
            transport=transport,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def call(self, request: HttpRequest, max_body: int = EXCERPT) -> HttpAnswer:
        """Send one request; read at most `max_body` characters of the answer."""
        try:
            with self._client.stream(
                request.method, request.url, content=request.body, headers=dict(request.headers)
            ) as response:
                raw = b""
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) >= max_body * 4:  # UTF-8: at most 4 bytes a character
                        break
                text = raw.decode(response.encoding or "utf-8", errors="replace")[:max_body]
                return HttpAnswer(response.status_code, text, dict(response.headers))
        except httpx.TimeoutException as exc:
            return HttpAnswer(None, "", error=f"timed out ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return HttpAnswer(None, "", error=f"{type(exc).__name__}: {exc}"[:500])

    def call_many(self, requests: Sequence[HttpRequest], max_body: int = EXCERPT) -> list[HttpAnswer]:
        """Send a batch, up to `concurrency` at a time; answers in the order of `requests`."""
        if len(requests) <= 1:
            return [self.call(r, max_body) for r in requests]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="nurture-http")
            pool = self._pool
        return list(pool.map(lambda r: self.call(r, max_body), requests))

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self._client.close()
