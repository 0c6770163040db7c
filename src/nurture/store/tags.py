"""SQL for contact tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, select

from nurture.store.schema import contact_tags
from nurture.store.sql import chunks, insert


def add(conn: Connection, workspace_id: str, contact_id: str, tag: str, now: datetime) -> bool:
    """Tag the contact; False when it had the tag already."""
    # RETURNING, not rowcount: the PostgreSQL driver reports -1 for INSERT … ON CONFLICT here
    inserted = conn.execute(
        insert(conn, contact_tags)
        .values(workspace_id=workspace_id, contact_id=contact_id, tag=tag, added_at=now)
        .on_conflict_do_nothing()
        .returning(contact_tags.c.tag)
    ).first()
    return inserted is not None


def remove(conn: Connection, workspace_id: str, contact_id: str, tag: str) -> bool:
    """Untag the contact; False when it did not have the tag."""
    deleted = conn.execute(
        delete(contact_tags)
        .where(
            contact_tags.c.workspace_id == workspace_id,
            contact_tags.c.contact_id == contact_id,
            contact_tags.c.tag == tag,
        )
        .returning(contact_tags.c.tag)
    ).first()
    return deleted is not None


def tags_of(conn: Connection, workspace_id: str, contact_ids: Iterable[str]) -> dict[str, list[str]]:
    """Contact id → its tags, sorted."""
    out: dict[str, list[str]] = defaultdict(list)
    for part in chunks(sorted(set(contact_ids))):
        rows = conn.execute(
            select(contact_tags.c.contact_id, contact_tags.c.tag)
            .where(contact_tags.c.workspace_id == workspace_id, contact_tags.c.contact_id.in_(part))
            .order_by(contact_tags.c.contact_id, contact_tags.c.tag)
        )
        for contact_id, tag in rows:
            out[contact_id].append(tag)
    return out
