"""When the passing of time alone can next change a condition's answer for one contact.

Live segments use this to schedule re-evaluation (a contact leaves "active in the last 30 days" the
moment its last event turns 30 days + 1 µs old) instead of rebuilding every segment on a timer.
Guarantee: for every `t` with `now <= t < next_change_time(...)`, `evaluate(condition, view, t)` equals
`evaluate(condition, view, now)`. None means time alone never changes it (new data may).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo

from nurture.domain.conditions.matching import calendar_date, instant
from nurture.domain.conditions.nodes import (
    AccountCondition,
    AggregateCondition,
    AllOf,
    AnyOf,
    AttributeCondition,
    Condition,
    EventCondition,
    LastDays,
    MessageCondition,
    Not,
    OccurrenceCondition,
    PropertyFilter,
    SinceEvent,
    TimeWindow,
)
from nurture.domain.conditions.values import AnniversaryToday, MoreThanAgo, Operator, WithinLast, WithinNext
from nurture.domain.contact_view import ContactView, TrackedEvent
from nurture.domain.evaluate import (
    ENGAGEMENT_KINDS,
    account_value,
    contact_zone,
    field_value,
    occurrence_time,
    property_value,
)

TICK = timedelta(microseconds=1)


def next_change_time(condition: Condition, view: ContactView, now: datetime) -> datetime | None:
    """The earliest instant after `now` at which `condition` may change for `view` with no new data."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    zone = contact_zone(view.contact)
    later = [moment for moment in _candidates(condition, view, now, zone) if moment > now]
    return min(later, default=None)


def _candidates(condition: Condition, view: ContactView, now: datetime, zone: tzinfo) -> Iterator[datetime]:
    if isinstance(condition, AllOf | AnyOf):
        for child in condition.conditions:
            yield from _candidates(child, view, now, zone)
    elif isinstance(condition, Not):
        yield from _candidates(condition.condition, view, now, zone)
    elif isinstance(condition, AttributeCondition):
        yield from operator_changes(condition.operator, field_value(view.contact, condition.field), now, zone)
    elif isinstance(condition, AccountCondition):
        for account in view.accounts:
            value = account_value(account, condition.field)
            yield from operator_changes(condition.operator, value, now, zone)
    elif isinstance(condition, EventCondition | AggregateCondition):
        yield from _event_changes(condition.name, condition.where, condition.window, view.events, now, zone)
    elif isinstance(condition, OccurrenceCondition):
        yield from _event_changes(condition.name, condition.where, None, view.events, now, zone)
        moment = occurrence_time(condition, view.events, now, zone)
        if moment is not None:
            yield from operator_changes(condition.operator, moment, now, zone)
    elif isinstance(condition, MessageCondition):
        kinds = ENGAGEMENT_KINDS[condition.action]
        if isinstance(condition.window, SinceEvent):
            yield from (e.timestamp for e in view.events if e.name == condition.window.name)
        for item in view.message_events:
            if item.kind in kinds:
                yield from _entry_and_exit(item.timestamp, condition.window)


def operator_changes(operator: Operator, actual: object, now: datetime, zone: tzinfo) -> Iterator[datetime]:
    """Instants at which a relative-date operator's answer on a fixed value may flip."""
    if isinstance(operator, AnniversaryToday):
        if calendar_date(actual) is not None:
            yield next_local_midnight(now, zone)
        return
    if not isinstance(operator, WithinLast | WithinNext | MoreThanAgo):
        return
    moment = instant(actual)
    if moment is None:
        return
    span = timedelta(days=operator.days)
    if isinstance(operator, WithinLast):
        yield from (moment, moment + span + TICK)
    elif isinstance(operator, WithinNext):
        yield from (moment - span, moment + TICK)
    else:
        yield moment + span + TICK


def next_local_midnight(now: datetime, zone: tzinfo) -> datetime:
    """The first instant after `now` that starts a new calendar day in `zone`."""
    local_day = now.astimezone(zone).date()
    candidate = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    # Midnight with the earlier offset (fold=0) is the day start, also when a DST gap skips midnight.
    # Only where clocks fall back across midnight can that instant still be the old local date; then
    # step forward (offsets are whole quarter hours) until the date has changed.
    while candidate.astimezone(zone).date() == local_day or candidate <= now:
        candidate += timedelta(minutes=15)
    return candidate


def _event_changes(
    name: str,
    where: Sequence[PropertyFilter],
    window: TimeWindow | None,
    events: Sequence[TrackedEvent],
    now: datetime,
    zone: tzinfo,
) -> Iterator[datetime]:
    reference = window.name if isinstance(window, SinceEvent) else None
    for event in events:
        if event.name == reference:
            yield event.timestamp
        if event.name != name:
            continue
        yield from _entry_and_exit(event.timestamp, window)
        for item in where:
            value = property_value(event.properties, item.path())
            yield from operator_changes(item.operator, value, now, zone)


def _entry_and_exit(timestamp: datetime, window: TimeWindow | None) -> Iterator[datetime]:
    """An event becomes visible at its timestamp and leaves a `last_days` window N days + 1 µs later."""
    yield timestamp
    if isinstance(window, LastDays):
        yield timestamp + timedelta(days=window.days) + TICK
