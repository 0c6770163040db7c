"""Subscriptions: a contact's consent per channel and topic. `set_status` is the one write of a
status (callers go through `consents.change`, which also keeps the proof in the ledger): it records
SUBSCRIPTION_CHANGED and queues `membership`, `subscription:CHANNEL` for the audience worker, in the
caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.subscriptions import (
    Status,
    Subscription,
)
from nurture.store import activities
from nurture.store import subscriptions as store


def set_status(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    channel: str,
    topic: str | None,
    status: Status,
    source: str,
    now: datetime,
) -> Subscription:
    """Set a (checked) status; the contact must exist and be locked by the caller
    (`store.contacts.lock`). Setting the status it has already changes nothing."""
    current = store.get(conn, workspace_id, contact_id, channel, topic)
    if current is not None and current.status is status:
        return current
    value = Subscription(channel, topic, status, source, now)
    store.put(conn, workspace_id, contact_id, value)
    activities.record(
        conn,
        workspace_id,
        contact_id,
        ActivityKind.SUBSCRIPTION_CHANGED,
        now,
        data={
            "channel": channel,
            "topic": topic,
            "from": current.status.value if current else None,
            "to": status.value,
            "source": source,
        },
    )
    activities.enqueue_change(
        conn, workspace_id, contact_id, ChangeKind.MEMBERSHIP, now, f"subscription:{channel}"
    )
    return value
