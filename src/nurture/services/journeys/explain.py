"""Why did this contact get this? Each of a contact's runs with its path and the reason at every
decision, read from the trace the engine wrote as it stepped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from nurture.domain.errors import NotFound
from nurture.domain.evaluate import contact_zone_named
from nurture.domain.messages.outbox import Message
from nurture.services.audience_refs import existing_contact
from nurture.store import journeys as store
from nurture.store import messages as message_store
from nurture.store.contacts import zone_of
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
        sends = [s.data.get("send_id") for lines in steps.values() for s in lines if s.action == "send"]
        sent = message_store.by_ids(conn, workspace_id, [i for i in sends if isinstance(i, str)])
        zone = contact_zone_named(zone_of(conn, workspace_id, found))
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
            trace=[_line(step, sent, zone) for step in steps[run.state.run_id]],
        )
        for run in runs
    ]


def _line(step: Any, sent: dict[str, Message], zone: tzinfo) -> TraceLine:
    """A trace line; a send's line also says what became of the message (sent, held, not sent)."""
    data = dict(step.data)
    reason = step.reason
    message = sent.get(data.get("send_id", "")) if step.action == "send" else None
    if message is not None:
        outcome = message_outcome(message, zone)
        data["message"] = {"status": message.status, "reason": message.reason, "detail": message.detail}
        reason = f"{reason} — {outcome}"
    return TraceLine(step.at, step.node, step.action, reason, data)


def _when(moment: datetime, zone: tzinfo) -> str:
    utc = f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    name = getattr(zone, "key", "UTC")
    return utc if name == "UTC" else f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {name} ({utc})"


def message_outcome(message: Message, zone: tzinfo) -> str:
    """What became of a message, in words: "sent at …", "held until 09:00 Europe/Berlin: quiet hours",
    "not sent: unsubscribed from topic 'newsletter' (decided …)"."""
    why = message.detail or (message.reason or "").replace("_", " ")
    if message.status == "sent" and message.sent_at is not None:
        return f"sent at {_when(message.sent_at, zone)}"
    if message.status == "pending" and message.reason:
        return f"held until {_when(message.due_at, zone)}: {(message.reason or '').replace('_', ' ')}"
    if message.status == "pending":
        return "waiting to be sent"
    if message.status == "skipped":
        return f"not sent: {why} (decided {_when(message.updated_at, zone)})"
    if message.status == "failed":
        return f"failed: {why}"
    return f"{message.status}: {why}" if why else message.status
