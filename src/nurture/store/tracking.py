"""SQL for the tracking links: the outbox row a link names, a workspace's tracking settings and template
names, and unique human engagement (machine hits left out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, false, func, or_, select

from nurture.domain.contact_view import MessageEventKind
from nurture.domain.messages.engagement import MessageRef
from nurture.store.schema import message_events, messages, messaging_settings, templates
from nurture.store.sql import chunks


@dataclass(frozen=True)
class TrackedMessage:
    """What a link needs to know about the outbox row it was made for."""

    workspace_id: str
    id: str
    contact_id: str
    channel: str
    category: str
    topic: str | None
    template_id: str | None
    journey_id: str | None
    node_id: str | None
    campaign_id: str | None
    to_address: str | None
    sent_at: datetime | None
    context: dict[str, Any]

    def ref(self) -> MessageRef:
        return MessageRef(
            self.id,
            self.contact_id,
            self.channel,
            template_id=self.template_id,
            journey_id=self.journey_id,
            node_id=self.node_id,
            campaign_id=self.campaign_id,
        )


_COLUMNS = (
    messages.c.workspace_id,
    messages.c.id,
    messages.c.contact_id,
    messages.c.channel,
    messages.c.category,
    messages.c.topic,
    messages.c.template_id,
    messages.c.journey_id,
    messages.c.node_id,
    messages.c.campaign_id,
    messages.c.to_address,
    messages.c.sent_at,
    messages.c.context,
)


def _message(row: Any) -> TrackedMessage:
    values = row._mapping
    return TrackedMessage(**{c.name: values[c.name] for c in _COLUMNS[:-1]}, context=dict(row.context or {}))


def message(conn: Connection, workspace_id: str, message_id: str) -> TrackedMessage | None:
    row = conn.execute(
        select(*_COLUMNS).where(messages.c.workspace_id == workspace_id, messages.c.id == message_id)
    ).first()
    return _message(row) if row else None


def workspaces_of_send(conn: Connection, message_id: str) -> list[str]:
    """The workspaces holding a send id (one, in practice: the id hashes the workspace in). Only for
    addresses that cannot name the workspace; the caller checks the MAC against each."""
    return list(conn.execute(select(messages.c.workspace_id).where(messages.c.id == message_id)).scalars())


def settings_document(conn: Connection, workspace_id: str) -> dict[str, Any]:
    """The workspace's messaging settings document (empty when it has none)."""
    found = conn.execute(
        select(messaging_settings.c.data).where(messaging_settings.c.workspace_id == workspace_id)
    ).scalar()
    return dict(found) if isinstance(found, dict) else {}


def template_names(conn: Connection, workspace_id: str) -> dict[str, str]:
    rows = conn.execute(
        select(templates.c.id, templates.c.name).where(templates.c.workspace_id == workspace_id)
    )
    return {row.id: row.name for row in rows}


def unique_human(
    conn: Connection, workspace_id: str, kind: MessageEventKind, message_ids: Sequence[str]
) -> int:
    """How many of the messages had at least one `kind` event not flagged as a machine's."""
    machine = message_events.c.data["machine"].as_boolean()
    total = 0
    for part in chunks(sorted(set(message_ids))):
        total += conn.execute(
            select(func.count(func.distinct(message_events.c.message_id))).where(
                and_(
                    message_events.c.workspace_id == workspace_id,
                    message_events.c.kind == kind.value,
                    message_events.c.message_id.in_(part),
                    or_(machine.is_(None), machine == false()),
                )
            )
        ).scalar_one()
    return total
