"""SQL for journeys: definitions and versions, runs (claimed by workers), the run trace and the
journey inbox. Claims lock their rows until the claiming transaction ends (`FOR UPDATE SKIP LOCKED`
on PostgreSQL; SQLite's single writer excludes everyone else)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, case, delete, func, or_, select, update

from nurture.domain.journeys.records import StoredJourney
from nurture.domain.journeys.runs import RunState, RunStatus
from nurture.store.schema import (
    contacts,
    journey_inbox,
    journey_runs,
    journey_schedules,
    journey_timers,
    journey_versions,
    journeys,
    list_members,
    lists,
    run_steps,
    scoring_models,
    segment_memberships,
    segments,
)
from nurture.store.sql import (
    copy_rows,
    execute_many,
    in_chunks,
    insert_ignore,
    insert_ignore_returning,
    update_many,
)

LIVE = (RunStatus.ACTIVE.value, RunStatus.WAITING.value, RunStatus.CALLING.value)
_TIMED = (RunStatus.WAITING.value, RunStatus.CALLING.value)  # claimed when `wake_at` passes


@dataclass(frozen=True)
class RunRow:
    """A run as stored: its state plus what the engine keeps beside it."""

    state: RunState
    journey_id: str
    version: int
    steps: int
    attempts: int
    ended_at: datetime | None


@dataclass(frozen=True)
class InboxItem:
    workspace_id: str
    id: str
    contact_id: str
    kind: str
    name: str | None
    event_id: str | None
    data: dict[str, Any]
    created_at: datetime


# ---- journeys and versions ----


def _journey(row: Any) -> StoredJourney:
    return StoredJourney(row.id, row.name, row.status, row.version, row.created_at, row.updated_at)


def find_journey(conn: Connection, workspace_id: str, id_or_name: str) -> StoredJourney | None:
    query = select(journeys).where(
        journeys.c.workspace_id == workspace_id,
        or_(journeys.c.id == id_or_name, journeys.c.name == id_or_name),
    )
    row = conn.execute(query.order_by(journeys.c.id != id_or_name)).first()
    return _journey(row) if row is not None else None


def list_journeys(
    conn: Connection, workspace_id: str, *, statuses: Sequence[str] | None = None
) -> list[StoredJourney]:
    query = select(journeys).where(journeys.c.workspace_id == workspace_id)
    if statuses is not None:
        query = query.where(journeys.c.status.in_(list(statuses)))
    return [_journey(row) for row in conn.execute(query.order_by(journeys.c.name))]


def insert_journey(conn: Connection, workspace_id: str, row: StoredJourney) -> None:
    conn.execute(journeys.insert().values(workspace_id=workspace_id, **row.__dict__))


def set_journey(conn: Connection, workspace_id: str, journey_id: str, now: datetime, **values: Any) -> None:
    conn.execute(
        update(journeys)
        .where(journeys.c.workspace_id == workspace_id, journeys.c.id == journey_id)
        .values(updated_at=now, **values)
    )


def insert_version(
    conn: Connection,
    workspace_id: str,
    journey_id: str,
    version: int,
    document: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        journey_versions.insert().values(
            workspace_id=workspace_id,
            journey_id=journey_id,
            version=version,
            document=document,
            created_at=now,
        )
    )


def version_document(
    conn: Connection, workspace_id: str, journey_id: str, version: int
) -> dict[str, Any] | None:
    query = select(journey_versions.c.document).where(
        journey_versions.c.workspace_id == workspace_id,
        journey_versions.c.journey_id == journey_id,
        journey_versions.c.version == version,
    )
    found = conn.execute(query).scalar()
    return dict(found) if found is not None else None


def versions(conn: Connection, workspace_id: str, journey_id: str) -> list[tuple[int, datetime]]:
    query = (
        select(journey_versions.c.version, journey_versions.c.created_at)
        .where(journey_versions.c.workspace_id == workspace_id, journey_versions.c.journey_id == journey_id)
        .order_by(journey_versions.c.version)
    )
    return [(row.version, row.created_at) for row in conn.execute(query)]


# ---- runs ----

r = journey_runs


def _state_row(workspace_id: str, run: RunRow) -> dict[str, Any]:
    state = run.state
    return {
        "workspace_id": workspace_id,
        "id": state.run_id,
        "journey_id": run.journey_id,
        "version": run.version,
        "contact_id": state.contact_id,
        "correlation": state.correlation or "",
        "status": state.status.value,
        "node": state.node,
        "wake_at": state.wake_at,
        "lease_until": None,
        "attempts": run.attempts,
        "steps": run.steps,
        "context": state.context,
        "sends": state.sends,
        "visits": state.visits,
        "entered_at": state.entered_at,
        "converted_at": state.converted_at,
        "ended_at": run.ended_at,
        "reason": state.reason,
        "updated_at": run.ended_at or state.entered_at,
    }


def insert_run(conn: Connection, workspace_id: str, run: RunRow, now: datetime) -> bool:
    """Insert a new run; False when the contact already has a live run of the journey with the same
    correlation key (the partial unique index refuses it)."""
    row = _state_row(workspace_id, run) | {"updated_at": now}
    return execute_many(conn, insert_ignore(conn, r), [row]) == 1


def insert_runs(conn: Connection, workspace_id: str, runs: Sequence[RunRow], now: datetime) -> set[str]:
    """Insert new runs at once; returns the ids written. A run is left out when its contact already
    has a live run of the journey with the same correlation key (the partial unique index)."""
    rows = [_state_row(workspace_id, run) | {"updated_at": now} for run in runs]
    return {str(found) for found in insert_ignore_returning(conn, r, rows, "id")}


def _run(row: Any) -> RunRow:
    state = RunState(
        run_id=row.id,
        workspace_id=row.workspace_id,
        contact_id=row.contact_id,
        entered_at=row.entered_at,
        node=row.node,
        status=RunStatus(row.status),
        wake_at=row.wake_at,
        correlation=row.correlation or None,
        context=dict(row.context or {}),
        sends=dict(row.sends or {}),
        visits=dict(row.visits or {}),
        converted_at=row.converted_at,
        reason=row.reason,
    )
    return RunRow(state, row.journey_id, row.version, row.steps, row.attempts, row.ended_at)


# runs of paused journeys hold where they are: their timers fire once the journey is resumed
_journey_active = (
    select(journeys.c.id)
    .where(
        journeys.c.workspace_id == r.c.workspace_id,
        journeys.c.id == r.c.journey_id,
        journeys.c.status == "active",
    )
    .exists()
)


_claim_due = (
    select(r)
    .where(r.c.status == bindparam("status"), r.c.wake_at <= bindparam("now"), _journey_active)
    .order_by(r.c.wake_at)
    .limit(bindparam("limit"))
    .with_for_update(of=r, skip_locked=True)
)


def claim_due_runs(conn: Connection, now: datetime, limit: int, status: RunStatus) -> list[RunRow]:
    """Runs of one status (waiting: their timer came due; calling: due for their call) whose
    `wake_at` passed, earliest first. One status at a time, so the (status, wake_at) index hands
    them over in order and the claim reads `limit` rows however many are due or asleep."""
    rows = conn.execute(_claim_due, {"status": status.value, "now": now, "limit": limit})
    return [_run(row) for row in rows]


def has_due_runs(conn: Connection, now: datetime) -> bool:
    query = select(r.c.id).where(r.c.status.in_(_TIMED), r.c.wake_at <= now, _journey_active).limit(1)
    return conn.execute(query).first() is not None


def lease_calls(conn: Connection, runs: Sequence[RunRow], until: datetime) -> None:
    """Calling runs are claimed by moving their `wake_at` past the call's timeout: a worker that dies
    mid-call leaves the run to be called again (with the same idempotency key) once it passes."""
    statement = (
        update(r)
        .where(r.c.workspace_id == bindparam("w_id"), r.c.id == bindparam("r_id"))
        .values(wake_at=bindparam("until"))
    )
    rows = [{"w_id": run.state.workspace_id, "r_id": run.state.run_id, "until": until} for run in runs]
    execute_many(conn, statement, rows)


def live_runs(conn: Connection, workspace_id: str, contact_ids: Sequence[str]) -> list[RunRow]:
    """The live runs of these contacts, locked for this transaction (skipping runs another worker
    holds: their worker sees the same inbox item's effect on its next step)."""
    found: list[RunRow] = []
    for part in in_chunks(conn, sorted(set(contact_ids))):
        query = (
            select(r)
            .where(r.c.workspace_id == workspace_id, r.c.contact_id.in_(part), r.c.status.in_(LIVE))
            .where(_journey_active)
            .order_by(r.c.entered_at)
            .with_for_update(of=r, skip_locked=True)
        )
        found.extend(_run(row) for row in conn.execute(query))
    return found


def last_entries(
    conn: Connection, workspace_id: str, journey_id: str, contact_ids: Sequence[str]
) -> dict[str, datetime]:
    """When each contact last entered the journey (any version, any outcome)."""
    found: dict[str, datetime] = {}
    for part in in_chunks(conn, sorted(set(contact_ids))):
        query = (
            select(r.c.contact_id, func.max(r.c.entered_at))
            .where(r.c.workspace_id == workspace_id, r.c.journey_id == journey_id, r.c.contact_id.in_(part))
            .group_by(r.c.contact_id)
        )
        found.update({row[0]: row[1] for row in conn.execute(query)})
    return found


_SAVED = (
    "status",
    "node",
    "wake_at",
    "lease_until",
    "attempts",
    "steps",
    "context",
    "sends",
    "visits",
    "converted_at",
    "ended_at",
    "reason",
)


def save_runs(conn: Connection, workspace_id: str, runs: Sequence[RunRow], now: datetime) -> None:
    """Write the runs' new states (one statement for the batch on PostgreSQL)."""
    rows = []
    for run in runs:
        row = _state_row(workspace_id, run)
        rows.append(
            {"workspace_id": workspace_id, "id": run.state.run_id, "updated_at": now}
            | {name: row[name] for name in _SAVED}
        )
    update_many(conn, r, ("workspace_id", "id"), rows)


def runs_of_contact(
    conn: Connection, workspace_id: str, contact_id: str, journey_id: str | None
) -> list[RunRow]:
    query = select(r).where(r.c.workspace_id == workspace_id, r.c.contact_id == contact_id)
    if journey_id is not None:
        query = query.where(r.c.journey_id == journey_id)
    return [_run(row) for row in conn.execute(query.order_by(r.c.entered_at))]


def run_counts(conn: Connection, workspace_id: str, journey_id: str) -> dict[str, int]:
    query = (
        select(r.c.status, func.count())
        .where(r.c.workspace_id == workspace_id, r.c.journey_id == journey_id)
        .group_by(r.c.status)
    )
    return {row[0]: row[1] for row in conn.execute(query)}


# ---- the trace ----


def insert_steps(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append trace lines (COPY on PostgreSQL: a run's lines are written by the one transaction that
    holds the run, so (run, seq) never clashes)."""
    copy_rows(conn, run_steps, rows)


def steps_of(conn: Connection, workspace_id: str, run_ids: Sequence[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {run_id: [] for run_id in run_ids}
    for part in in_chunks(conn, sorted(set(run_ids))):
        query = (
            select(run_steps)
            .where(run_steps.c.workspace_id == workspace_id, run_steps.c.run_id.in_(part))
            .order_by(run_steps.c.run_id, run_steps.c.seq)
        )
        for row in conn.execute(query):
            found[row.run_id].append(row)
    return found


# ---- inbox ----

i = journey_inbox


def enqueue(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    execute_many(conn, i.insert(), rows)


def claim_inbox(conn: Connection, limit: int) -> list[InboxItem]:
    query = select(i).order_by(i.c.created_at).limit(limit).with_for_update(skip_locked=True)
    return [
        InboxItem(
            row.workspace_id,
            row.id,
            row.contact_id,
            row.kind,
            row.name,
            row.event_id,
            dict(row.data),
            row.created_at,
        )
        for row in conn.execute(query)
    ]


def has_inbox(conn: Connection) -> bool:
    return conn.execute(select(i.c.id).limit(1)).first() is not None


_delete_item = delete(i).where(i.c.workspace_id == bindparam("w_id"), i.c.id == bindparam("i_id"))


def delete_inbox(conn: Connection, items: Sequence[InboxItem]) -> None:
    execute_many(conn, _delete_item, [{"w_id": item.workspace_id, "i_id": item.id} for item in items])


def workspace_stamp(conn: Connection, workspace_id: str) -> tuple[tuple[str, str, int], ...]:
    """(id, status, version) of every journey of the workspace: it changes whenever one is applied,
    paused, resumed or archived (a workspace has tens of journeys, not millions)."""
    query = (
        select(journeys.c.id, journeys.c.status, journeys.c.version)
        .where(journeys.c.workspace_id == workspace_id)
        .order_by(journeys.c.id)
    )
    return tuple((row.id, row.status, row.version) for row in conn.execute(query))


def end_live_runs(conn: Connection, workspace_id: str, journey_id: str, reason: str, now: datetime) -> int:
    """Exit every live run of a journey (archiving it)."""
    result = conn.execute(
        update(r)
        .where(r.c.workspace_id == workspace_id, r.c.journey_id == journey_id, r.c.status.in_(LIVE))
        .values(status=RunStatus.EXITED.value, wake_at=None, reason=reason, ended_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)


_NAMED = {"segment": segments, "list": lists, "scoring model": scoring_models}


def resolve_ids(conn: Connection, workspace_id: str, kind: str, values: Sequence[str]) -> dict[str, str]:
    """For each value, the id of the segment, list or scoring model (`kind`) whose id or, failing
    that, whose name it is; values that name nothing are left out."""
    table = _NAMED[kind]
    wanted = sorted(set(values))
    if not wanted:
        return {}
    query = select(table.c.id, table.c.name).where(
        table.c.workspace_id == workspace_id, or_(table.c.id.in_(wanted), table.c.name.in_(wanted))
    )
    rows = conn.execute(query).all()
    found: dict[str, str] = {}
    for value in wanted:
        by_id = next((row.id for row in rows if row.id == value), None)
        by_name = next((row.id for row in rows if row.name == value), None)
        if by_id or by_name:
            found[value] = by_id or by_name or value
    return found


# ---- time-based triggers ----

t = journey_timers


def set_timers(
    conn: Connection, workspace_id: str, journey_id: str, due: Sequence[tuple[str, datetime | None]]
) -> None:
    """Replace the timers of these contacts (None: the contact has none any more)."""
    ids = [contact_id for contact_id, _ in due]
    for part in in_chunks(conn, ids):
        conn.execute(
            delete(t).where(
                t.c.workspace_id == workspace_id, t.c.journey_id == journey_id, t.c.contact_id.in_(part)
            )
        )
    rows = [
        {"workspace_id": workspace_id, "journey_id": journey_id, "contact_id": contact_id, "due_at": at}
        for contact_id, at in due
        if at is not None
    ]
    execute_many(conn, t.insert(), rows)


def clear_timers(conn: Connection, workspace_id: str, journey_id: str) -> None:
    conn.execute(delete(t).where(t.c.workspace_id == workspace_id, t.c.journey_id == journey_id))


def claim_due_timers(conn: Connection, now: datetime, limit: int) -> list[tuple[str, str, str, datetime]]:
    """(workspace, journey, contact, due_at) of timers that came due, earliest first."""
    query = (
        select(t.c.workspace_id, t.c.journey_id, t.c.contact_id, t.c.due_at)
        .where(t.c.due_at <= now)
        .order_by(t.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row[0], row[1], row[2], row[3]) for row in conn.execute(query)]


def has_due_timers(conn: Connection, now: datetime) -> bool:
    found = conn.execute(select(t.c.due_at).where(t.c.due_at <= now).limit(1)).first()
    if found is not None:
        return True
    query = select(sc.c.zone).join(journeys, _schedule_journey).where(_due_schedule(now)).limit(1)
    return conn.execute(query).first() is not None


def contacts_page(
    conn: Connection, workspace_id: str, after: str | None, limit: int
) -> list[tuple[str, dict[str, Any], str | None]]:
    """(id, attributes, timezone) of the workspace's contacts in id order, a page at a time."""
    query = select(contacts.c.id, contacts.c.attributes, contacts.c.timezone).where(
        contacts.c.workspace_id == workspace_id
    )
    if after is not None:
        query = query.where(contacts.c.id > after)
    rows = conn.execute(query.order_by(contacts.c.id).limit(limit))
    return [(row.id, dict(row.attributes or {}), row.timezone) for row in rows]


def contact_zone_and_attributes(
    conn: Connection, workspace_id: str, contact_ids: Sequence[str]
) -> dict[str, tuple[dict[str, Any], str | None]]:
    found: dict[str, tuple[dict[str, Any], str | None]] = {}
    for part in in_chunks(conn, sorted(set(contact_ids))):
        query = select(contacts.c.id, contacts.c.attributes, contacts.c.timezone).where(
            contacts.c.workspace_id == workspace_id, contacts.c.id.in_(part)
        )
        found.update({row.id: (dict(row.attributes or {}), row.timezone) for row in conn.execute(query)})
    return found


sc = journey_schedules
_schedule_journey = (journeys.c.workspace_id == sc.c.workspace_id) & (journeys.c.id == sc.c.journey_id)


def _due_schedule(now: datetime) -> ColumnElement[bool]:
    return (sc.c.next_fire_at <= now) & (journeys.c.status == "active")


def due_schedules(conn: Connection, now: datetime, limit: int) -> list[tuple[str, str, int, str]]:
    """(workspace, journey, version, zone) of the schedules of active journeys that came due, locked."""
    query = (
        select(sc.c.workspace_id, sc.c.journey_id, journeys.c.version, sc.c.zone)
        .join(journeys, _schedule_journey)
        .where(_due_schedule(now))
        .order_by(sc.c.next_fire_at)
        .limit(limit)
        .with_for_update(of=sc, skip_locked=True)
    )
    return [(row[0], row[1], row[2], row[3]) for row in conn.execute(query)]


def set_schedules(
    conn: Connection, workspace_id: str, journey_id: str, fires: Sequence[tuple[str, datetime | None]]
) -> None:
    """When the schedule next fires in these zones ("": its one zone); None drops the zone."""
    zones = [zone for zone, _ in fires]
    if zones:
        conn.execute(
            delete(sc).where(
                sc.c.workspace_id == workspace_id, sc.c.journey_id == journey_id, sc.c.zone.in_(zones)
            )
        )
    rows = [_schedule_row(workspace_id, journey_id, zone, at) for zone, at in fires if at is not None]
    execute_many(conn, sc.insert(), rows)


def add_schedules(
    conn: Connection, workspace_id: str, journey_id: str, fires: Sequence[tuple[str, datetime]]
) -> None:
    """Zones the schedule does not know yet; the ones it knows keep their next time."""
    rows = [_schedule_row(workspace_id, journey_id, zone, at) for zone, at in fires]
    if rows:
        conn.execute(insert_ignore(conn, sc), rows)


def _schedule_row(workspace_id: str, journey_id: str, zone: str, at: datetime) -> dict[str, Any]:
    return {"workspace_id": workspace_id, "journey_id": journey_id, "zone": zone, "next_fire_at": at}


def clear_schedules(conn: Connection, workspace_id: str, journey_id: str) -> None:
    conn.execute(delete(sc).where(sc.c.workspace_id == workspace_id, sc.c.journey_id == journey_id))


def contact_zones(conn: Connection, workspace_id: str) -> set[str | None]:
    """The time zones the workspace's contacts live in (None: contacts without one)."""
    query = select(contacts.c.timezone).where(contacts.c.workspace_id == workspace_id).distinct()
    return set(conn.execute(query).scalars())


def zone_has_contacts(conn: Connection, workspace_id: str, zone: str) -> bool:
    query = select(contacts.c.id).where(contacts.c.workspace_id == workspace_id, contacts.c.timezone == zone)
    return conn.execute(query.limit(1)).first() is not None


def audience_page(
    conn: Connection,
    workspace_id: str,
    segment_id: str | None,
    list_id: str | None,
    after: str | None,
    limit: int,
    zone: ZoneFilter | None = None,
) -> list[str]:
    """A page of the contact ids a schedule enrols: a segment's members, a list's, or everyone;
    with `zone`, only the contacts living in it."""
    if segment_id is not None:
        m = segment_memberships
        query = select(m.c.contact_id).where(
            m.c.workspace_id == workspace_id, m.c.segment_id == segment_id, m.c.exited_at.is_(None)
        )
        column = m.c.contact_id
    elif list_id is not None:
        query = select(list_members.c.contact_id).where(
            list_members.c.workspace_id == workspace_id, list_members.c.list_id == list_id
        )
        column = list_members.c.contact_id
    else:
        query = select(contacts.c.id).where(contacts.c.workspace_id == workspace_id)
        column = contacts.c.id
    if zone is not None:
        if column is not contacts.c.id:
            query = query.join(
                contacts, (contacts.c.workspace_id == workspace_id) & (contacts.c.id == column)
            )
        lives_there = contacts.c.timezone == zone.name
        query = query.where(lives_there | contacts.c.timezone.is_(None) if zone.unzoned else lives_there)
    if after is not None:
        query = query.where(column > after)
    return list(conn.execute(query.order_by(column).limit(limit)).scalars())


@dataclass(frozen=True)
class ZoneFilter:
    """Contacts whose time zone is `name`; with `unzoned`, also those without one."""

    name: str
    unzoned: bool = False


def live_runs_by_node(
    conn: Connection, workspace_id: str, journey_id: str
) -> list[tuple[int, str | None, int]]:
    """(version, node, runs) of the journey's live runs."""
    query = (
        select(r.c.version, r.c.node, func.count())
        .where(r.c.workspace_id == workspace_id, r.c.journey_id == journey_id, r.c.status.in_(LIVE))
        .group_by(r.c.version, r.c.node)
        .order_by(r.c.version, r.c.node)
    )
    return [(row[0], row[1], int(row[2])) for row in conn.execute(query)]


def move_runs(
    conn: Connection,
    workspace_id: str,
    journey_id: str,
    moves: Sequence[tuple[int, str, str]],
    version: int,
    now: datetime,
) -> int:
    """Move live runs waiting at (old version, node) to `version` at the mapped node; returns how many."""
    moved = 0
    for old_version, node, target in moves:
        result = conn.execute(
            update(r)
            .where(
                r.c.workspace_id == workspace_id,
                r.c.journey_id == journey_id,
                r.c.version == old_version,
                r.c.node == node,
                r.c.status == RunStatus.WAITING.value,
            )
            .values(version=version, node=target, updated_at=now)
        )
        moved += int(result.rowcount or 0)
    return moved


# a contact's rows in these tables follow it into a merge (`move_contact`)
CONTACT_TABLES = (journey_runs, journey_inbox, journey_timers)


def move_contact(conn: Connection, workspace_id: str, source_id: str, target_id: str, now: datetime) -> None:
    """A contact merged into another: its runs, inbox rows go with it; a live run that would be a
    second live run of the survivor (same journey and correlation key) ends; its date timers go (the
    survivor's own stand, and a changed date moves them)."""
    other = journey_runs.alias("survivor")
    clash = (
        select(other.c.id)
        .where(
            other.c.workspace_id == workspace_id,
            other.c.contact_id == target_id,
            other.c.journey_id == r.c.journey_id,
            other.c.correlation == r.c.correlation,
            other.c.status.in_(LIVE),
        )
        .exists()
    )
    conn.execute(
        update(r)
        .where(r.c.workspace_id == workspace_id, r.c.contact_id == source_id, r.c.status.in_(LIVE), clash)
        .values(
            status=RunStatus.EXITED.value,
            wake_at=None,
            reason=f"merged into contact {target_id}, which was on this journey already",
            ended_at=now,
            updated_at=now,
        )
    )
    for table in (journey_runs, journey_inbox):
        conn.execute(
            update(table)
            .where(table.c.workspace_id == workspace_id, table.c.contact_id == source_id)
            .values(contact_id=target_id)
        )
    conn.execute(delete(t).where(t.c.workspace_id == workspace_id, t.c.contact_id == source_id))


# ---- analytics ----


def node_figures(conn: Connection, workspace_id: str, journey_id: str) -> dict[str, dict[str, int]]:
    """Per node, every version: `reached` (runs with a step there), of those `converted`; the live
    runs `waiting` there now; and the runs that ended there `exited` or `failed` (a completed run
    has left every node)."""
    s = run_steps
    reached = (
        select(
            s.c.node,
            func.count(func.distinct(s.c.run_id)),
            func.count(func.distinct(case((r.c.converted_at.is_not(None), s.c.run_id)))),
        )
        .join(r, (r.c.workspace_id == s.c.workspace_id) & (r.c.id == s.c.run_id))
        .where(r.c.workspace_id == workspace_id, r.c.journey_id == journey_id, s.c.node.is_not(None))
        .group_by(s.c.node)
    )
    figures: dict[str, dict[str, int]] = {}
    for node, runs, converted in conn.execute(reached):
        figures.setdefault(node, {}).update(reached=int(runs), converted=int(converted))
    where_now = (
        select(r.c.node, r.c.status, func.count())
        .where(r.c.workspace_id == workspace_id, r.c.journey_id == journey_id, r.c.node.is_not(None))
        .group_by(r.c.node, r.c.status)
    )
    for node, status, runs in conn.execute(where_now):
        key = "waiting" if status in LIVE else status
        at = figures.setdefault(node, {})
        at[key] = at.get(key, 0) + int(runs)
    return figures


def conversions(conn: Connection, workspace_id: str, journey_id: str) -> int:
    query = select(func.count()).where(
        r.c.workspace_id == workspace_id, r.c.journey_id == journey_id, r.c.converted_at.is_not(None)
    )
    return int(conn.execute(query).scalar() or 0)
