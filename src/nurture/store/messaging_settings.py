"""SQL for a workspace's messaging settings (one JSON document per workspace)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from nurture.store.schema import messaging_settings
from nurture.store.sql import insert, insert_ignore

m = messaging_settings


def get(conn: Connection, workspace_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(messaging_settings.c.data).where(messaging_settings.c.workspace_id == workspace_id)
    ).first()
    return dict(row[0]) if row else None


def of_workspaces(conn: Connection, workspace_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        select(messaging_settings.c.workspace_id, messaging_settings.c.data).where(
            messaging_settings.c.workspace_id.in_(sorted(set(workspace_ids)))
        )
    )
    return {w: dict(d) for w, d in rows}


def put(conn: Connection, workspace_id: str, data: dict[str, Any], now: datetime) -> None:
    statement = insert(conn, messaging_settings).values(workspace_id=workspace_id, data=data, updated_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["workspace_id"], set_={"data": data, "updated_at": now}
        )
    )


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
