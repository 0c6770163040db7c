"""SQL for subscriptions (consent per channel and topic; topic "" is the channel as a whole)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from nurture.domain.subscriptions import Status, Subscription
from nurture.store.schema import subscriptions
from nurture.store.sql import insert

WHOLE_CHANNEL = ""  # how the domain's topic None is stored


def from_row(row: Any) -> Subscription:
    return Subscription(row.channel, row.topic or None, Status(row.status), row.source, row.updated_at)


def of_contact(conn: Connection, workspace_id: str, contact_id: str) -> list[Subscription]:
    rows = conn.execute(
        select(subscriptions)
        .where(subscriptions.c.workspace_id == workspace_id, subscriptions.c.contact_id == contact_id)
        .order_by(subscriptions.c.channel, subscriptions.c.topic)
    )
    return [from_row(r) for r in rows]


def get(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    channel: str,
    topic: str | None,
    *,
    lock: bool = False,
) -> Subscription | None:
    query = select(subscriptions).where(
        subscriptions.c.workspace_id == workspace_id,
        subscriptions.c.contact_id == contact_id,
        subscriptions.c.channel == channel,
        subscriptions.c.topic == (topic or WHOLE_CHANNEL),
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    return from_row(row) if row else None


def put(conn: Connection, workspace_id: str, contact_id: str, value: Subscription) -> None:
    """Write the status: insert, or overwrite the row for that channel and topic."""
    values = {"status": value.status.value, "source": value.source, "updated_at": value.updated_at}
    statement = insert(conn, subscriptions).values(
        workspace_id=workspace_id,
        contact_id=contact_id,
        channel=value.channel,
        topic=value.topic or WHOLE_CHANNEL,
        **values,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["workspace_id", "contact_id", "channel", "topic"], set_=values
        )
    )
