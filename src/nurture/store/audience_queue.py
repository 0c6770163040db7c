"""SQL for the audience worker's inputs: queued changes (`pending_changes`) and due segment timers.

Claims lock their rows until the claiming transaction ends; on PostgreSQL `FOR UPDATE SKIP LOCKED`
lets several workers claim different rows at once. SQLite has one writer, which already excludes
everyone else for the whole transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from nurture.store.schema import pending_changes, segment_timers
from nurture.store.sql import execute_many

q = pending_changes
t = segment_timers


@dataclass(frozen=True)
class QueuedChange:
    workspace_id: str
    id: str
    contact_id: str
    kind: str
    name: str | None
    event_id: str | None


@dataclass(frozen=True)
class DueTimer:
    workspace_id: str
    segment_id: str
    contact_id: str
    due_at: datetime


def claim_changes(conn: Connection, limit: int) -> list[QueuedChange]:
    """Up to `limit` queued changes no other transaction holds, oldest first where it is cheap."""
    query = (
        select(q.c.workspace_id, q.c.id, q.c.contact_id, q.c.kind, q.c.name, q.c.event_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [QueuedChange(*row) for row in conn.execute(query)]


_delete_change = delete(q).where(q.c.workspace_id == bindparam("w_id"), q.c.id == bindparam("c_id"))


def delete_changes(conn: Connection, claimed: Sequence[QueuedChange]) -> None:
    execute_many(conn, _delete_change, [{"w_id": c.workspace_id, "c_id": c.id} for c in claimed])


def claim_due_timers(conn: Connection, now: datetime, limit: int) -> list[DueTimer]:
    """Up to `limit` timers due at `now`, earliest first (the index on `due_at` serves this)."""
    query = (
        select(t.c.workspace_id, t.c.segment_id, t.c.contact_id, t.c.due_at)
        .where(t.c.due_at <= now)
        .order_by(t.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [DueTimer(*row) for row in conn.execute(query)]


_delete_timer = delete(t).where(
    t.c.workspace_id == bindparam("w_id"),
    t.c.segment_id == bindparam("s_id"),
    t.c.contact_id == bindparam("c_id"),
)
_insert_timer = t.insert()


def set_timers(
    conn: Connection, workspace_id: str, timers: Iterable[tuple[str, str, datetime | None]]
) -> None:
    """Replace the timer of each (segment, contact): a new due time, or none."""
    given = list(timers)
    execute_many(conn, _delete_timer, [{"w_id": workspace_id, "s_id": s, "c_id": c} for s, c, _ in given])
    rows = [
        {"workspace_id": workspace_id, "segment_id": s, "contact_id": c, "due_at": due}
        for s, c, due in given
        if due is not None
    ]
    execute_many(conn, _insert_timer, rows)


def delete_timers(conn: Connection, timers: Sequence[DueTimer]) -> None:
    rows = [{"w_id": x.workspace_id, "s_id": x.segment_id, "c_id": x.contact_id} for x in timers]
    execute_many(conn, _delete_timer, rows)


def delete_contact_timers(conn: Connection, workspace_id: str, contact_ids: Sequence[str]) -> None:
    conn.execute(delete(t).where(t.c.workspace_id == workspace_id, t.c.contact_id.in_(contact_ids)))


def delete_segment_timers(conn: Connection, workspace_id: str, segment_id: str) -> None:
    conn.execute(delete(t).where(t.c.workspace_id == workspace_id, t.c.segment_id == segment_id))


def timers_of(conn: Connection, workspace_id: str, contact_id: str) -> dict[str, datetime]:
    """Segment id → when the contact's answer is re-evaluated next (for explanations and tests)."""
    rows = conn.execute(
        select(t.c.segment_id, t.c.due_at).where(
            t.c.workspace_id == workspace_id, t.c.contact_id == contact_id
        )
    )
    return {str(s): due for s, due in rows}


def forget_contacts(conn: Connection, workspace_id: str, contact_ids: Sequence[str]) -> None:
    """Erase: drop the contacts' queued changes and timers. Rows a worker holds are skipped (waiting
    for them could deadlock); that worker finds the contacts gone and drops them itself."""
    changes = conn.execute(
        select(q.c.id)
        .where(q.c.workspace_id == workspace_id, q.c.contact_id.in_(contact_ids))
        .with_for_update(skip_locked=True)
    ).scalars()
    execute_many(conn, _delete_change, [{"w_id": workspace_id, "c_id": c} for c in changes])
    timers = conn.execute(
        select(t.c.segment_id, t.c.contact_id)
        .where(t.c.workspace_id == workspace_id, t.c.contact_id.in_(contact_ids))
        .with_for_update(skip_locked=True)
    )
    execute_many(conn, _delete_timer, [{"w_id": workspace_id, "s_id": s, "c_id": c} for s, c in timers])
