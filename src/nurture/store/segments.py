"""SQL for segments and their membership history (one row per stay; `exited_at` null while it lasts)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, update

from nurture.domain.conditions.parsing import parse_condition
from nurture.domain.segments import Membership, Segment, SegmentStatus
from nurture.store.schema import contact_merges, segment_memberships, segment_timers, segments
from nurture.store.sql import PerDialect, execute_many, in_chunks, lock_keys, one_of

m = segment_memberships


def segment_from_row(row: Any) -> Segment:
    return Segment(
        id=row.id,
        name=row.name,
        description=row.description,
        condition=parse_condition(row.condition),
        status=SegmentStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        recomputed_at=row.recomputed_at,
    )


def insert_segment(conn: Connection, workspace_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(segments.insert().values(workspace_id=workspace_id, **values))


def update_segment(conn: Connection, workspace_id: str, segment_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(segments)
        .where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
        .values(**values)
    )


def get_segment(conn: Connection, workspace_id: str, segment_id: str) -> Segment | None:
    row = conn.execute(
        select(segments).where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
    ).first()
    return None if row is None else segment_from_row(row)


def name_taken(conn: Connection, workspace_id: str, name: str, other_than: str | None = None) -> bool:
    query = select(segments.c.id).where(segments.c.workspace_id == workspace_id, segments.c.name == name)
    if other_than is not None:
        query = query.where(segments.c.id != other_than)
    return conn.execute(query).first() is not None


def list_segments(
    conn: Connection, workspace_id: str, *, status: SegmentStatus | None, after: str | None, limit: int
) -> list[Segment]:
    query = select(segments).where(segments.c.workspace_id == workspace_id)
    if status is not None:
        query = query.where(segments.c.status == status.value)
    if after is not None:
        query = query.where(segments.c.id > after)
    return [segment_from_row(r) for r in conn.execute(query.order_by(segments.c.id).limit(limit))]


def all_segments(conn: Connection, workspace_id: str, *, active_only: bool = False) -> list[Segment]:
    query = select(segments).where(segments.c.workspace_id == workspace_id)
    if active_only:
        query = query.where(segments.c.status == SegmentStatus.ACTIVE.value)
    return [segment_from_row(r) for r in conn.execute(query.order_by(segments.c.id))]


def due_for_recompute(conn: Connection, limit: int) -> list[tuple[str, str]]:
    """(workspace, segment) of active segments whose members were never computed for their condition."""
    rows = conn.execute(
        select(segments.c.workspace_id, segments.c.id)
        .where(segments.c.status == SegmentStatus.ACTIVE.value, segments.c.recomputed_at.is_(None))
        .order_by(segments.c.updated_at)
        .limit(limit)
    )
    return [(w, s) for w, s in rows]


def delete_segment(conn: Connection, workspace_id: str, segment_id: str) -> None:
    """The segment, its membership history and its timers."""
    for table in (segment_memberships, segment_timers):
        conn.execute(
            delete(table).where(table.c.workspace_id == workspace_id, table.c.segment_id == segment_id)
        )
    conn.execute(delete(segments).where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id))


# ---- locks (PostgreSQL; SQLite has one writer) ----


def lock_contacts(conn: Connection, workspace_id: str, contact_ids: Iterable[str]) -> None:
    """One transaction at a time changes a contact's memberships (worker, erase)."""
    lock_keys(conn, (f"{workspace_id}:audience:{c}" for c in contact_ids))


def lock_segments(conn: Connection, workspace_id: str, segment_ids: Iterable[str], *, shared: bool) -> None:
    """Live evaluation holds segments shared; a full recompute holds its segments exclusively."""
    lock_keys(conn, (f"{workspace_id}:segment:{s}" for s in segment_ids), shared=shared)


# ---- memberships ----

_open_of = PerDialect(
    lambda dialect: select(m.c.contact_id, m.c.segment_id).where(
        m.c.workspace_id == bindparam("workspace_id"),
        one_of(dialect, m.c.contact_id, "ids"),
        m.c.exited_at.is_(None),
    )
)


def open_memberships(conn: Connection, workspace_id: str, contact_ids: Iterable[str]) -> dict[str, set[str]]:
    """Contact id → the segments it is currently in."""
    out: dict[str, set[str]] = defaultdict(set)
    for part in in_chunks(conn, sorted(set(contact_ids))):
        for contact_id, segment_id in conn.execute(
            _open_of(conn), {"workspace_id": workspace_id, "ids": part}
        ):
            out[contact_id].add(segment_id)
    return out


def current_members(conn: Connection, workspace_id: str, segment_id: str) -> set[str]:
    rows = conn.execute(
        select(m.c.contact_id).where(
            m.c.workspace_id == workspace_id, m.c.segment_id == segment_id, m.c.exited_at.is_(None)
        )
    )
    return set(rows.scalars())


_enter = m.insert()
_close = (
    update(m)
    .where(
        m.c.workspace_id == bindparam("w_id"),
        m.c.segment_id == bindparam("s_id"),
        m.c.contact_id == bindparam("c_id"),
        m.c.exited_at.is_(None),
        m.c.entered_at < bindparam("now"),
    )
    .values(exited_at=bindparam("now"))
)
# A stay that would end the instant it began never was a member at any time: drop it, so a contact
# can enter again at that same instant (the clock can stand still, e.g. in simulations).
_drop_empty = delete(m).where(
    m.c.workspace_id == bindparam("w_id"),
    m.c.segment_id == bindparam("s_id"),
    m.c.contact_id == bindparam("c_id"),
    m.c.exited_at.is_(None),
    m.c.entered_at >= bindparam("now"),
)


def enter(conn: Connection, workspace_id: str, pairs: Sequence[tuple[str, str]], now: datetime) -> None:
    """Open a stay for each (segment, contact)."""
    rows = [
        {"workspace_id": workspace_id, "segment_id": s, "contact_id": c, "entered_at": now, "exited_at": None}
        for s, c in pairs
    ]
    execute_many(conn, _enter, rows)


def exit_(conn: Connection, workspace_id: str, pairs: Sequence[tuple[str, str]], now: datetime) -> None:
    """Close the open stay of each (segment, contact)."""
    rows = [{"w_id": workspace_id, "s_id": s, "c_id": c, "now": now} for s, c in pairs]
    execute_many(conn, _close, rows)
    execute_many(conn, _drop_empty, rows)


def close_contacts(conn: Connection, workspace_id: str, contact_ids: Sequence[str], now: datetime) -> None:
    """End every open stay of these contacts (merged away: they no longer exist as themselves)."""
    pairs = [
        (segment_id, contact_id)
        for contact_id, found in open_memberships(conn, workspace_id, contact_ids).items()
        for segment_id in found
    ]
    exit_(conn, workspace_id, pairs, now)


def close_segment(conn: Connection, workspace_id: str, segment_id: str, now: datetime) -> None:
    """End every open stay in the segment (archived)."""
    members = sorted(current_members(conn, workspace_id, segment_id))
    exit_(conn, workspace_id, [(segment_id, c) for c in members], now)


def members_page(
    conn: Connection,
    workspace_id: str,
    segment_id: str,
    *,
    as_of: datetime | None,
    after: str | None,
    limit: int,
) -> list[Membership]:
    """Members in contact id order after the cursor: current ones, or those as of `as_of`
    (entered_at <= T and (exited_at is null or exited_at > T))."""
    query = select(m).where(m.c.workspace_id == workspace_id, m.c.segment_id == segment_id)
    if as_of is None:
        query = query.where(m.c.exited_at.is_(None))
    else:
        query = query.where(m.c.entered_at <= as_of, or_(m.c.exited_at.is_(None), m.c.exited_at > as_of))
    if after is not None:
        query = query.where(m.c.contact_id > after)
    rows = conn.execute(query.order_by(m.c.contact_id).limit(limit))
    return [_membership(r) for r in rows]


def count_members(conn: Connection, workspace_id: str, segment_id: str) -> int:
    query = select(func.count()).where(
        m.c.workspace_id == workspace_id, m.c.segment_id == segment_id, m.c.exited_at.is_(None)
    )
    return int(conn.execute(query).scalar_one())


def contact_history(
    conn: Connection, workspace_id: str, contact_id: str, *, current_only: bool
) -> list[Membership]:
    """Stays of the contact and of the contacts merged into it, oldest first."""
    merged = select(contact_merges.c.merged_id).where(
        contact_merges.c.workspace_id == workspace_id, contact_merges.c.into_id == contact_id
    )
    query = select(m).where(
        m.c.workspace_id == workspace_id, or_(m.c.contact_id == contact_id, m.c.contact_id.in_(merged))
    )
    if current_only:
        query = query.where(and_(m.c.exited_at.is_(None), m.c.contact_id == contact_id))
    rows = conn.execute(query.order_by(m.c.entered_at, m.c.segment_id))
    return [_membership(r) for r in rows]


def delete_for_contacts(conn: Connection, workspace_id: str, contact_ids: Sequence[str]) -> None:
    """Erase: the contacts' membership history and timers."""
    for table in (segment_memberships, segment_timers):
        conn.execute(
            delete(table).where(table.c.workspace_id == workspace_id, table.c.contact_id.in_(contact_ids))
        )


def _membership(row: Any) -> Membership:
    return Membership(
        segment_id=row.segment_id,
        contact_id=row.contact_id,
        entered_at=row.entered_at,
        exited_at=row.exited_at,
    )
