"""SQL for `audience_versions`: a token that changes whenever what a workspace's live consumers read
changes, and the lock that orders such a change against the writers deciding what to queue.

Writers hold the lock shared from before they read the version until they commit; a change takes it
exclusively. So a writer that decided with an old version has committed before the change commits
(and before the full recompute that follows it starts reading). SQLite's single writer already
orders both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from nurture.store.ids import new_id
from nurture.store.schema import audience_versions
from nurture.store.sql import PerDialect, insert, lock_keys

_current = PerDialect(
    lambda _dialect: select(audience_versions.c.version).where(
        audience_versions.c.workspace_id == bindparam("workspace_id")
    )
)


def lock_key(workspace_id: str) -> str:
    """The lock a reader holds shared (`store.sql.lock_keys`) before it reads the version."""
    return f"{workspace_id}:audience-version"


def read(conn: Connection, workspace_id: str) -> str:
    """The workspace's current version ("" before any change), holding it until the transaction ends."""
    lock_keys(conn, [lock_key(workspace_id)], shared=True)
    return current(conn, workspace_id)


def current(conn: Connection, workspace_id: str) -> str:
    """The version, for a caller already holding `lock_key` shared (in an earlier statement)."""
    return str(conn.execute(_current(conn), {"workspace_id": workspace_id}).scalar() or "")


def change(conn: Connection, workspace_id: str, now: datetime) -> None:
    """Give the workspace a new version, after every writer that decided with the old one commits."""
    lock_keys(conn, [lock_key(workspace_id)])
    stmt = insert(conn, audience_versions).values(workspace_id=workspace_id, version=new_id(), changed_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[audience_versions.c.workspace_id],
            set_={"version": stmt.excluded.version, "changed_at": stmt.excluded.changed_at},
        )
    )
