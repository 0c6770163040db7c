"""SQL for the suppression list (addresses never to be messaged again), keyed by hashed address."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, select

from nurture.store.schema import suppressions
from nurture.store.sql import chunks, insert_ignore


def add(
    conn: Connection,
    workspace_id: str,
    channel: str,
    value_hash: str,
    reason: str,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Suppress an address; one already suppressed keeps its first reason."""
    conn.execute(
        insert_ignore(conn, suppressions).values(
            workspace_id=workspace_id,
            channel=channel,
            value_hash=value_hash,
            reason=reason,
            detail=detail,
            created_at=now,
        )
    )


def suppressed(conn: Connection, workspace_id: str, channel: str, hashes: Iterable[str]) -> dict[str, str]:
    """Map hash → reason for the given hashes that are suppressed."""
    found: dict[str, str] = {}
    for part in chunks(sorted(set(hashes))):
        rows = conn.execute(
            select(suppressions.c.value_hash, suppressions.c.reason).where(
                suppressions.c.workspace_id == workspace_id,
                suppressions.c.channel == channel,
                suppressions.c.value_hash.in_(part),
            )
        )
        found.update({row[0]: row[1] for row in rows})
    return found


def remove(conn: Connection, workspace_id: str, channel: str, value_hash: str, reason: str) -> bool:
    """Lift a suppression of the given reason (e.g. an SMS START lifts STOP's `unsubscribed`); other
    reasons (erased, hard_bounce) stay."""
    result = conn.execute(
        delete(suppressions).where(
            suppressions.c.workspace_id == workspace_id,
            suppressions.c.channel == channel,
            suppressions.c.value_hash == value_hash,
            suppressions.c.reason == reason,
        )
    )
    return result.rowcount > 0
