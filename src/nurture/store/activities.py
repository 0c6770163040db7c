"""SQL for activities (what nurture did to a contact) and for the audience worker's change queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from nurture.domain.activities import Activity, ActivityKind, ChangeKind
from nurture.store.ids import new_id
from nurture.store.schema import activities, pending_changes
from nurture.store.sql import execute_many
from nurture.store.wakeups import AUDIENCE_CHANNEL, notify


def record(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    kind: ActivityKind,
    now: datetime,
    subject_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> str:
    """Record one activity in the caller's transaction; returns its id."""
    activity_id = new_id()
    conn.execute(
        insert(activities).values(
            workspace_id=workspace_id,
            id=activity_id,
            contact_id=contact_id,
            kind=kind.value,
            subject_id=subject_id,
            data=data or {},
            occurred_at=now,
        )
    )
    return activity_id


def listing(
    conn: Connection,
    workspace_id: str,
    *,
    after: str | None = None,
    limit: int = 100,
    contact_id: str | None = None,
    kinds: Sequence[ActivityKind] = (),
) -> list[Activity]:
    """Activities in id order after the cursor `after` (an activity id)."""
    query = select(activities).where(activities.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(activities.c.id > after)
    if contact_id is not None:
        query = query.where(activities.c.contact_id == contact_id)
    if kinds:
        query = query.where(activities.c.kind.in_([k.value for k in kinds]))
    rows = conn.execute(query.order_by(activities.c.id).limit(limit))
    return [
        Activity(
            id=row.id,
            contact_id=row.contact_id,
            kind=ActivityKind(row.kind),
            subject_id=row.subject_id,
            data=row.data,
            occurred_at=row.occurred_at,
        )
        for row in rows
    ]


def enqueue_change(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    kind: ChangeKind,
    now: datetime,
    name: str | None = None,
    event_id: str | None = None,
) -> None:
    """Tell the audience worker that `contact_id` changed, in the caller's transaction."""
    conn.execute(
        insert(pending_changes).values(
            workspace_id=workspace_id,
            id=new_id(),
            contact_id=contact_id,
            kind=kind.value,
            name=name,
            event_id=event_id,
            created_at=now,
        )
    )
    notify(conn, AUDIENCE_CHANNEL)


def activity_row(
    workspace_id: str,
    contact_id: str,
    kind: ActivityKind,
    now: datetime,
    subject_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An activity as a row for `record_many`."""
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "contact_id": contact_id,
        "kind": kind.value,
        "subject_id": subject_id,
        "data": data or {},
        "occurred_at": now,
    }


_insert_activity = activities.insert()


def record_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record many activities (rows from `activity_row`) with one statement."""
    execute_many(conn, _insert_activity, rows)


def change_row(
    workspace_id: str,
    contact_id: str,
    kind: ChangeKind,
    now: datetime,
    name: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A queued change as a row for `enqueue_changes`."""
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "contact_id": contact_id,
        "kind": kind.value,
        "name": name,
        "event_id": event_id,
        "created_at": now,
    }


_insert_change = pending_changes.insert()


def enqueue_changes(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Queue many changes (rows from `change_row`) with one statement, in the caller's transaction."""
    execute_many(conn, _insert_change, rows)
    if rows:
        notify(conn, AUDIENCE_CHANNEL)  # audience workers in other processes look at once


def newest_id(conn: Connection, workspace_id: str) -> str | None:
    """The id of the workspace's latest activity (where a new follower of the feed starts)."""
    query = select(activities.c.id).where(activities.c.workspace_id == workspace_id)
    return conn.execute(query.order_by(activities.c.id.desc()).limit(1)).scalar()
