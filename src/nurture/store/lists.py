"""SQL for static lists and their members."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from nurture.domain.audiences import StaticList
from nurture.store.schema import list_members, lists
from nurture.store.sql import chunks, insert_ignore


def _from_row(row: Any, members: int = 0) -> StaticList:
    return StaticList(row.id, row.name, row.description, row.created_at, row.updated_at, members)


def _count(conn: Connection, workspace_id: str, list_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(list_members)
            .where(list_members.c.workspace_id == workspace_id, list_members.c.list_id == list_id)
        ).scalar_one()
    )


def insert(conn: Connection, workspace_id: str, item: StaticList) -> None:
    conn.execute(
        lists.insert().values(
            workspace_id=workspace_id,
            id=item.id,
            name=item.name,
            description=item.description,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )
    )


def get(conn: Connection, workspace_id: str, list_id: str, *, lock: bool = False) -> StaticList | None:
    query = select(lists).where(lists.c.workspace_id == workspace_id, lists.c.id == list_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return _from_row(row, _count(conn, workspace_id, list_id)) if row else None


def by_name(conn: Connection, workspace_id: str, name: str) -> str | None:
    found: str | None = conn.execute(
        select(lists.c.id).where(lists.c.workspace_id == workspace_id, lists.c.name == name)
    ).scalar()
    return found


def listing(conn: Connection, workspace_id: str, *, after: str | None, limit: int) -> list[StaticList]:
    """Lists in id order after the cursor, each with its member count."""
    counts = (
        select(list_members.c.list_id, func.count().label("n"))
        .where(list_members.c.workspace_id == workspace_id)
        .group_by(list_members.c.list_id)
        .subquery()
    )
    query = (
        select(lists, func.coalesce(counts.c.n, 0).label("members"))
        .outerjoin(counts, counts.c.list_id == lists.c.id)
        .where(lists.c.workspace_id == workspace_id)
    )
    if after is not None:
        query = query.where(lists.c.id > after)
    rows = conn.execute(query.order_by(lists.c.id).limit(limit))
    return [_from_row(r, int(r.members)) for r in rows]


def change(
    conn: Connection, workspace_id: str, list_id: str, name: str, description: str | None, now: datetime
) -> None:
    conn.execute(
        update(lists)
        .where(lists.c.workspace_id == workspace_id, lists.c.id == list_id)
        .values(name=name, description=description, updated_at=now)
    )


def delete_list(conn: Connection, workspace_id: str, list_id: str) -> list[str]:
    """Delete the list and its memberships; returns the contacts that were on it."""
    members = member_ids(conn, workspace_id, list_id)
    conn.execute(
        delete(list_members).where(
            list_members.c.workspace_id == workspace_id, list_members.c.list_id == list_id
        )
    )
    conn.execute(delete(lists).where(lists.c.workspace_id == workspace_id, lists.c.id == list_id))
    return members


def member_ids(conn: Connection, workspace_id: str, list_id: str) -> list[str]:
    return list(
        conn.execute(
            select(list_members.c.contact_id)
            .where(list_members.c.workspace_id == workspace_id, list_members.c.list_id == list_id)
            .order_by(list_members.c.contact_id)
        ).scalars()
    )


def present(conn: Connection, workspace_id: str, list_id: str, contact_ids: Iterable[str]) -> set[str]:
    """Which of `contact_ids` are on the list."""
    found: set[str] = set()
    for part in chunks(sorted(set(contact_ids))):
        found.update(
            conn.execute(
                select(list_members.c.contact_id).where(
                    list_members.c.workspace_id == workspace_id,
                    list_members.c.list_id == list_id,
                    list_members.c.contact_id.in_(part),
                )
            ).scalars()
        )
    return found


def add(conn: Connection, workspace_id: str, list_id: str, contact_ids: Sequence[str], now: datetime) -> None:
    if contact_ids:
        conn.execute(
            insert_ignore(conn, list_members),
            [
                {"workspace_id": workspace_id, "list_id": list_id, "contact_id": c, "added_at": now}
                for c in contact_ids
            ],
        )


def remove(conn: Connection, workspace_id: str, list_id: str, contact_ids: Sequence[str]) -> None:
    for part in chunks(sorted(set(contact_ids))):
        conn.execute(
            delete(list_members).where(
                list_members.c.workspace_id == workspace_id,
                list_members.c.list_id == list_id,
                list_members.c.contact_id.in_(part),
            )
        )


def members(
    conn: Connection, workspace_id: str, list_id: str, *, after: str | None, limit: int
) -> list[tuple[str, datetime]]:
    """(contact id, added at) in contact id order after the cursor."""
    query = select(list_members.c.contact_id, list_members.c.added_at).where(
        list_members.c.workspace_id == workspace_id, list_members.c.list_id == list_id
    )
    if after is not None:
        query = query.where(list_members.c.contact_id > after)
    return [
        (r.contact_id, r.added_at)
        for r in conn.execute(query.order_by(list_members.c.contact_id).limit(limit))
    ]


def lists_of(conn: Connection, workspace_id: str, contact_id: str) -> list[tuple[StaticList, datetime]]:
    """The lists a contact is on, with when it was added, in list id order."""
    rows = conn.execute(
        select(lists, list_members.c.added_at)
        .join(
            list_members,
            (list_members.c.workspace_id == lists.c.workspace_id) & (list_members.c.list_id == lists.c.id),
        )
        .where(lists.c.workspace_id == workspace_id, list_members.c.contact_id == contact_id)
        .order_by(lists.c.id)
    )
    return [(_from_row(r), r.added_at) for r in rows]
