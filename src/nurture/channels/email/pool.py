"""Open SMTP connections to one server, kept and reused across batches (asyncio, aiosmtplib).

A pool has `connections` slots; a batch takes as many as it can use and sends its messages over them
concurrently, one message at a time per connection (MAIL, RCPT, DATA). A connection the server closed
while it sat idle is noticed at MAIL, before anything was sent, and the message goes out on a new one;
a connection lost later gives RETRY, since the server may or may not have the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence

import aiosmtplib
from aiosmtplib import SMTPException, SMTPResponseException

from nurture.channels.email.mime import Envelope
from nurture.domain.messages.delivery import DeliveryResult, Outcome
from nurture.domain.messages.replies import classify_reply, split_enhanced
from nurture.domain.messages.smtp_url import SmtpUrl, Tls

_QUEUE_ID = re.compile(r"queued as ([!-~]+)", re.IGNORECASE)
_BROKEN = (SMTPException, OSError, TimeoutError)  # aiosmtplib's connection errors are OSError too


def reply_result(code: int, text: str, *, at_mail: bool = False) -> DeliveryResult:
    """A server reply as a result, through the one reply classifier. A refused MAIL FROM is about the
    sender, so it never counts as the recipient's hard bounce."""
    enhanced, rest = split_enhanced(text)
    outcome = classify_reply(code, enhanced, rest)
    if at_mail and outcome is Outcome.HARD_BOUNCE:
        outcome = Outcome.FAILED
    queue_id = _QUEUE_ID.search(rest) if outcome is Outcome.ACCEPTED else None
    return DeliveryResult(outcome, code, enhanced, rest or None, queue_id.group(1) if queue_id else None)


class Unreachable(Exception):
    """A connection could not be opened: `result` is the RETRY its message gets."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


class _Slot:
    """One connection of the pool, opened on first use and reopened after it breaks."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.smtp: aiosmtplib.SMTP | None = None

    async def send(self, envelope: Envelope) -> DeliveryResult:
        result = await self._transaction(envelope)
        if result is None:  # the server had closed the idle connection: send on a new one
            result = await self._transaction(envelope)
        assert result is not None  # a new connection is never "reused"
        return result

    async def _transaction(self, envelope: Envelope) -> DeliveryResult | None:
        """MAIL, RCPT, DATA on this slot's connection (opened if needed; `Unreachable` if it cannot
        be). None when a reused connection proved closed at MAIL, before anything was sent."""
        smtp = self.smtp
        reused = smtp is not None and smtp.is_connected
        if smtp is None or not reused:
            try:
                smtp = self.smtp = await self.pool.connect()
            except SMTPResponseException as err:  # a refused greeting, STARTTLS or login
                raise Unreachable(DeliveryResult(Outcome.RETRY, err.code, *_words(err.message))) from err
            except _BROKEN as err:
                raise Unreachable(DeliveryResult(Outcome.RETRY, detail=f"cannot connect: {err}")) from err
        at_mail = True
        try:
            await smtp.mail(envelope.mail_from, options=_size(smtp, envelope))
            at_mail = False
            await smtp.rcpt(envelope.rcpt_to)
            reply = await smtp.data(envelope.data)
        except SMTPResponseException as err:
            await self._reset(err.code)
            return reply_result(err.code, err.message, at_mail=at_mail)
        except ValueError as err:  # an address aiosmtplib will not put on a command line
            await self._reset(0)
            return DeliveryResult(Outcome.FAILED, detail=str(err))
        except _BROKEN as err:
            self.drop()
            if at_mail and reused:
                return None
            return DeliveryResult(Outcome.RETRY, detail=f"connection lost: {err}")
        return reply_result(reply.code, reply.message)

    async def _reset(self, code: int) -> None:
        """Clear the refused transaction (RSET) so the connection can carry the next message."""
        if code == 421 or self.smtp is None or not self.smtp.is_connected:
            self.drop()  # 421: the server is closing the connection
            return
        try:
            await self.smtp.rset()
        except _BROKEN:
            self.drop()

    def drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    async def quit(self) -> None:
        if self.smtp is not None and self.smtp.is_connected:
            with contextlib.suppress(*_BROKEN):
                await self.smtp.quit()
        self.drop()


def _size(smtp: aiosmtplib.SMTP, envelope: Envelope) -> list[str]:
    return [f"SIZE={len(envelope.data)}"] if smtp.supports_extension("size") else []


def _words(text: str) -> tuple[str | None, str | None]:
    enhanced, rest = split_enhanced(text)
    return enhanced, rest or None


class ConnectionPool:
    """Up to `config.connections` open connections to the server of one SMTP URL. Lives on one
    event loop; `opened` counts the connections made over its life."""

    def __init__(self, config: SmtpUrl, local_hostname: str, tls_context: ssl.SSLContext | None) -> None:
        self.config = config
        self.local_hostname = local_hostname
        self.tls_context = tls_context
        self.opened = 0
        self._idle = [_Slot(self) for _ in range(config.connections)]
        self._free = asyncio.Semaphore(config.connections)

    async def connect(self) -> aiosmtplib.SMTP:
        config = self.config
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            local_hostname=self.local_hostname,
            timeout=config.timeout,
            use_tls=config.tls is Tls.IMPLICIT,
            start_tls={Tls.REQUIRED: True, Tls.OPPORTUNISTIC: None}.get(config.tls, False),
            validate_certs=config.verify,
            tls_context=self.tls_context if config.verify else None,
        )
        await smtp.connect()
        self.opened += 1
        return smtp

    async def send(
        self, envelopes: Sequence[Envelope], pace: Callable[[], Awaitable[None]] | None = None
    ) -> list[DeliveryResult]:
        """Send `envelopes` over as many connections as the pool can give, each message after `pace`
        (the sender's rate limit) lets it; results in the order of `envelopes`. Once a connection
        cannot be opened, the batch's other messages get the same RETRY at once, rather than each
        waiting for its own connect to time out."""
        results: list[DeliveryResult | None] = [None] * len(envelopes)
        work: Iterator[int] = iter(range(len(envelopes)))
        down: list[DeliveryResult] = []

        async def worker() -> None:
            async with self._free:
                slot = self._idle.pop()
                try:
                    for index in work:
                        if down:
                            results[index] = down[0]
                            continue
                        if pace is not None:
                            await pace()
                        try:
                            results[index] = await slot.send(envelopes[index])
                        except Unreachable as err:
                            down.append(err.result)
                            results[index] = err.result
                finally:
                    self._idle.append(slot)

        workers = min(self.config.connections, len(envelopes))
        await asyncio.gather(*(worker() for _ in range(workers)))
        done = [result for result in results if result is not None]
        assert len(done) == len(envelopes)
        return done

    async def close(self) -> None:
        await asyncio.gather(*(slot.quit() for slot in self._idle))
