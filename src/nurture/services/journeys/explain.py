"""Why did this contact get this? Each of a contact's runs with its path and the reason at every
decision, read from the trace the engine wrote as it stepped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nurture.domain.errors import NotFound
from nurture.services.audience_refs import existing_contact
from nurture.store import journeys as store
from nurture.store.db import Database


@dataclass(frozen=True)
class TraceLine:
    at: datetime
    node: str | None
    action: str
    reason: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RunExplained:
    run_id: str
    journey_id: str
    journey: str
    version: int
    status: str
    node: str | None
    wake_at: datetime | None
    entered_at: datetime
    ended_at: datetime | None
    converted_at: datetime | None
    reason: str | None
    correlation: str | None
    trace: list[TraceLine]


def explain(
    db: Database, workspace_id: str, contact_id: str, journey: str | None = None
) -> list[RunExplained]:
    with db.read() as conn:
        found = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
        journey_id = None
        if journey is not None:
            row = store.find_journey(conn, workspace_id, journey)
            if row is None:
                raise NotFound(f"no journey {journey!r} in this workspace")
            journey_id = row.id
        names = {j.id: j.name for j in store.list_journeys(conn, workspace_id)}
        runs = store.runs_of_contact(conn, workspace_id, found, journey_id)
        steps = store.steps_of(conn, workspace_id, [r.state.run_id for r in runs])
    return [
        RunExplained(
            run_id=run.state.run_id,
            journey_id=run.journey_id,
            journey=names.get(run.journey_id, run.journey_id),
            version=run.version,
            status=run.state.status.value,
            node=run.state.node,
            wake_at=run.state.wake_at,
            entered_at=run.state.entered_at,
            ended_at=run.ended_at,
            converted_at=run.state.converted_at,
            reason=run.state.reason,
            correlation=run.state.correlation,
            trace=[
                TraceLine(s.at, s.node, s.action, s.reason, dict(s.data)) for s in steps[run.state.run_id]
            ],
        )
        for run in runs
    ]
