"""Changing a contact's lifecycle stage: the one write path, used by the REST API, scoring
thresholds and routing. It records the change as an activity (journeys trigger on it, CRM sync reads
it) and tells the audience worker, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.errors import NotFound
from nurture.domain.lifecycle import DEFAULT_STAGES, check_stage, is_forward
from nurture.services.routing import assign_on_stage
from nurture.store import activities
from nurture.store.schema import contacts


def stages(conn: Connection, workspace_id: str) -> Sequence[str]:
    """The workspace's ordered lifecycle stages."""
    return DEFAULT_STAGES


def change_stage(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    stage: str | None,
    now: datetime,
    reason: dict[str, Any],
    *,
    forward_only: bool = False,
) -> bool:
    """Set the contact's stage (None clears it); returns whether it changed. With `forward_only`,
    a move backwards along the workspace's stages is not made (thresholds never demote)."""
    known = stages(conn, workspace_id)
    if stage is not None:
        check_stage(stage, known)
    current = conn.execute(
        select(contacts.c.lifecycle_stage)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        .with_for_update()
    ).first()
    if current is None:
        raise NotFound(f"contact {contact_id} not found")
    previous: str | None = current[0]
    if previous == stage:
        return False
    if forward_only and stage is not None and not is_forward(previous, stage, known):
        return False
    conn.execute(
        update(contacts)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        .values(lifecycle_stage=stage, updated_at=now)
    )
    activities.record(
        conn,
        workspace_id,
        contact_id,
        ActivityKind.LIFECYCLE_CHANGED,
        now,
        data={"from": previous, "to": stage, **reason},
    )
    activities.enqueue_change(conn, workspace_id, contact_id, ChangeKind.PROFILE, now, name="lifecycle_stage")
    assign_on_stage(conn, workspace_id, contact_id, stage, now)  # routes at the workspace's stages (MQL)
    return True
