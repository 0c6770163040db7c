"""SQL for subscription topics (per channel; the `topic` of subscriptions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from nurture.store.schema import topics
from nurture.store.sql import insert_ignore


def defaults(conn: Connection, workspace_id: str) -> dict[tuple[str, str], str]:
    """(channel, topic name) → the status a contact without a row has (subscribed: opt-out topic)."""
    rows = conn.execute(
        select(topics.c.channel, topics.c.name, topics.c.default_status).where(
            topics.c.workspace_id == workspace_id
        )
    )
    return {(channel, name): status for channel, name, status in rows}


def add(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert topics; one that exists already is left as it is."""
    if rows:
        conn.execute(insert_ignore(conn, topics), list(rows))
