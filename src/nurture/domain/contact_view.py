"""Everything a condition may read about one contact, fetched once and evaluated in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contacts import Account, Contact


@dataclass(frozen=True)
class TrackedEvent:
    """One event the contact performed: its name, properties and (aware UTC) timestamp."""

    name: str
    properties: Mapping[str, Any]
    timestamp: datetime


class MessageEventKind(StrEnum):
    """What happened to a message sent to the contact (rows of `message_events`)."""

    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"


@dataclass(frozen=True)
class MessageEvent:
    """One message event; `template_id` and `journey_id` are null for messages sent without them."""

    kind: MessageEventKind
    message_id: str
    timestamp: datetime
    template_id: str | None = None
    journey_id: str | None = None


@dataclass(frozen=True)
class ContactView:
    """A contact and its history, as of one moment. `subscriptions` is keyed by (channel, topic), with
    topic None for the channel as a whole; a missing key means status `none`. A model missing from
    `scores` means a score of 0."""

    contact: Contact
    events: Sequence[TrackedEvent] = ()
    accounts: Sequence[Account] = ()
    segment_ids: frozenset[str] = frozenset()
    list_ids: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    lifecycle_stage: str | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    subscriptions: Mapping[tuple[str, str | None], SubscriptionStatus] = field(default_factory=dict)
    message_events: Sequence[MessageEvent] = ()
