"""Contact views written as database rows, for tests that compare SQL audiences with the in-memory
evaluator: each view becomes rows of every table a condition reads, plus rows the view must not
see (a page call with a tracked event's name, a segment stay that has ended)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert

from nurture.domain.contact_view import ContactView
from nurture.domain.contacts import Account
from nurture.store.contacts import contact_row
from nurture.store.schema import (
    account_members,
    accounts,
    contact_scores,
    contact_tags,
    contacts,
    events,
    list_members,
    message_events,
    segment_memberships,
    subscriptions,
)
from tests.domain.builders import NOW

PER_CONTACT = (
    events,
    message_events,
    account_members,
    segment_memberships,
    list_members,
    contact_tags,
    contact_scores,
    subscriptions,
)


def clear(conn: Connection, workspace_id: str) -> None:
    """Remove every row a view wrote in the workspace."""
    for table in (*PER_CONTACT, accounts, contacts):
        conn.execute(table.delete().where(table.c.workspace_id == workspace_id))


def store_accounts(conn: Connection, workspace_id: str, pool: Sequence[Account]) -> None:
    for account in pool:
        conn.execute(
            insert(accounts).values(
                workspace_id=workspace_id,
                id=account.id,
                group_id=account.group_id,
                name=account.name,
                domain=account.domain,
                attributes=account.attributes,
                created_at=account.created_at,
                updated_at=account.updated_at,
            )
        )


def store_view(conn: Connection, workspace_id: str, view: ContactView) -> None:
    """Write `view` (its accounts must already be stored) as rows of `workspace_id`."""
    person = view.contact
    conn.execute(
        insert(contacts).values(**contact_row(workspace_id, person), lifecycle_stage=view.lifecycle_stage)
    )
    owned = {"workspace_id": workspace_id, "contact_id": person.id}
    rows: dict[Any, list[dict[str, Any]]] = {table: [] for table in PER_CONTACT}
    for i, item in enumerate(view.events):
        rows[events].append(
            _event(owned, f"{person.id}-e{i}", "track", item.name, item.properties, item.timestamp)
        )
        # a page call of the same name is not a tracked event
        rows[events].append(
            _event(owned, f"{person.id}-p{i}", "page", item.name, item.properties, item.timestamp)
        )
    for i, message in enumerate(view.message_events):
        rows[message_events].append(
            {
                **owned,
                "id": f"{person.id}-m{i}",
                "message_id": message.message_id,
                "kind": message.kind.value,
                "channel": "email",
                "template_id": message.template_id,
                "journey_id": message.journey_id,
                "occurred_at": message.timestamp,
                "data": {},
            }
        )
    rows[account_members] = [{**owned, "account_id": a.id, "created_at": NOW} for a in view.accounts]
    rows[segment_memberships] = [
        {**owned, "segment_id": s, "entered_at": NOW - timedelta(days=3), "exited_at": None}
        for s in view.segment_ids
    ]
    # a stay that ended: not a membership
    rows[segment_memberships].append(
        {
            **owned,
            "segment_id": "s3",
            "entered_at": NOW - timedelta(days=9),
            "exited_at": NOW - timedelta(days=8),
        }
    )
    rows[list_members] = [{**owned, "list_id": lid, "added_at": NOW} for lid in view.list_ids]
    rows[contact_tags] = [{**owned, "tag": tag, "added_at": NOW} for tag in view.tags]
    rows[contact_scores] = [
        {**owned, "model_id": model, "score": score, "updated_at": NOW}
        for model, score in view.scores.items()
    ]
    rows[subscriptions] = [
        {
            **owned,
            "channel": channel,
            "topic": topic or "",
            "status": status.value,
            "source": "api",
            "updated_at": NOW,
        }
        for (channel, topic), status in view.subscriptions.items()
    ]
    for table, values in rows.items():
        if values:
            conn.execute(insert(table), values)


def _event(
    owned: dict[str, str], event_id: str, kind: str, name: str, properties: Any, timestamp: Any
) -> dict[str, Any]:
    return {
        **owned,
        "id": event_id,
        "message_id": event_id,
        "type": kind,
        "name": name,
        "user_id": None,
        "anonymous_id": None,
        "properties": dict(properties),
        "context": {},
        "timestamp": timestamp,
        "original_timestamp": None,
        "sent_at": None,
        "received_at": timestamp,
    }
