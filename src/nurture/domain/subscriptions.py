"""Consent per channel and topic: the statuses, who may set them, and which one a merge keeps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from nurture.domain.errors import Invalid

CHANNELS = ("email", "sms", "push", "whatsapp")
MAX_TOPIC = 200
_TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")


class Status(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PENDING = "pending"


# When two profiles merge and both have a status for the same channel and topic: an unsubscribe is
# never lost, an explicit subscribe beats an unconfirmed one (pending); ties keep the latest.
MERGE_PRIORITY = {Status.UNSUBSCRIBED: 3, Status.SUBSCRIBED: 2, Status.PENDING: 1}


@dataclass(frozen=True)
class Subscription:
    """A contact's status for `channel` and `topic` (None: the channel as a whole)."""

    channel: str
    topic: str | None
    status: Status
    source: str | None
    updated_at: datetime


def check_channel(value: Any, field: str = "channel") -> str:
    if value not in CHANNELS:
        raise Invalid.one(field, f"unknown channel {value!r}: use one of {', '.join(CHANNELS)}")
    return str(value)


def check_topic(value: Any, field: str = "topic") -> str | None:
    """A topic name (letters, digits, `_ . : -`), or None / "" for the channel as a whole."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TOPIC or not _TOPIC.fullmatch(value):
        raise Invalid.one(
            field, f"must be a topic name of at most {MAX_TOPIC} letters, digits, '_', '.', ':' or '-'"
        )
    return value


def check_status(value: Any, field: str = "status") -> Status:
    try:
        return Status(value)
    except ValueError:
        raise Invalid.one(field, f"must be one of {', '.join(s.value for s in Status)}") from None


def check_source(value: Any, field: str = "source") -> str:
    """Where a status came from (`api`, `import`, `unsubscribe_link`, `preference_page`, …)."""
    if not isinstance(value, str) or len(value) > 64 or not _SOURCE.fullmatch(value):
        raise Invalid.one(field, "must be a lower-case name of at most 64 characters, e.g. api or form")
    return value


def merge_winner(a: Subscription, b: Subscription) -> Subscription:
    """Which of two statuses for the same channel and topic a merged profile keeps."""
    return max((a, b), key=lambda s: (MERGE_PRIORITY[s.status], s.updated_at))
