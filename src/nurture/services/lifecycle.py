"""Changing a contact's lifecycle stage: the one write path, used by the REST API, scoring
thresholds and routing. It records the change as an activity (journeys trigger on it, CRM sync reads
it) and tells the audience worker, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.errors import Invalid, NotFound
from nurture.domain.lifecycle import DEFAULT_STAGES, check_stage, is_forward, parse_stages
from nurture.domain.scoring import model_from_stored
from nurture.services.clock import Clock
from nurture.services.routing import assign_on_stage
from nurture.store import activities
from nurture.store import lifecycle as lifecycle_store
from nurture.store import scoring as scoring_store
from nurture.store.db import Database


def stages(conn: Connection, workspace_id: str) -> Sequence[str]:
    """The workspace's ordered lifecycle stages (DEFAULT_STAGES unless configured)."""
    return lifecycle_store.stages(conn, workspace_id) or DEFAULT_STAGES


def set_stages(conn: Connection, workspace_id: str, value: object, now: datetime) -> tuple[str, ...]:
    """Configure the workspace's stages (validated); a stage a scoring threshold leads to must stay.
    Contacts at a stage that is removed keep it; it counts as before every stage."""
    new = parse_stages(value)
    for row in scoring_store.models(conn, workspace_id):
        for threshold in model_from_stored(row.name, row.definition).thresholds:
            if threshold.stage not in new:
                raise Invalid.one(
                    "stages",
                    f"scoring model {row.name!r} moves contacts to {threshold.stage!r}: "
                    "keep that stage or change the model's thresholds first",
                )
    lifecycle_store.set_stages(conn, workspace_id, new, now)
    return new


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
    found, previous = lifecycle_store.lock_contact_stage(conn, workspace_id, contact_id)
    if not found:
        raise NotFound(f"contact {contact_id} not found")
    if previous == stage:
        return False
    if forward_only and stage is not None and not is_forward(previous, stage, known):
        return False
    lifecycle_store.set_contact_stage(conn, workspace_id, contact_id, stage, now)
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


class LifecycleStages:
    """The workspace's stage list through the admin API."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, workspace_id: str) -> Sequence[str]:
        with self.db.read() as conn:
            return stages(conn, workspace_id)

    def set(self, workspace_id: str, value: object) -> tuple[str, ...]:
        with self.db.write() as conn:
            return set_stages(conn, workspace_id, value, self.clock.now())
