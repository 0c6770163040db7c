"""Helpers shared by the audience tests: segments, members, activities and rows of one workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from nurture.bootstrap import Container
from nurture.domain.activities import ActivityKind
from nurture.domain.segments import Segment
from nurture.store import activities as activity_store
from tests.conftest import declare_read_attributes, ingest

LOGIN_30 = {"type": "event", "name": "Login", "window": {"kind": "last_days", "days": 30}}
PRO = {"type": "attribute", "field": "attributes.plan", "operator": {"op": "equals", "value": "pro"}}


def segment(container: Container, workspace_id: str, name: str, condition: dict[str, Any]) -> Segment:
    """A segment whose (empty) first full evaluation is already done, so runs below show the live path."""
    declare_read_attributes(container, workspace_id, condition)
    created = container.segments.create(workspace_id, {"name": name, "condition": condition})
    container.audience.run_once()
    return created


def contact_of(container: Container, workspace_id: str, user_id: str) -> str:
    [found] = container.contacts.list(workspace_id, user_id=user_id).items
    return found.id


def members(container: Container, workspace_id: str, segment_id: str, **kwargs: Any) -> set[str]:
    page = container.segments.members(workspace_id, segment_id, limit=500, **kwargs)
    return {m.contact_id for m in page.items}


def activities(
    container: Container, workspace_id: str, contact_id: str
) -> list[tuple[ActivityKind, str | None]]:
    with container.db.read() as conn:
        found = activity_store.listing(conn, workspace_id, contact_id=contact_id, limit=500)
    return [(a.kind, a.subject_id) for a in found]


def count(container: Container, table: Any, workspace_id: str) -> int:
    with container.db.read() as conn:
        return int(
            conn.execute(select(func.count()).where(table.c.workspace_id == workspace_id)).scalar_one()
        )


def track(container: Container, workspace_id: str, user_id: str, event: str, **extra: Any) -> None:
    ingest(container, workspace_id, {"type": "track", "userId": user_id, "event": event, **extra})
