"""SQL for sales owners."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from nurture.domain.routing import Owner, OwnerInput
from nurture.store.schema import contacts, owners


def _from_row(row: Any) -> Owner:
    return Owner(row.id, row.name, row.email, bool(row.active), dict(row.attributes or {}), row.created_at)


def insert(conn: Connection, workspace_id: str, owner: Owner) -> None:
    conn.execute(
        owners.insert().values(
            workspace_id=workspace_id,
            id=owner.id,
            name=owner.name,
            email=owner.email,
            active=owner.active,
            attributes=owner.attributes,
            created_at=owner.created_at,
        )
    )


def get(conn: Connection, workspace_id: str, owner_id: str) -> Owner | None:
    row = conn.execute(
        select(owners).where(owners.c.workspace_id == workspace_id, owners.c.id == owner_id)
    ).first()
    return _from_row(row) if row else None


def by_email(conn: Connection, workspace_id: str, email: str) -> Owner | None:
    row = conn.execute(
        select(owners).where(owners.c.workspace_id == workspace_id, owners.c.email == email)
    ).first()
    return _from_row(row) if row else None


def all_owners(conn: Connection, workspace_id: str) -> dict[str, Owner]:
    rows = conn.execute(select(owners).where(owners.c.workspace_id == workspace_id))
    return {r.id: _from_row(r) for r in rows}


def listing(
    conn: Connection, workspace_id: str, *, after: str | None, limit: int, active: bool | None
) -> list[Owner]:
    query = select(owners).where(owners.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(owners.c.id > after)
    if active is not None:
        query = query.where(owners.c.active == active)
    return [_from_row(r) for r in conn.execute(query.order_by(owners.c.id).limit(limit))]


def change(conn: Connection, workspace_id: str, owner_id: str, data: OwnerInput) -> None:
    conn.execute(
        update(owners)
        .where(owners.c.workspace_id == workspace_id, owners.c.id == owner_id)
        .values(name=data.name, email=data.email, active=data.active, attributes=data.attributes)
    )


def delete_owner(conn: Connection, workspace_id: str, owner_id: str) -> None:
    conn.execute(delete(owners).where(owners.c.workspace_id == workspace_id, owners.c.id == owner_id))


def owned_count(conn: Connection, workspace_id: str, owner_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(contacts)
            .where(contacts.c.workspace_id == workspace_id, contacts.c.owner_id == owner_id)
        ).scalar_one()
    )
