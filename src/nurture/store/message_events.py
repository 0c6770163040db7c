"""SQL for message events (delivered, bounced, complained, … per sent message).

The delivery-report path writes its rows here; the lead's `services/message_events.record` (which also
writes the contact event) is meant to take this over on merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from nurture.store.schema import message_events
from nurture.store.sql import chunks, execute_many

_insert = message_events.insert()


def add_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert message events (dicts with every column) with one statement."""
    if rows:
        execute_many(conn, _insert, rows)


def of_messages(conn: Connection, workspace_id: str, message_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Every event of the given messages: message_id, kind, data."""
    found: list[dict[str, Any]] = []
    for part in chunks(sorted(set(message_ids))):
        rows = conn.execute(
            select(message_events.c.message_id, message_events.c.kind, message_events.c.data).where(
                message_events.c.workspace_id == workspace_id, message_events.c.message_id.in_(part)
            )
        )
        found.extend({"message_id": r.message_id, "kind": r.kind, "data": r.data} for r in rows)
    return found
