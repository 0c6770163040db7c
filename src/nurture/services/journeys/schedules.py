"""Time-based triggers. Date triggers keep one timer per contact and journey (set when the journey is
published, moved when the date attribute changes); schedule triggers keep the journey's next cron
time. When they come due the journey worker turns them into enrolments, which then follow the entry
rules like any other (entry condition, re-entry policy, one live run).

A schedule that came due while its journey was paused fires once on resume, not once per missed tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from nurture.domain.evaluate import contact_zone_named
from nurture.domain.journeys.step import Definition
from nurture.domain.journeys.timing import date_fire, next_cron
from nurture.domain.journeys.triggers import DateTrigger, ScheduleTrigger
from nurture.services.journeys.active import ActiveJourneys
from nurture.services.journeys.effects import enroll_rows
from nurture.store import journeys as store

PAGE = 1000


def published(conn: Connection, workspace_id: str, definition: Definition, now: datetime) -> None:
    """Set up the triggers of a newly published version: date timers for every contact, or the next
    cron time; a version without them clears what an earlier one had."""
    trigger = definition.journey.trigger
    journey_id = definition.journey_id
    store.clear_timers(conn, workspace_id, journey_id)
    next_fire = (
        next_cron(trigger.cron, ZoneInfo(trigger.zone), now) if isinstance(trigger, ScheduleTrigger) else None
    )
    store.set_journey(conn, workspace_id, journey_id, now, next_fire_at=next_fire)
    if not isinstance(trigger, DateTrigger):
        return
    after: str | None = None
    while True:
        page = store.contacts_page(conn, workspace_id, after, PAGE)
        if not page:
            return
        due = [(cid, _fire(trigger, attributes, zone, now)) for cid, attributes, zone in page]
        store.set_timers(conn, workspace_id, journey_id, [(cid, at) for cid, at in due if at is not None])
        after = page[-1][0]


def dates_changed(
    conn: Connection,
    workspace_id: str,
    definitions: Iterable[Definition],
    changed: dict[str, set[str]],
    now: datetime,
) -> None:
    """Contacts whose fields changed (contact id → field names): move their date timers."""
    for definition in definitions:
        trigger = definition.journey.trigger
        if not isinstance(trigger, DateTrigger):
            continue
        moving = {trigger.field, "timezone", "profile"}  # "profile": a new contact, anything may be set
        who = [cid for cid, fields in changed.items() if fields & moving]
        if not who:
            continue
        found = store.contact_zone_and_attributes(conn, workspace_id, who)
        due = [(cid, _fire(trigger, *found[cid], now) if cid in found else None) for cid in who]
        store.set_timers(conn, workspace_id, definition.journey_id, due)


def fire_due(conn: Connection, journeys: ActiveJourneys, now: datetime, limit: int) -> int:
    """Turn due date timers and schedules into enrolments; returns how many were queued."""
    queued = 0
    timers = store.claim_due_timers(conn, now, limit)
    by_journey: dict[tuple[str, str], list[str]] = {}
    for workspace_id, journey_id, contact_id, _ in timers:
        by_journey.setdefault((workspace_id, journey_id), []).append(contact_id)
    for (workspace_id, journey_id), contact_ids in by_journey.items():
        queued += _fire_dates(conn, journeys, workspace_id, journey_id, contact_ids, now)
    for workspace_id, journey_id, version in store.due_schedules(conn, now, limit):
        definition = journeys.definition(conn, workspace_id, journey_id, version)
        trigger = definition.journey.trigger if definition else None
        if not isinstance(trigger, ScheduleTrigger):
            store.set_journey(conn, workspace_id, journey_id, now, next_fire_at=None)
            continue
        after: str | None = None
        while page := store.audience_page(
            conn, workspace_id, trigger.segment_id, trigger.list_id, after, PAGE
        ):
            enroll_rows(conn, workspace_id, journey_id, page, now, "schedule")
            queued += len(page)
            after = page[-1]
        next_fire = next_cron(trigger.cron, ZoneInfo(trigger.zone), now)
        store.set_journey(conn, workspace_id, journey_id, now, next_fire_at=next_fire)
    return queued


def _fire_dates(
    conn: Connection,
    journeys: ActiveJourneys,
    workspace_id: str,
    journey_id: str,
    contact_ids: Sequence[str],
    now: datetime,
) -> int:
    row = store.find_journey(conn, workspace_id, journey_id)
    definition = journeys.definition(conn, workspace_id, journey_id, row.version) if row else None
    trigger = definition.journey.trigger if definition else None
    if row is None or row.status != "active" or not isinstance(trigger, DateTrigger):
        store.set_timers(conn, workspace_id, journey_id, [(cid, None) for cid in contact_ids])
        return 0
    enroll_rows(conn, workspace_id, journey_id, contact_ids, now, "date")
    found = store.contact_zone_and_attributes(conn, workspace_id, contact_ids)
    store.set_timers(
        conn,
        workspace_id,
        journey_id,
        [(cid, _fire(trigger, *found[cid], now) if cid in found else None) for cid in contact_ids],
    )
    return len(contact_ids)


def _fire(
    trigger: DateTrigger, attributes: dict[str, object], zone: str | None, now: datetime
) -> datetime | None:
    name = trigger.field.removeprefix("attributes.")
    if name not in attributes:
        return None
    return date_fire(trigger, attributes[name], contact_zone_named(zone), now)
