"""Time-based triggers. Date triggers keep one timer per contact and journey (set when the journey is
published, moved when the date attribute changes); schedule triggers keep the cron's next time. When
they come due the journey worker turns them into enrolments, which then follow the entry rules like
any other (entry condition, re-entry policy, one live run).

A schedule read in one zone (a named one, or the workspace's `timezone` from the messaging
settings) has one next time and enrols its whole audience. A schedule read in each contact's zone
(`zone: contact`) keeps a next time per zone its contacts live in, and each firing enrols the audience
members of that zone, so "every Monday at 09:00" reaches Tokyo and Berlin at their own nine o'clock.
Contacts without a zone live in the workspace's zone. Zones are found when the journey is
published and when a contact's zone changes (or a new contact arrives); a zone whose last contact left
is dropped at its next firing.

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
from nurture.domain.profile import known_zones
from nurture.services import messaging_settings
from nurture.services.journeys.active import ActiveJourneys
from nurture.services.journeys.effects import enroll_rows
from nurture.store import journeys as store
from nurture.store.journeys import ZoneFilter

PAGE = 1000


def published(conn: Connection, workspace_id: str, definition: Definition, now: datetime) -> None:
    """Set up the triggers of a newly published version: date timers for every contact, or the next
    cron time; a version without them clears what an earlier one had."""
    trigger = definition.journey.trigger
    journey_id = definition.journey_id
    store.clear_timers(conn, workspace_id, journey_id)
    store.clear_schedules(conn, workspace_id, journey_id)
    if isinstance(trigger, ScheduleTrigger):
        zones = store.contact_zones(conn, workspace_id) if trigger.zone == "contact" else set()
        fires = _next_fires(trigger, zones, _workspace_zone(conn, workspace_id), now)
        store.set_schedules(conn, workspace_id, journey_id, fires)
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


def fields_changed(
    conn: Connection,
    workspace_id: str,
    definitions: Iterable[Definition],
    changed: dict[str, set[str]],
    now: datetime,
) -> None:
    """Contacts whose fields changed (contact id → field names): move their date timers, and give
    schedules read in each contact's zone the zones they did not know."""
    for definition in definitions:
        trigger = definition.journey.trigger
        if isinstance(trigger, DateTrigger):
            moving = {trigger.field, "timezone", "profile"}  # "profile": a new contact, anything may be set
        elif isinstance(trigger, ScheduleTrigger) and trigger.zone == "contact":
            moving = {"timezone", "profile"}
        else:
            continue
        who = [cid for cid, fields in changed.items() if fields & moving]
        if not who:
            continue
        found = store.contact_zone_and_attributes(conn, workspace_id, who)
        if isinstance(trigger, ScheduleTrigger):
            zones = {zone for _, zone in found.values()}
            fires = _next_fires(trigger, zones, _workspace_zone(conn, workspace_id), now)
            store.add_schedules(conn, workspace_id, definition.journey_id, fires)
            continue
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
    for workspace_id, journey_id, version, zone in store.due_schedules(conn, now, limit):
        definition = journeys.definition(conn, workspace_id, journey_id, version)
        trigger = definition.journey.trigger if definition else None
        if isinstance(trigger, ScheduleTrigger):
            queued += _fire_schedule(conn, workspace_id, journey_id, trigger, zone, now)
        else:
            store.set_schedules(conn, workspace_id, journey_id, [(zone, None)])
    return queued


def _fire_schedule(
    conn: Connection, workspace_id: str, journey_id: str, trigger: ScheduleTrigger, zone: str, now: datetime
) -> int:
    """Enrol the audience (in `zone`, for schedules read in each contact's zone) and set the next time."""
    fallback = _workspace_zone(conn, workspace_id)
    only = ZoneFilter(zone, unzoned=zone == fallback) if zone else None
    queued = 0
    after: str | None = None
    while page := store.audience_page(
        conn, workspace_id, trigger.segment_id, trigger.list_id, after, PAGE, only
    ):
        enroll_rows(conn, workspace_id, journey_id, page, now, "schedule")
        queued += len(page)
        after = page[-1]
    if not zone:
        store.set_schedules(conn, workspace_id, journey_id, _next_fires(trigger, set(), fallback, now))
        return queued
    gone = zone != fallback and not store.zone_has_contacts(conn, workspace_id, zone)
    next_fire = None if gone or zone not in known_zones() else next_cron(trigger.cron, ZoneInfo(zone), now)
    store.set_schedules(conn, workspace_id, journey_id, [(zone, next_fire)])
    # the workspace's fallback zone may have changed since: the contacts without a zone follow it
    store.add_schedules(conn, workspace_id, journey_id, _next_fires(trigger, set(), fallback, now))
    return queued


def _next_fires(
    trigger: ScheduleTrigger, zones: set[str | None], fallback: str, now: datetime
) -> list[tuple[str, datetime]]:
    """The schedule's next times: one ("" → the time) for a schedule read in one zone; per zone of
    `zones` plus the workspace's `fallback` zone for one read in each contact's zone."""
    if trigger.zone != "contact":
        wall = fallback if trigger.zone == "workspace" else trigger.zone
        return [("", next_cron(trigger.cron, ZoneInfo(wall), now))]
    names = {zone for zone in zones if zone and zone in known_zones()} | {fallback}
    return [(name, next_cron(trigger.cron, ZoneInfo(name), now)) for name in sorted(names)]


def _workspace_zone(conn: Connection, workspace_id: str) -> str:
    return messaging_settings.load(conn, workspace_id).timezone


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
