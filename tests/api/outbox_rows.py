"""Outbox rows as the dispatcher leaves them after sending, for tests of what comes back from
recipients (clicks, opens, unsubscribes). Shared by the link tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from nurture.bootstrap import Container
from nurture.domain.messages.outbox import Source
from nurture.services import outbox
from nurture.services.contacts import ContactInput
from nurture.store.schema import message_events, messages


def contact(container: Container, workspace_id: str, email: str = "ann@example.com", **fields: str) -> str:
    return container.contacts.create(workspace_id, ContactInput({"email": email, **fields})).id


def sent_message(
    container: Container,
    workspace_id: str,
    contact_id: str,
    *,
    key: str = "spring:1",
    topic: str | None = None,
    category: str = "marketing",
    ago: timedelta = timedelta(hours=1),
    to_address: str | None = "ann@example.com",
) -> str:
    """An outbox row sent `ago` before the container's clock; returns its send id."""
    now = container.clock.now()
    wanted = outbox.NewMessage(
        contact_id,
        "email",
        category,
        Source.CAMPAIGN,
        key,
        topic=topic,
        template_id="01HTEMPLATE000000000000000",
    )
    with container.db.write() as conn:
        [send] = outbox.enqueue(conn, workspace_id, [wanted], now - ago).ids
        conn.execute(
            update(messages)
            .where(messages.c.workspace_id == workspace_id, messages.c.id == send)
            .values(status="sent", sent_at=now - ago, to_address=to_address)
        )
    return send


def events_of(container: Container, workspace_id: str, kind: str) -> list[dict[str, object]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(message_events)
            .where(message_events.c.workspace_id == workspace_id, message_events.c.kind == kind)
            .order_by(message_events.c.id)
        )
        return [dict(row._mapping) for row in rows]
