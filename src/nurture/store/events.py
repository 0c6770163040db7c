"""SQL for the append-only event store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, literal, or_, select, union_all

from nurture.domain.contact_view import TrackedEvent
from nurture.domain.contacts import Event
from nurture.store.audience_versions import current as current_version
from nurture.store.schema import audience_versions, events
from nurture.store.sql import PerDialect, copy_rows, execute_many, in_chunks, insert_ignore, one_of

_existing = PerDialect(
    lambda dialect: select(events.c.message_id).where(
        events.c.workspace_id == bindparam("workspace_id"), one_of(dialect, events.c.message_id, "ids")
    )
)


def existing_message_ids(conn: Connection, workspace_id: str, message_ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for part in in_chunks(conn, sorted(set(message_ids))):
        found.update(conn.execute(_existing(conn), {"workspace_id": workspace_id, "ids": part}).scalars())
    return found


_existing_and_version = PerDialect(
    lambda dialect: union_all(
        select(literal("m"), events.c.message_id).where(
            events.c.workspace_id == bindparam("workspace_id"), one_of(dialect, events.c.message_id, "ids")
        ),
        select(literal("v"), audience_versions.c.version).where(
            audience_versions.c.workspace_id == bindparam("workspace_id")
        ),
    )
)


def existing_message_ids_and_version(
    conn: Connection, workspace_id: str, message_ids: Iterable[str]
) -> tuple[set[str], str]:
    """`existing_message_ids` and the workspace's audience version (`store.audience_versions.current`,
    for a caller holding its lock), in one round trip on PostgreSQL."""
    if conn.dialect.name != "postgresql":
        return existing_message_ids(conn, workspace_id, message_ids), current_version(conn, workspace_id)
    found: set[str] = set()
    version = ""
    rows = conn.execute(
        _existing_and_version(conn), {"workspace_id": workspace_id, "ids": sorted(set(message_ids))}
    )
    for kind, value in rows:
        if kind == "v":
            version = value
        else:
            found.add(value)
    return found, version


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]], *, copy: bool = False) -> int:
    """Insert event rows; a message id already stored in the workspace is skipped. Returns rows written.

    `copy` (PostgreSQL): faster, but a message id stored meanwhile by a concurrent transaction fails
    the caller's transaction instead of being skipped; the caller then stores again without it."""
    if copy:
        return copy_rows(conn, events, rows)
    return execute_many(conn, insert_ignore(conn, events), rows)


def event_from_row(row: Any) -> Event:
    return Event(
        id=row.id,
        contact_id=row.contact_id,
        message_id=row.message_id,
        type=row.type,
        name=row.name,
        user_id=row.user_id,
        anonymous_id=row.anonymous_id,
        properties=dict(row.properties or {}),
        context=dict(row.context or {}),
        timestamp=row.timestamp,
        original_timestamp=row.original_timestamp,
        sent_at=row.sent_at,
        received_at=row.received_at,
    )


def list_events(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    *,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Event]:
    """A contact's events, newest first, strictly older than the cursor `(timestamp, id)`."""
    query = select(events).where(events.c.workspace_id == workspace_id, events.c.contact_id == contact_id)
    if before is not None:
        at, event_id = before
        query = query.where(
            or_(events.c.timestamp < at, and_(events.c.timestamp == at, events.c.id < event_id))
        )
    rows = conn.execute(query.order_by(events.c.timestamp.desc(), events.c.id.desc()).limit(limit))
    return [event_from_row(r) for r in rows]


def all_events(conn: Connection, workspace_id: str, contact_id: str) -> list[Event]:
    rows = conn.execute(
        select(events)
        .where(events.c.workspace_id == workspace_id, events.c.contact_id == contact_id)
        .order_by(events.c.timestamp, events.c.id)
    )
    return [event_from_row(r) for r in rows]


def received_since(
    conn: Connection, workspace_id: str, contact_ids: Iterable[str], since: datetime
) -> dict[str, list[Event]]:
    """The contacts' events received at or after `since`, oldest first, by contact."""
    found: dict[str, list[Event]] = {}
    for part in in_chunks(conn, sorted(set(contact_ids))):
        rows = conn.execute(
            select(events)
            .where(
                events.c.workspace_id == workspace_id,
                events.c.contact_id.in_(part),
                events.c.received_at >= since,
            )
            .order_by(events.c.timestamp, events.c.id)
        )
        for row in rows:
            found.setdefault(row.contact_id, []).append(event_from_row(row))
    return found


def tracked_by_ids(conn: Connection, workspace_id: str, ids: Iterable[str]) -> dict[str, TrackedEvent]:
    """Events by id, as conditions and journeys read them (name, properties, timestamp)."""
    found: dict[str, TrackedEvent] = {}
    for part in in_chunks(conn, sorted(set(ids))):
        query = select(events.c.id, events.c.name, events.c.properties, events.c.timestamp).where(
            events.c.workspace_id == workspace_id, events.c.id.in_(part)
        )
        for row in conn.execute(query):
            found[row.id] = TrackedEvent(row.name or "", dict(row.properties or {}), row.timestamp)
    return found


def tracked_since(conn: Connection, workspace_id: str, since: datetime) -> list[tuple[str, TrackedEvent]]:
    """(contact id, event) of every track event with `timestamp >= since`, in time order."""
    query = (
        select(events.c.contact_id, events.c.name, events.c.properties, events.c.timestamp)
        .where(events.c.workspace_id == workspace_id, events.c.type == "track", events.c.timestamp >= since)
        .order_by(events.c.timestamp, events.c.id)
    )
    return [
        (row.contact_id, TrackedEvent(row.name or "", dict(row.properties or {}), row.timestamp))
        for row in conn.execute(query)
    ]
