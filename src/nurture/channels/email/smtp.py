"""`SmtpTransport`: the email channel over SMTP, for a synchronous, threaded dispatcher.

One asyncio loop (uvloop when installed) runs in a thread of its own and holds a `ConnectionPool` per
SMTP URL, so connections stay open across batches and dispatcher threads. `send_many` builds the
messages in the calling thread (CPU), hands them to the loop (I/O) and waits for the results. A sender
with `rate_per_second` gets a token bucket: every message waits for its token before MAIL FROM.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from nurture.channels.email.mime import Envelope, build_envelope
from nurture.channels.email.pool import ConnectionPool
from nurture.channels.rate import TokenBucket
from nurture.domain.errors import Invalid
from nurture.domain.messages.delivery import DeliveryResult, Outcome, OutgoingEmail, SenderConfig
from nurture.domain.messages.smtp_url import SmtpUrl, parse_smtp_url

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # optional (uvicorn[standard] brings it): a third faster on the client side
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@lru_cache(maxsize=64)
def _config(url: str) -> SmtpUrl:
    return parse_smtp_url(url)


class SmtpTransport:
    """An `EmailTransport` that delivers over SMTP. `default_url` serves senders without a
    `smtp_url` of their own; `now` dates the messages; `tls_context` (e.g. trusting a private CA)
    is used for verified TLS; `local_hostname` is the EHLO name (default: this host's FQDN)."""

    def __init__(
        self,
        *,
        default_url: str | None = None,
        now: Callable[[], datetime] = _utc_now,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if default_url is not None:
            _config(default_url)  # refuse a bad URL at start-up, not at the first send
        self._default_url = default_url
        self._now = now
        self._tls_context = tls_context
        self._local_hostname = local_hostname
        self._pools: dict[str, ConnectionPool] = {}  # touched on the loop only
        self._buckets: dict[str, TokenBucket] = {}  # sender id → bucket; on the loop only
        self._loop = _new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nurture-smtp", daemon=True)
        self._thread.start()
        self._closed = False

    def send_many(self, sender: SenderConfig, emails: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
        """Build and send `emails` as `sender`: one result per email, in order. A message that cannot
        be built (a bad address, a DKIM key that cannot sign) is FAILED without being sent. Raises
        `Invalid` for a sender whose SMTP URL is wrong and ValueError for one with none."""
        date = self._now()
        results: list[DeliveryResult | None] = []
        envelopes: list[Envelope] = []
        for email in emails:
            try:
                envelopes.append(build_envelope(email, date=date, dkim=sender.dkim))
                results.append(None)
            except (ValueError, Invalid) as err:
                results.append(DeliveryResult(Outcome.FAILED, detail=f"cannot be built: {err}"))
        sent = iter(self.send_envelopes(sender, envelopes) if envelopes else [])
        return [result if result is not None else next(sent) for result in results]

    def send_envelopes(self, sender: SenderConfig, envelopes: Sequence[Envelope]) -> list[DeliveryResult]:
        """Send messages built already (e.g. in worker processes, with `build_envelope`)."""
        url = sender.smtp_url or self._default_url
        if url is None:
            raise ValueError(f"sender {sender.id} has no SMTP URL and there is no default: use capture")
        config = _config(url)
        return self._run(self._send(url, config, sender, envelopes))

    def close(self) -> None:
        """QUIT every open connection and stop the loop's thread."""
        if self._closed:
            return
        self._closed = True
        self._run(self._close_pools())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._closed and self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("the SMTP transport is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _send(
        self, url: str, config: SmtpUrl, sender: SenderConfig, envelopes: Sequence[Envelope]
    ) -> list[DeliveryResult]:
        pool = self._pools.get(url)
        if pool is None:
            if self._local_hostname is None:
                self._local_hostname = await asyncio.to_thread(socket.getfqdn)
            pool = self._pools[url] = ConnectionPool(config, self._local_hostname, self._tls_context)
        return await pool.send(envelopes, self._pace(sender))

    def _pace(self, sender: SenderConfig) -> Callable[[], Awaitable[None]] | None:
        rate = sender.rate_per_second
        if not rate:
            return None
        bucket = self._buckets.get(sender.id)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[sender.id] = TokenBucket(rate)

        async def pace() -> None:
            loop = asyncio.get_running_loop()
            delay = bucket.reserve(loop.time()) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

        return pace

    async def _close_pools(self) -> None:
        await asyncio.gather(*(pool.close() for pool in self._pools.values()))
        self._pools.clear()

    def connections_opened(self) -> int:
        """Connections opened since the transport started, over all servers (for metrics)."""
        return self._run(self._opened())

    async def _opened(self) -> int:
        return sum(pool.opened for pool in self._pools.values())
