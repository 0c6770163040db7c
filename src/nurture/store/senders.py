"""SQL for senders (who mail comes from and how it leaves)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from nurture.domain.messages.senders import Sender
from nurture.store.schema import senders

_FIELDS = (
    "name",
    "from_name",
    "from_email",
    "reply_to",
    "smtp_url",
    "rate_per_second",
    "dkim_domain",
    "dkim_selector",
    "dkim_key",
    "is_default",
    "created_at",
    "updated_at",
)


def _sender(row: Any) -> Sender:
    m = row._mapping
    return Sender(id=m["id"], **{name: m[name] for name in _FIELDS})


def get(conn: Connection, workspace_id: str, sender_id: str, *, lock: bool = False) -> Sender | None:
    query = select(senders).where(senders.c.workspace_id == workspace_id, senders.c.id == sender_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return _sender(row) if row else None


def all_senders(conn: Connection, workspace_id: str) -> list[Sender]:
    rows = conn.execute(select(senders).where(senders.c.workspace_id == workspace_id).order_by(senders.c.id))
    return [_sender(r) for r in rows]


def default(conn: Connection, workspace_id: str) -> Sender | None:
    row = conn.execute(
        select(senders)
        .where(senders.c.workspace_id == workspace_id, senders.c.is_default.is_(True))
        .order_by(senders.c.id)
        .limit(1)
    ).first()
    return _sender(row) if row else None


def by_ids(conn: Connection, workspace_id: str, sender_ids: Iterable[str]) -> dict[str, Sender]:
    wanted = sorted(set(sender_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        select(senders).where(senders.c.workspace_id == workspace_id, senders.c.id.in_(wanted))
    )
    return {r.id: _sender(r) for r in rows}


def count(conn: Connection, workspace_id: str) -> int:
    return int(
        conn.scalar(select(func.count()).select_from(senders).where(senders.c.workspace_id == workspace_id))
        or 0
    )


def name_taken(conn: Connection, workspace_id: str, name: str, but: str | None) -> bool:
    query = select(senders.c.id).where(senders.c.workspace_id == workspace_id, senders.c.name == name)
    if but is not None:
        query = query.where(senders.c.id != but)
    return conn.execute(query.limit(1)).first() is not None


def save(conn: Connection, workspace_id: str, sender: Sender, *, new: bool) -> None:
    values = {name: getattr(sender, name) for name in _FIELDS}
    if new:
        conn.execute(senders.insert().values(workspace_id=workspace_id, id=sender.id, **values))
    else:
        conn.execute(
            update(senders)
            .where(senders.c.workspace_id == workspace_id, senders.c.id == sender.id)
            .values(**values)
        )


def clear_default(conn: Connection, workspace_id: str, but: str, now: datetime) -> None:
    """Make every other sender of the workspace not the default."""
    conn.execute(
        update(senders)
        .where(senders.c.workspace_id == workspace_id, senders.c.id != but, senders.c.is_default.is_(True))
        .values(is_default=False, updated_at=now)
    )


def remove(conn: Connection, workspace_id: str, sender_id: str) -> bool:
    result = conn.execute(
        delete(senders).where(senders.c.workspace_id == workspace_id, senders.c.id == sender_id)
    )
    return bool(result.rowcount)
