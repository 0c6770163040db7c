"""What a bounce or complaint report says about each recipient, and what a sender must do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a sender does with the address (strongest first, see `STRENGTH`)."""

    COMPLAINT = "complaint"  # the recipient reported the mail (ARF): suppress marketing, count the rate
    HARD = "hard"  # the address itself is bad: suppress it
    SOFT = "soft"  # delivery failed for another reason (full, blocked, policy, expired): keep it
    DELIVERED = "delivered"  # a report of successful delivery
    UNKNOWN = "unknown"  # the report could not be read; `reason` says why


STRENGTH = {Kind.COMPLAINT: 4, Kind.HARD: 3, Kind.SOFT: 2, Kind.DELIVERED: 1, Kind.UNKNOWN: 0}

# Reasons (the vocabulary of bounce classifiers such as sisimai) whose kind is `hard`: the address
# itself is bad. Every other failure reason is `soft`.
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})


@dataclass(frozen=True)
class Classification:
    """The reading of one SMTP answer: what it means for the address and why."""

    kind: Kind
    reason: str  # userunknown, mailboxfull, blocked, …, feedback, delivered, or why it is unknown
    status: str | None = None  # enhanced status code (RFC 3463), "5.1.1"
    reply_code: str | None = None  # SMTP reply code, "550"
    retry: bool = False  # a temporary failure (4xx, timeout): send again later

    @property
    def suppresses(self) -> bool:
        """Whether one such answer is enough to stop mailing the address."""
        return self.kind in (Kind.HARD, Kind.COMPLAINT)


@dataclass(frozen=True)
class Recipient:
    """One recipient of a report, as `nurture bounces classify` prints it."""

    address: str | None  # None when a complaint report redacts it
    kind: Kind
    reason: str
    status: str | None = None
    reply_code: str | None = None
    feedback_type: str | None = None  # complaints only: abuse, opt-out, auth-failure, …
    diagnostic: str | None = None  # the remote server's own words, when the report gives them
    action: str | None = None  # failed | delayed | delivered | relayed | expanded (RFC 3464)
    message_id: str | None = None  # the Message-ID of the mail the report is about, when it quotes it

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"kind": self.kind.value}


def strongest(recipients: list[Recipient]) -> Kind:
    """The kind of a whole report: complaint > hard > soft > delivered > unknown."""
    return max((r.kind for r in recipients), key=STRENGTH.__getitem__, default=Kind.UNKNOWN)
