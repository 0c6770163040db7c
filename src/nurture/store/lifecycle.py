"""SQL for the workspace's lifecycle stage list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from nurture.store.schema import lifecycle_stages
from nurture.store.sql import insert


def stages(conn: Connection, workspace_id: str) -> list[str] | None:
    """The configured stages, or None when the workspace uses the defaults."""
    found = conn.execute(
        select(lifecycle_stages.c.stages).where(lifecycle_stages.c.workspace_id == workspace_id)
    ).scalar()
    return list(found) if found is not None else None


def set_stages(conn: Connection, workspace_id: str, stages: Sequence[str], now: datetime) -> None:
    statement = insert(conn, lifecycle_stages).values(
        workspace_id=workspace_id, stages=list(stages), updated_at=now
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["workspace_id"], set_={"stages": list(stages), "updated_at": now}
        )
    )
