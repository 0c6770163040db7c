"""Passing contact changes on to the journey worker. The audience worker calls `note` in its own
transaction with the changes it claimed and the segment entries and exits it wrote; only what an
active journey reads becomes an inbox row, so workspaces without journeys pay one cheap query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ChangeKind
from nurture.domain.journeys.entry import HappeningKind
from nurture.services.journeys.active import ACTIVE, ActiveJourneys
from nurture.store import journeys as store
from nurture.store.audience_queue import QueuedChange
from nurture.store.ids import new_id
from nurture.store.wakeups import notify

JOURNEYS_CHANNEL = "nurture_journeys"


def note(
    conn: Connection,
    workspace_id: str,
    journeys: ActiveJourneys,
    changes: Sequence[QueuedChange],
    entered: Iterable[tuple[str, str]],
    exited: Iterable[tuple[str, str]],
    now: datetime,
    owner: Any = None,
) -> int:
    """Write inbox rows for `changes` (with `owner` mapping merged-away ids to survivors) and for
    segment moves, given as (segment id, contact id). Returns how many rows were written."""
    plan = journeys.active(conn, workspace_id).plan
    survivor = owner or (lambda contact_id: contact_id)
    rows: list[dict[str, Any]] = []

    def add(contact_id: str, kind: HappeningKind, name: str | None, event_id: str | None = None) -> None:
        rows.append(
            {
                "workspace_id": workspace_id,
                "id": new_id(),
                "contact_id": survivor(contact_id),
                "kind": kind.value,
                "name": name,
                "event_id": event_id,
                "data": {},
                "created_at": now,
            }
        )

    for change in changes:
        if not plan.wants(change.kind, change.name):
            continue
        if change.kind == ChangeKind.EVENT:
            add(change.contact_id, HappeningKind.EVENT, change.name, change.event_id)
        else:
            add(change.contact_id, HappeningKind.CHANGE, change.name or change.kind)
    for moves, kind in ((entered, HappeningKind.SEGMENT_ENTERED), (exited, HappeningKind.SEGMENT_EXITED)):
        for segment_id, contact_id in moves:
            if plan.wants("membership", f"segment:{segment_id}"):
                add(contact_id, kind, segment_id)
    store.enqueue(conn, rows)
    if rows:
        notify(conn, JOURNEYS_CHANNEL)
    return len(rows)


def note_score(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    model_id: str,
    before: float,
    after: float,
    now: datetime,
) -> None:
    """A contact's score moved: pass it on when a journey's score trigger reads that model."""
    if model_id not in ACTIVE.active(conn, workspace_id).plan.score_models:
        return
    row = {
        "workspace_id": workspace_id,
        "id": new_id(),
        "contact_id": contact_id,
        "kind": HappeningKind.CHANGE.value,
        "name": f"score:{model_id}",
        "event_id": None,
        "data": {"from": before, "to": after},
        "created_at": now,
    }
    store.enqueue(conn, [row])
    notify(conn, JOURNEYS_CHANNEL)
