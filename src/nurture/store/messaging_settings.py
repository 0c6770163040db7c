"""SQL for `messaging_settings`: one JSON document per workspace, read whole and changed key by key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from nurture.store.schema import messaging_settings
from nurture.store.sql import insert_ignore

m = messaging_settings


def get(conn: Connection, workspace_id: str) -> dict[str, Any]:
    """The workspace's settings document ({} when it has none)."""
    data = conn.execute(select(m.c.data).where(m.c.workspace_id == workspace_id)).scalar()
    return dict(data) if data else {}


def put_key(conn: Connection, workspace_id: str, key: str, value: Any, now: datetime) -> None:
    """Set one top-level key of the document, leaving the others as they are."""
    # RETURNING tells whether the row was new (rowcount is not reported for it on PostgreSQL)
    inserted = conn.execute(
        insert_ignore(conn, m)
        .values(workspace_id=workspace_id, data={key: value}, updated_at=now)
        .returning(m.c.workspace_id)
    ).first()
    if inserted is not None:
        return
    current = conn.execute(
        select(m.c.data).where(m.c.workspace_id == workspace_id).with_for_update()
    ).scalar()
    data = {**(current or {}), key: value}
    conn.execute(update(m).where(m.c.workspace_id == workspace_id).values(data=data, updated_at=now))
