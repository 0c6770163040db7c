"""SQL for `message_events`: what happened to sent messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from nurture.store.schema import message_events
from nurture.store.sql import PerDialect, execute_many, in_chunks, insert_ignore, one_of

_existing = PerDialect(
    lambda dialect: select(message_events.c.id).where(
        message_events.c.workspace_id == bindparam("workspace_id"),
        one_of(dialect, message_events.c.id, "ids"),
    )
)


def existing_ids(conn: Connection, workspace_id: str, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in in_chunks(conn, sorted(set(ids))):
        found.update(conn.execute(_existing(conn), {"workspace_id": workspace_id, "ids": part}).scalars())
    return found


def insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert message events; an id already stored is skipped (a report delivered twice)."""
    return execute_many(conn, insert_ignore(conn, message_events), rows)


def of_message(
    conn: Connection, workspace_id: str, message_id: str
) -> list[tuple[str, datetime, dict[str, Any]]]:
    """(kind, occurred_at, data) of one message's events, in the order they happened."""
    rows = conn.execute(
        select(message_events.c.kind, message_events.c.occurred_at, message_events.c.data)
        .where(message_events.c.workspace_id == workspace_id, message_events.c.message_id == message_id)
        .order_by(message_events.c.occurred_at, message_events.c.id)
    )
    return [(str(k), at, dict(d or {})) for k, at, d in rows]


def of_messages(conn: Connection, workspace_id: str, message_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Every event of the given messages: message_id, kind, data."""
    found: list[dict[str, Any]] = []
    for part in in_chunks(conn, sorted(set(message_ids))):
        rows = conn.execute(
            select(message_events.c.message_id, message_events.c.kind, message_events.c.data).where(
                message_events.c.workspace_id == workspace_id, message_events.c.message_id.in_(part)
            )
        )
        found.extend({"message_id": r.message_id, "kind": r.kind, "data": r.data} for r in rows)
    return found
