"""SQL for the outbox (`messages`): writing new rows and reading them back for the API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from nurture.domain.messages.engagement import MessageRef
from nurture.domain.messages.outbox import Message
from nurture.store.schema import messages
from nurture.store.sql import in_chunks, insert_ignore_many

_FIELDS = tuple(Message.__dataclass_fields__)


def insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows; a send id already in the workspace is skipped. Returns rows written."""
    return insert_ignore_many(conn, messages, rows)


def ref(conn: Connection, workspace_id: str, message_id: str) -> MessageRef | None:
    """The ids a message's events carry, or None when the workspace has no such message."""
    row = conn.execute(
        select(
            messages.c.id,
            messages.c.contact_id,
            messages.c.channel,
            messages.c.template_id,
            messages.c.journey_id,
            messages.c.node_id,
            messages.c.campaign_id,
        ).where(messages.c.workspace_id == workspace_id, messages.c.id == message_id)
    ).first()
    return MessageRef(*row) if row else None


def _message(row: Any) -> Message:
    m = row._mapping
    values = {name: m[name] for name in _FIELDS}
    values["context"] = dict(values["context"] or {})
    return Message(**values)


def get(conn: Connection, workspace_id: str, message_id: str) -> Message | None:
    row = conn.execute(
        select(messages).where(messages.c.workspace_id == workspace_id, messages.c.id == message_id)
    ).first()
    return _message(row) if row else None


def list_messages(
    conn: Connection,
    workspace_id: str,
    *,
    contact_id: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Message]:
    """Messages in creation order (then id) after the cursor position."""
    query = select(messages).where(messages.c.workspace_id == workspace_id)
    if contact_id is not None:
        query = query.where(messages.c.contact_id == contact_id)
    if status is not None:
        query = query.where(messages.c.status == status)
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(messages.c.created_at > at, and_(messages.c.created_at == at, messages.c.id > last_id))
        )
    rows = conn.execute(query.order_by(messages.c.created_at, messages.c.id).limit(limit))
    return [_message(r) for r in rows]


def by_ids(conn: Connection, workspace_id: str, message_ids: Sequence[str]) -> dict[str, Message]:
    found: dict[str, Message] = {}
    for part in in_chunks(conn, sorted(set(message_ids))):
        query = select(messages).where(messages.c.workspace_id == workspace_id, messages.c.id.in_(part))
        found.update({row.id: _message(row) for row in conn.execute(query)})
    return found
