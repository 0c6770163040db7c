"""Message events as contacts' events: what a delivery, open or click is called on the contact's
timeline, where segments and journey triggers read it (`Email Opened`, `Email Link Clicked`, …).

The names follow Segment's Email and SMS specs, so rules written for a Segment-fed tool read the same.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nurture.domain.contact_view import MessageEventKind

_EMAIL = {
    MessageEventKind.SENT: "Email Sent",
    MessageEventKind.DELIVERED: "Email Delivered",
    MessageEventKind.OPENED: "Email Opened",
    MessageEventKind.CLICKED: "Email Link Clicked",
    MessageEventKind.BOUNCED: "Email Bounced",
    MessageEventKind.UNSUBSCRIBED: "Unsubscribed",
    MessageEventKind.COMPLAINED: "Email Marked as Spam",
}
_SMS = {
    MessageEventKind.SENT: "SMS Sent",
    MessageEventKind.DELIVERED: "SMS Delivered",
    MessageEventKind.CLICKED: "SMS Link Clicked",
    MessageEventKind.BOUNCED: "SMS Undelivered",
    MessageEventKind.UNSUBSCRIBED: "SMS Unsubscribed",
}
EVENT_NAMES = {"email": _EMAIL, "sms": _SMS}


def contact_event_name(channel: str, kind: MessageEventKind) -> str | None:
    """The contact event a message event becomes, or None when the channel has no such event."""
    return EVENT_NAMES.get(channel, {}).get(kind)


@dataclass(frozen=True)
class MessageRef:
    """The outbox row a message event belongs to: what its rows and the contact event carry."""

    id: str  # the send id
    contact_id: str
    channel: str
    template_id: str | None = None
    journey_id: str | None = None
    node_id: str | None = None
    campaign_id: str | None = None


@dataclass(frozen=True)
class MessageEventInput:
    """One thing that happened to a message. `dedupe_key` (e.g. the provider's event id) makes a
    report that arrives twice count once; without it every call is a new event (each open counts)."""

    message: MessageRef
    kind: MessageEventKind
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None


def event_id(workspace_id: str, message_id: str, kind: MessageEventKind, dedupe_key: str) -> str:
    """A message event's id derived from its dedupe key: 26 lowercase base32 characters."""
    raw = f"{workspace_id}\x1f{message_id}\x1f{kind.value}\x1f{dedupe_key}".encode()
    return base64.b32encode(hashlib.sha256(raw).digest()).decode("ascii")[:26].lower()


def contact_event_properties(event: MessageEventInput) -> dict[str, Any]:
    """The properties of the contact event: the message's ids, then what the event carries."""
    message = event.message
    ids = {
        "message_id": message.id,
        "channel": message.channel,
        "template_id": message.template_id,
        "journey_id": message.journey_id,
        "node_id": message.node_id,
        "campaign_id": message.campaign_id,
    }
    return {**{k: v for k, v in ids.items() if v is not None}, **event.data}
