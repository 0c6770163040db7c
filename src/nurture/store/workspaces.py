"""SQL for workspaces and their API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from nurture.store.schema import api_keys, workspaces


@dataclass(frozen=True)
class WorkspaceRow:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class KeyRow:
    id: str
    workspace_id: str
    kind: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def insert_workspace(conn: Connection, workspace_id: str, name: str, now: datetime) -> None:
    conn.execute(workspaces.insert().values(id=workspace_id, name=name, created_at=now))


def list_workspaces(conn: Connection) -> list[WorkspaceRow]:
    rows = conn.execute(select(workspaces).order_by(workspaces.c.created_at, workspaces.c.id))
    return [WorkspaceRow(r.id, r.name, r.created_at) for r in rows]


def get_workspace(conn: Connection, workspace_id: str) -> WorkspaceRow | None:
    row = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).first()
    return WorkspaceRow(row.id, row.name, row.created_at) if row else None


def insert_key(
    conn: Connection, *, key_id: str, workspace_id: str, kind: str, key_hash: str, prefix: str, now: datetime
) -> None:
    conn.execute(
        api_keys.insert().values(
            id=key_id, workspace_id=workspace_id, kind=kind, key_hash=key_hash, prefix=prefix, created_at=now
        )
    )


def find_key(conn: Connection, key_hash: str) -> KeyRow | None:
    row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
    if row is None:
        return None
    return KeyRow(row.id, row.workspace_id, row.kind, row.prefix, row.created_at, row.revoked_at)


def list_keys(conn: Connection, workspace_id: str) -> list[KeyRow]:
    rows = conn.execute(
        select(api_keys).where(api_keys.c.workspace_id == workspace_id).order_by(api_keys.c.created_at)
    )
    return [KeyRow(r.id, r.workspace_id, r.kind, r.prefix, r.created_at, r.revoked_at) for r in rows]


def revoke_key(conn: Connection, workspace_id: str, key_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(api_keys)
        .where(
            api_keys.c.workspace_id == workspace_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
        )
        .values(revoked_at=now)
    )
    return bool(result.rowcount)
