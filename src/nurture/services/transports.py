"""The ports the dispatcher sends through: a transport per channel, and the links a message carries.

Channels (`channels/`) implement the transports: SMTP for email, a Twilio-compatible API for SMS; the
capture transports (services/capture.py) stand in when none is configured. Tracking implements
`MessageLinks` (unsubscribe headers, click tracking, the open pixel); `NoLinks` adds nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from nurture.domain.messages.delivery import DeliveryResult, OutgoingEmail, OutgoingSms, SenderConfig
from nurture.domain.messages.outbox import OutboxMessage

log = structlog.get_logger("nurture.dispatch")


class EmailTransport(Protocol):
    """Delivers a batch of emails of one sender; one result per email, in order. It never raises for
    one message's failure (that is its result); raising means nothing is known about the batch."""

    def send_many(self, sender: SenderConfig, emails: Sequence[OutgoingEmail]) -> list[DeliveryResult]: ...

    def close(self) -> None: ...


class SmsTransport(Protocol):
    """Delivers a batch of text messages through the workspace's SMS provider, like `EmailTransport`."""

    def send_many(self, sender: SenderConfig, messages: Sequence[OutgoingSms]) -> list[DeliveryResult]: ...

    def close(self) -> None: ...


class MessageLinks(Protocol):
    """What tracking adds to a message at dispatch."""

    def context(self, message: OutboxMessage) -> dict[str, Any]:
        """Extra `message.*` render values, e.g. `unsubscribe_url`, `preferences_url`."""
        ...

    def headers(self, message: OutboxMessage, from_email: str) -> tuple[tuple[str, str], ...]:
        """Extra email headers, e.g. List-Unsubscribe and List-Unsubscribe-Post."""
        ...

    def rewrite_html(self, html: str, message: OutboxMessage) -> str:
        """The HTML body with tracked links and the open pixel."""
        ...


class NoLinks:
    """No tracking: messages go out as rendered."""

    def context(self, message: OutboxMessage) -> dict[str, Any]:
        return {}

    def headers(self, message: OutboxMessage, from_email: str) -> tuple[tuple[str, str], ...]:
        return ()

    def rewrite_html(self, html: str, message: OutboxMessage) -> str:
        return html


class NoTransport(Exception):
    """A transport factory has nothing for this sender (e.g. an SMTP URL where no SMTP channel is
    installed); its messages fail with `no_transport`."""


# A transport for (workspace, sender): the capture transports keep their mail per workspace; SMTP
# transports ignore the workspace and keep a connection per sender configuration.
EmailTransports = Callable[[str, SenderConfig], EmailTransport]
SmsTransports = Callable[[str, SenderConfig], SmsTransport]


@dataclass(frozen=True)
class Channels:
    """Where each channel's messages go (wired by the composition root)."""

    email: EmailTransports
    sms: SmsTransports


class TransportPool:
    """Open transports kept across batches (SMTP connections are reused), at most `size`; the least
    recently used is closed when another is needed."""

    def __init__(self, channels: Channels, size: int = 32) -> None:
        self.channels = channels
        self.size = size
        self._lock = threading.Lock()
        self._open: OrderedDict[tuple[str, str, SenderConfig], EmailTransport | SmsTransport] = OrderedDict()

    def email(self, workspace_id: str, sender: SenderConfig) -> EmailTransport:
        found = self._get(("email", workspace_id, sender))
        if found is None:
            found = self._put(("email", workspace_id, sender), self.channels.email(workspace_id, sender))
        return found  # type: ignore[return-value]

    def sms(self, workspace_id: str, sender: SenderConfig) -> SmsTransport:
        found = self._get(("sms", workspace_id, sender))
        if found is None:
            found = self._put(("sms", workspace_id, sender), self.channels.sms(workspace_id, sender))
        return found  # type: ignore[return-value]

    def _get(self, key: tuple[str, str, SenderConfig]) -> EmailTransport | SmsTransport | None:
        with self._lock:
            found = self._open.get(key)
            if found is not None:
                self._open.move_to_end(key)
            return found

    def _put(
        self, key: tuple[str, str, SenderConfig], transport: EmailTransport | SmsTransport
    ) -> EmailTransport | SmsTransport:
        with self._lock:
            self._open[key] = transport
            evicted = []
            while len(self._open) > self.size:
                evicted.append(self._open.popitem(last=False)[1])
        for old in evicted:
            _close(old)
        return transport

    def close(self) -> None:
        with self._lock:
            everything = list(self._open.values())
            self._open.clear()
        for transport in everything:
            _close(transport)


def _close(transport: EmailTransport | SmsTransport) -> None:
    try:
        transport.close()
    except Exception:
        log.exception("closing a transport failed")
