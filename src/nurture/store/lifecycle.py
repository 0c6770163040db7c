"""SQL for lifecycle stages: the workspace's stage list and a contact's stage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from nurture.store.schema import contacts, lifecycle_stages
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


def lock_contact_stage(conn: Connection, workspace_id: str, contact_id: str) -> tuple[bool, str | None]:
    """(whether the contact exists, its stage), with its row locked for the rest of the transaction."""
    row = conn.execute(
        select(contacts.c.lifecycle_stage)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        .with_for_update()
    ).first()
    return (False, None) if row is None else (True, row[0])


def set_contact_stage(
    conn: Connection, workspace_id: str, contact_id: str, stage: str | None, now: datetime
) -> None:
    conn.execute(
        update(contacts)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        .values(lifecycle_stage=stage, updated_at=now)
    )
