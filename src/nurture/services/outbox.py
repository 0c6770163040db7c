"""Putting messages in the outbox, in the caller's transaction: a journey step, a campaign batch or
an API request commits its messages together with everything else it changed, or none of them.

The row's id is the deterministic send id (domain/messages/outbox.py), so asking again for the same
message (a retried step, a resumed campaign, a client retrying with its idempotency key) writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.messages.outbox import Source, Status, send_id
from nurture.store import messages as store
from nurture.store.wakeups import notify

DISPATCH_CHANNEL = "nurture_dispatch"


@dataclass(frozen=True)
class NewMessage:
    contact_id: str
    channel: str  # email | sms
    category: str  # marketing | transactional
    source: Source
    source_key: str
    template_id: str | None = None
    template_version: int | None = None  # None: the template's current version at dispatch
    topic: str | None = None
    sender_id: str | None = None  # None: the workspace's default sender
    journey_id: str | None = None
    node_id: str | None = None
    campaign_id: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)  # event, run: what the template renders
    due_at: datetime | None = None  # None: now
    to_address: str | None = None  # None: the contact's address at dispatch; set: this one (alerts)
    send_id: str | None = None  # the id `send_id(workspace, source, source_key)` gives, when known already


@dataclass(frozen=True)
class Enqueued:
    ids: list[str]  # the send id of each message asked for, in order
    new: int  # how many rows this call wrote (the rest existed already)


def enqueue(conn: Connection, workspace_id: str, wanted: Sequence[NewMessage], now: datetime) -> Enqueued:
    rows = [
        {
            "workspace_id": workspace_id,
            "id": m.send_id or send_id(workspace_id, m.source, m.source_key),
            "contact_id": m.contact_id,
            "channel": m.channel,
            "category": m.category,
            "topic": m.topic,
            "template_id": m.template_id,
            "template_version": m.template_version,
            "sender_id": m.sender_id,
            "source": m.source.value,
            "source_key": m.source_key,
            "journey_id": m.journey_id,
            "node_id": m.node_id,
            "campaign_id": m.campaign_id,
            "context": dict(m.context),
            "to_address": m.to_address,
            "subject": None,
            "status": Status.PENDING.value,
            "reason": None,
            "detail": None,
            "attempts": 0,
            "due_at": m.due_at or now,
            "lease_until": None,
            "provider_id": None,
            "created_at": now,
            "sent_at": None,
            "updated_at": now,
        }
        for m in wanted
    ]
    new = store.insert(conn, rows)
    if new:
        notify(conn, DISPATCH_CHANNEL)  # dispatchers in other processes look at once after commit
    return Enqueued([str(row["id"]) for row in rows], new)
