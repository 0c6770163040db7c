"""What the dispatcher hands a channel, and what the channel answers.

The dispatcher (services) renders a message and builds an `OutgoingEmail` / `OutgoingSms`; a transport
(channels/) delivers a batch and answers one `DeliveryResult` per message, in order. Transports never
raise for a single message's failure: they say so in its result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private_key: bytes  # PEM


@dataclass(frozen=True)
class SenderConfig:
    """How one sender's mail leaves: `smtp_url` None means capture (stored, not sent)."""

    id: str
    smtp_url: str | None
    rate_per_second: float | None = None
    dkim: DkimKey | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    message_id: str  # the send id; the Message-ID header is <message_id@domain of from_email>
    from_email: str
    from_name: str | None
    to: str
    subject: str
    html: str | None
    text: str
    reply_to: str | None = None
    # extra headers in order, e.g. List-Unsubscribe, List-Unsubscribe-Post, Feedback-ID
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class OutgoingSms:
    message_id: str
    to: str  # E.164
    text: str


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the provider took it (SMTP 250 after DATA)
    RETRY = "retry"  # 4xx, timeout, connection refused: try again later
    HARD_BOUNCE = "hard_bounce"  # the address does not exist (5.1.x): suppress it
    FAILED = "failed"  # permanent but not the address's fault (5.7.x policy, 5.3.4 too big, …)


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    reply_code: int | None = None  # 250, 451, 550, …
    status: str | None = None  # enhanced status code, "5.1.1"
    detail: str | None = None  # the provider's words
    provider_id: str | None = None  # the provider's id for the message, when it gives one
