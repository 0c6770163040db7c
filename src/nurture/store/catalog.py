"""SQL for the data catalog (`catalog_entries`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select

from nurture.domain.catalog import Entry, EntryKind
from nurture.store.schema import catalog_entries
from nurture.store.sql import execute_many, insert_ignore


def add(
    conn: Connection, workspace_id: str, entries: Iterable[Entry], now: datetime, *, declared: bool
) -> None:
    rows = [
        {
            "workspace_id": workspace_id,
            "kind": kind.value,
            "scope": scope,
            "name": name,
            "type": type_,
            "declared": declared,
            "first_seen_at": now,
        }
        for kind, scope, name, type_ in sorted(entries)
    ]
    if rows:
        execute_many(conn, insert_ignore(conn, catalog_entries), rows)


def entries(conn: Connection, workspace_id: str, kinds: Iterable[EntryKind] = ()) -> list[Entry]:
    query = select(
        catalog_entries.c.kind, catalog_entries.c.scope, catalog_entries.c.name, catalog_entries.c.type
    ).where(catalog_entries.c.workspace_id == workspace_id)
    wanted = [k.value for k in kinds]
    if wanted:
        query = query.where(catalog_entries.c.kind.in_(wanted))
    rows = conn.execute(
        query.order_by(catalog_entries.c.kind, catalog_entries.c.scope, catalog_entries.c.name)
    )
    return [(EntryKind(kind), scope, name, type_) for kind, scope, name, type_ in rows]


def listing(conn: Connection, workspace_id: str) -> list[dict[str, object]]:
    rows = conn.execute(
        select(catalog_entries)
        .where(catalog_entries.c.workspace_id == workspace_id)
        .order_by(
            catalog_entries.c.kind, catalog_entries.c.scope, catalog_entries.c.name, catalog_entries.c.type
        )
    )
    return [dict(row._mapping) for row in rows]
