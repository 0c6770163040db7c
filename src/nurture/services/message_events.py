"""Recording what happened to messages: one `message_events` row per happening, and the same happening
as the contact's event (`Email Opened`, …) so segments, scoring and journey triggers see it; the data
catalog learns the event, the audience worker is told and subscribed webhook endpoints get a
`message.<kind>` event, all in the caller's transaction.

Every path that learns something about a sent message (dispatch, delivery webhooks, bounce reports,
the open pixel, click redirects, unsubscribes) records it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ChangeKind
from nurture.domain.catalog import Entry
from nurture.domain.messages.engagement import (
    MessageEventInput,
    contact_event_name,
    contact_event_properties,
    event_id,
)
from nurture.domain.webhooks.events import WebhookEvent, message_event
from nurture.services import catalog, webhooks
from nurture.services.catalog import event_entries
from nurture.store import events as event_store
from nurture.store import message_events as store
from nurture.store.activities import change_row, enqueue_changes
from nurture.store.ids import new_id

CONTEXT = {"library": {"name": "nurture", "version": "messaging"}}


def record(
    conn: Connection, workspace_id: str, happenings: Sequence[MessageEventInput], now: datetime
) -> int:
    """Record message events and their contact events; a happening whose `dedupe_key` was recorded
    before is skipped. Returns how many were new."""
    message_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    written: set[Entry] = set()
    hooks: list[WebhookEvent] = []
    keyed = [h for h in happenings if h.dedupe_key is not None]
    ids = {id(h): event_id(workspace_id, h.message.id, h.kind, h.dedupe_key or "") for h in keyed}
    seen = store.existing_ids(conn, workspace_id, list(ids.values()))
    for happening in happenings:
        row_id = ids.get(id(happening)) or new_id()
        if row_id in seen:
            continue
        seen.add(row_id)
        message = happening.message
        message_rows.append(
            {
                "workspace_id": workspace_id,
                "id": row_id,
                "contact_id": message.contact_id,
                "message_id": message.id,
                "kind": happening.kind.value,
                "channel": message.channel,
                "template_id": message.template_id,
                "journey_id": message.journey_id,
                "occurred_at": happening.occurred_at,
                "data": happening.data,
            }
        )
        changes.append(
            change_row(workspace_id, message.contact_id, ChangeKind.MESSAGE, now, happening.kind.value)
        )
        hooks.append(webhook_event(row_id, happening))
        name = contact_event_name(message.channel, happening.kind)
        if name is None:
            continue
        properties = contact_event_properties(happening)
        contact_event = new_id()
        event_rows.append(
            {
                "workspace_id": workspace_id,
                "id": contact_event,
                "contact_id": message.contact_id,
                "message_id": f"nurture:{row_id}",
                "type": "track",
                "name": name,
                "user_id": None,
                "anonymous_id": None,
                "properties": properties,
                "context": CONTEXT,
                "timestamp": happening.occurred_at,
                "original_timestamp": None,
                "sent_at": None,
                "received_at": now,
            }
        )
        written |= event_entries(name, properties)
        changes.append(
            change_row(workspace_id, message.contact_id, ChangeKind.EVENT, now, name, contact_event)
        )
    if not message_rows:
        return 0
    store.insert(conn, message_rows)
    event_store.insert_events(conn, event_rows)
    catalog.record(conn, workspace_id, written, now)
    enqueue_changes(conn, changes)
    webhooks.publish_events(conn, workspace_id, hooks, now)
    return len(message_rows)


def webhook_event(row_id: str, happening: MessageEventInput) -> WebhookEvent:
    """The `message.<kind>` webhook event of a message event."""
    message = happening.message
    ids = {
        "message_id": message.id,
        "contact_id": message.contact_id,
        "channel": message.channel,
        "template_id": message.template_id,
        "journey_id": message.journey_id,
        "node_id": message.node_id,
        "campaign_id": message.campaign_id,
    }
    return message_event(row_id, happening.kind, happening.occurred_at, ids, happening.data)
