"""SQL for captured mail: what the capture transport stored instead of sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from nurture.store.schema import captured_mail
from nurture.store.sql import execute_many

c = captured_mail


@dataclass(frozen=True)
class CapturedMail:
    workspace_id: str
    id: str
    message_id: str | None
    mail_from: str
    rcpt_to: str
    subject: str | None
    raw: str
    captured_at: datetime


def insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    execute_many(conn, c.insert(), rows)


def newest(
    conn: Connection, workspace_id: str | None, limit: int, *, with_raw: bool = False
) -> list[CapturedMail]:
    """The latest captures, newest first (of one workspace, or all)."""
    columns = [col for col in c.columns if with_raw or col.name != "raw"]
    query = select(*columns)
    if workspace_id is not None:
        query = query.where(c.c.workspace_id == workspace_id)
    rows = conn.execute(query.order_by(c.c.captured_at.desc(), c.c.id.desc()).limit(limit))
    return [CapturedMail(**{**{"raw": ""}, **row._mapping}) for row in rows]


def find(conn: Connection, workspace_id: str | None, key: str) -> CapturedMail | None:
    """A capture by its id or by the outbox message it holds (the latest if captured twice)."""
    query = select(c).where(or_(c.c.id == key, c.c.message_id == key))
    if workspace_id is not None:
        query = query.where(c.c.workspace_id == workspace_id)
    row = conn.execute(query.order_by(c.c.captured_at.desc()).limit(1)).first()
    return CapturedMail(**row._mapping) if row else None
