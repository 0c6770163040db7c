"""SQL for the outbox (`messages`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from nurture.domain.messages.engagement import MessageRef
from nurture.store.schema import messages
from nurture.store.sql import execute_many, insert_ignore


def insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows; a send id already in the workspace is skipped. Returns rows written."""
    return execute_many(conn, insert_ignore(conn, messages), rows)


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
