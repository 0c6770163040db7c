"""The outbox's enqueue and the one recorder of message events, against the real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from nurture.bootstrap import Container
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.messages.engagement import MessageEventInput, MessageRef
from nurture.domain.messages.outbox import Source, send_id
from nurture.services import message_events, outbox
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import events, messages, pending_changes
from nurture.store.schema import message_events as message_events_table
from tests.conftest import ingest


def _contact(container: Container, workspace_id: str) -> str:
    ingest(
        container, workspace_id, {"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}}
    )
    return container.contacts.list(workspace_id, user_id="u1").items[0].id


def _count(container: Container, table, workspace_id: str) -> int:  # type: ignore[no-untyped-def]
    with container.db.read() as conn:
        return conn.scalar(
            select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
        )


def test_enqueue_writes_one_row_per_source_however_often_it_is_asked(
    container: Container, workspace: NewWorkspace
) -> None:
    contact_id = _contact(container, workspace.id)
    now = container.clock.now()
    wanted = [
        outbox.NewMessage(contact_id, "email", "marketing", Source.JOURNEY, "run1:welcome:0"),
        outbox.NewMessage(contact_id, "email", "marketing", Source.JOURNEY, "run1:followup:0"),
    ]
    with container.db.write() as conn:
        first = outbox.enqueue(conn, workspace.id, wanted, now)
    with container.db.write() as conn:
        again = outbox.enqueue(conn, workspace.id, wanted[:1], now + timedelta(seconds=5))
    assert first.new == 2
    assert again.new == 0
    assert again.ids == first.ids[:1] == [send_id(workspace.id, Source.JOURNEY, "run1:welcome:0")]
    assert _count(container, messages, workspace.id) == 2


def test_record_writes_the_message_event_and_the_contact_event_once_per_dedupe_key(
    container: Container, workspace: NewWorkspace
) -> None:
    contact_id = _contact(container, workspace.id)
    now = container.clock.now()
    ref = MessageRef("s1", contact_id, "email", template_id="t1", journey_id="j1", node_id="n1")
    delivered = MessageEventInput(
        ref, MessageEventKind.DELIVERED, now, {"provider": "ses"}, dedupe_key="ev-1"
    )
    opened = MessageEventInput(ref, MessageEventKind.OPENED, now, {"machine": False})
    with container.db.write() as conn:
        assert message_events.record(conn, workspace.id, [delivered, opened, opened], now) == 3
    with container.db.write() as conn:
        assert message_events.record(conn, workspace.id, [delivered], now) == 0
    assert _count(container, message_events_table, workspace.id) == 3
    with container.db.read() as conn:
        names = conn.execute(
            select(events.c.name, events.c.properties)
            .where(events.c.workspace_id == workspace.id, events.c.contact_id == contact_id)
            .where(events.c.type == "track")
            .order_by(events.c.name)
        ).all()
        queued = conn.execute(
            select(pending_changes.c.kind, pending_changes.c.name).where(
                pending_changes.c.workspace_id == workspace.id, pending_changes.c.kind == "message"
            )
        ).all()
    assert [n for n, _ in names] == ["Email Delivered", "Email Opened", "Email Opened"]
    assert names[0][1] == {
        "message_id": "s1",
        "channel": "email",
        "template_id": "t1",
        "journey_id": "j1",
        "node_id": "n1",
        "provider": "ses",
    }
    assert sorted(name for _, name in queued) == ["delivered", "opened", "opened"]
