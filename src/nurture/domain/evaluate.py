"""The in-memory evaluator: does one contact, as seen in a `ContactView`, meet a condition at `now`?

Pure: no I/O, no clock. `now` must be an aware datetime; every event window only sees events with
`timestamp <= now`, so evaluating at an earlier `now` answers "as of then". Value-level rules (absent
values, types, case, dates) are in `nurture.domain.conditions.matching`; node-level rules are on each
node's class and below. The SQL compiler must give the same answer for every condition and contact.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from nurture.domain.conditions.matching import MISSING, passes
from nurture.domain.conditions.nodes import (
    DATE_FIELDS,
    AccountCondition,
    Aggregate,
    AggregateCondition,
    AllOf,
    AnyOf,
    AttributeCondition,
    BetweenDates,
    Condition,
    CountOp,
    Engagement,
    EventCondition,
    LastDays,
    LifecycleCondition,
    ListCondition,
    MessageCondition,
    Not,
    Occurrence,
    OccurrenceCondition,
    PropertyFilter,
    ScoreCondition,
    SegmentCondition,
    Since,
    SinceEvent,
    SubscriptionCondition,
    SubscriptionStatus,
    TagCondition,
    TimeWindow,
)
from nurture.domain.conditions.values import is_number
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind, TrackedEvent
from nurture.domain.contacts import Account, Contact
from nurture.domain.profile import known_zones

ENGAGEMENT_KINDS: dict[Engagement, frozenset[MessageEventKind]] = {
    Engagement.RECEIVED: frozenset({MessageEventKind.SENT, MessageEventKind.DELIVERED}),
    Engagement.OPENED: frozenset({MessageEventKind.OPENED}),
    Engagement.CLICKED: frozenset({MessageEventKind.CLICKED}),
}


def evaluate(condition: Condition, view: ContactView, now: datetime) -> bool:
    """Whether the contact in `view` meets `condition` at `now` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return _evaluate(condition, view, now.astimezone(UTC), contact_zone(view.contact))


def contact_zone(contact: Contact) -> tzinfo:
    """The contact's IANA zone; UTC when it has none or one that is not in `known_zones()` (the names
    the profile accepts; a few files ZoneInfo could still load, such as `posixrules`, are not zones)."""
    return contact_zone_named(contact.timezone)


def contact_zone_named(name: str | None) -> tzinfo:
    """The zone a contact's `timezone` field names, as `contact_zone` reads it."""
    if not name or name not in known_zones():
        return UTC
    return zoneinfo.ZoneInfo(name)


def _evaluate(condition: Condition, view: ContactView, now: datetime, zone: tzinfo) -> bool:
    if isinstance(condition, AllOf):
        return all(_evaluate(child, view, now, zone) for child in condition.conditions)
    if isinstance(condition, AnyOf):
        return any(_evaluate(child, view, now, zone) for child in condition.conditions)
    if isinstance(condition, Not):
        return not _evaluate(condition.condition, view, now, zone)
    if isinstance(condition, AttributeCondition):
        return passes(condition.operator, field_value(view.contact, condition.field), now, zone)
    if isinstance(condition, EventCondition):
        return _event(condition, view.events, now, zone)
    if isinstance(condition, OccurrenceCondition):
        return _occurrence(condition, view.events, now, zone)
    if isinstance(condition, AggregateCondition):
        return passes(condition.operator, aggregate(condition, view.events, now, zone), now, zone)
    if isinstance(condition, MessageCondition):
        found = any(True for _ in engagements(condition, view, now))
        return found == condition.performed
    return _membership(condition, view, now, zone)


def _membership(condition: Condition, view: ContactView, now: datetime, zone: tzinfo) -> bool:
    if isinstance(condition, SegmentCondition):
        return condition.segment_id in view.segment_ids
    if isinstance(condition, ListCondition):
        return condition.list_id in view.list_ids
    if isinstance(condition, TagCondition):
        return condition.tag in view.tags
    if isinstance(condition, LifecycleCondition):
        return view.lifecycle_stage in condition.stages
    if isinstance(condition, ScoreCondition):
        return passes(condition.operator, view.scores.get(condition.model, 0), now, zone)
    if isinstance(condition, SubscriptionCondition):
        status = view.subscriptions.get((condition.channel, condition.topic), SubscriptionStatus.NONE)
        return status == condition.status
    assert isinstance(condition, AccountCondition)
    return any(
        passes(condition.operator, account_value(account, condition.field), now, zone)
        for account in view.accounts
    )


def field_value(contact: Contact, field: str) -> Any:
    """A contact field by condition name; MISSING for an attribute the contact does not have."""
    if field.startswith("attributes."):
        return contact.attributes.get(field.removeprefix("attributes."), MISSING)
    if field in DATE_FIELDS:
        return getattr(contact, field)
    return contact.core()[field]


def account_value(account: Account, field: str) -> Any:
    """`account.name`, `account.domain` or `account.attributes.X` of one account."""
    name = field.removeprefix("account.")
    if name.startswith("attributes."):
        return account.attributes.get(name.removeprefix("attributes."), MISSING)
    return account.name if name == "name" else account.domain


def property_value(properties: Mapping[str, Any], path: Sequence[str]) -> Any:
    """A nested property (`properties.cart.total` → path `cart`, `total`); MISSING when absent."""
    current: Any = properties
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return MISSING
        current = current[key]
    return current


def window_start(
    window: TimeWindow, events: Iterable[TrackedEvent], now: datetime
) -> tuple[datetime | None, bool]:
    """The lower bound of a window and whether it is inclusive (None: no lower bound)."""
    if isinstance(window, LastDays):
        return now - timedelta(days=window.days), True
    if isinstance(window, BetweenDates):
        return window.start, True
    if isinstance(window, Since):
        return window.at, True
    if isinstance(window, SinceEvent):
        times = [e.timestamp for e in events if e.name == window.name and e.timestamp <= now]
        return (max(times), False) if times else (None, True)
    return None, True


def in_window(
    moment: datetime, start: tuple[datetime | None, bool], window: TimeWindow, now: datetime
) -> bool:
    lower, inclusive = start
    if moment > now or (isinstance(window, BetweenDates) and moment > window.end):
        return False
    if lower is None:
        return True
    return moment >= lower if inclusive else moment > lower


def matching_events(
    name: str, where: Sequence[PropertyFilter], events: Iterable[TrackedEvent], now: datetime, zone: tzinfo
) -> Iterator[TrackedEvent]:
    """`name` events up to `now` whose properties pass every filter."""
    for event in events:
        if event.name != name or event.timestamp > now:
            continue
        if all(passes(f.operator, property_value(event.properties, f.path()), now, zone) for f in where):
            yield event


def _windowed(
    name: str,
    where: Sequence[PropertyFilter],
    window: TimeWindow,
    events: Sequence[TrackedEvent],
    now: datetime,
    zone: tzinfo,
) -> list[TrackedEvent]:
    start = window_start(window, events, now)
    return [
        e
        for e in matching_events(name, where, events, now, zone)
        if in_window(e.timestamp, start, window, now)
    ]


def _event(condition: EventCondition, events: Sequence[TrackedEvent], now: datetime, zone: tzinfo) -> bool:
    count = len(_windowed(condition.name, condition.where, condition.window, events, now, zone))
    wanted = condition.count.value
    if condition.count.op is CountOp.AT_LEAST:
        met = count >= wanted
    elif condition.count.op is CountOp.AT_MOST:
        met = count <= wanted
    else:
        met = count == wanted
    return met == condition.performed


def occurrence_time(
    condition: OccurrenceCondition, events: Sequence[TrackedEvent], now: datetime, zone: tzinfo
) -> datetime | None:
    """The first or last matching event's timestamp up to `now`, None if there is none."""
    times = [e.timestamp for e in matching_events(condition.name, condition.where, events, now, zone)]
    if not times:
        return None
    return min(times) if condition.which is Occurrence.FIRST else max(times)


def _occurrence(
    condition: OccurrenceCondition, events: Sequence[TrackedEvent], now: datetime, zone: tzinfo
) -> bool:
    moment = occurrence_time(condition, events, now, zone)
    return passes(condition.operator, MISSING if moment is None else moment, now, zone)


def aggregate(
    condition: AggregateCondition, events: Sequence[TrackedEvent], now: datetime, zone: tzinfo
) -> Any:
    """The aggregate's value: sum and count_distinct of nothing are 0; avg, min and max of nothing are
    absent (MISSING). sum/avg/min/max read only number values; count_distinct counts distinct scalars."""
    values = [
        property_value(e.properties, condition.path())
        for e in _windowed(condition.name, condition.where, condition.window, events, now, zone)
    ]
    if condition.function is Aggregate.COUNT_DISTINCT:
        return len({_distinct_key(v) for v in values if isinstance(v, str | int | float)})
    numbers = [v for v in values if is_number(v)]
    if condition.function is Aggregate.SUM:
        return sum(numbers, 0)
    if not numbers:
        return MISSING
    if condition.function is Aggregate.AVG:
        return sum(numbers) / len(numbers)
    return min(numbers) if condition.function is Aggregate.MIN else max(numbers)


def _distinct_key(value: str | int | float) -> tuple[str, object]:
    if isinstance(value, bool):
        return ("boolean", value)
    return ("number", value) if is_number(value) else ("string", value)


def engagements(condition: MessageCondition, view: ContactView, now: datetime) -> Iterator[MessageEvent]:
    """Message events up to `now` of the condition's action, ids and window (a `since_event` window
    is measured from the contact's last tracked event of that name)."""
    kinds = ENGAGEMENT_KINDS[condition.action]
    start = window_start(condition.window, view.events, now)
    for item in view.message_events:
        if item.kind not in kinds:
            continue
        if condition.message_id is not None and item.message_id != condition.message_id:
            continue
        if condition.template_id is not None and item.template_id != condition.template_id:
            continue
        if condition.journey_id is not None and item.journey_id != condition.journey_id:
            continue
        if in_window(item.timestamp, start, condition.window, now):
            yield item
