"""Subscriptions: a contact's consent per channel and topic. `set_status` is the one write path (the
REST API now; unsubscribe links and preference pages later): it records SUBSCRIPTION_CHANGED and
queues `membership`, `subscription:CHANNEL` for the audience worker, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.errors import NotFound
from nurture.domain.subscriptions import (
    Status,
    Subscription,
    check_channel,
    check_source,
    check_status,
    check_topic,
)
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.store import activities
from nurture.store import contacts as contact_store
from nurture.store import subscriptions as store
from nurture.store.db import Database


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


class SubscriptionService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def of_contact(self, workspace_id: str, contact_id: str) -> list[Subscription]:
        with self.db.read() as conn:
            found = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
            return store.of_contact(conn, workspace_id, found)

    def set(
        self, workspace_id: str, contact_id: str, channel: Any, topic: Any, status: Any, source: Any = "api"
    ) -> Subscription:
        checked = (check_channel(channel), check_topic(topic), check_status(status), check_source(source))
        now = self.clock.now()
        with self.db.write() as conn:
            if not contact_store.lock(conn, workspace_id, contact_id):
                raise NotFound(f"no contact {contact_id} in this workspace")
            return set_status(conn, workspace_id, contact_id, *checked, now)
