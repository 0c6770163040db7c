"""When time alone changes a segment: the moment a contact should be re-evaluated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind
from nurture.domain.evaluate import evaluate
from nurture.domain.next_change import next_change_time, next_local_midnight
from tests.domain.builders import NOW, at, cond, contact, event, view

TICK = timedelta(microseconds=1)
LOGIN_30 = {"type": "event", "name": "Login", "window": {"kind": "last_days", "days": 30}}


def attr(field: str, op: str, **operand: Any) -> dict[str, Any]:
    return {"type": "attribute", "field": field, "operator": {"op": op, **operand}}


CASES: list[tuple[str, dict[str, Any], ContactView, datetime | None]] = [
    (
        "leaves 'active in the last 30 days' 30 days and 1 µs after the last login",
        LOGIN_30,
        view(events=[event("Login", at(40)), event("Login", at(10))]),
        at(10) + timedelta(days=30) + TICK,
    ),
    (
        "an event stamped in the future counts from its timestamp",
        LOGIN_30,
        view(events=[event("Login", NOW + timedelta(hours=2))]),
        NOW + timedelta(hours=2),
    ),
    (
        "a birthday is re-checked at the next local midnight (Tokyo)",
        attr("attributes.birthday", "anniversary_today"),
        view(person=contact(timezone="Asia/Tokyo", attributes={"birthday": "1990-01-01"})),
        datetime(2026, 3, 15, 15, 0, tzinfo=UTC),
    ),
    (
        "no birthday, nothing to re-check",
        attr("attributes.birthday", "anniversary_today"),
        view(),
        None,
    ),
    (
        "a trial ending in 10 days enters 'ends within 3 days' 7 days from now",
        attr("attributes.trial_end", "within_next_days", days=3),
        view(person=contact(attributes={"trial_end": "2026-03-25T12:00:00Z"})),
        NOW + timedelta(days=7),
    ),
    (
        "first order 20 days ago becomes 'more than 30 days ago' after 10 days",
        {
            "type": "event_occurrence",
            "name": "Order",
            "which": "first",
            "operator": {"op": "more_than_days_ago", "days": 30},
        },
        view(events=[event("Order", at(20))]),
        at(20) + timedelta(days=30) + TICK,
    ),
    (
        "an open leaves 'opened in the last 7 days'",
        {"type": "message", "action": "opened", "window": {"kind": "last_days", "days": 7}},
        view(messages=[MessageEvent(MessageEventKind.OPENED, "m1", at(2))]),
        at(2) + timedelta(days=7) + TICK,
    ),
    (
        "a tag never changes with time",
        {"type": "not", "condition": {"type": "tag", "tag": "vip"}},
        view(),
        None,
    ),
    (
        "a fixed date comparison never changes with time",
        attr("attributes.renewal", "greater_than", value="2026-01-01"),
        view(person=contact(attributes={"renewal": "2026-06-01"})),
        None,
    ),
]


@pytest.mark.parametrize(("story", "data", "contact_view", "expected"), CASES, ids=[c[0] for c in CASES])
def test_next_change(
    story: str, data: dict[str, Any], contact_view: ContactView, expected: datetime | None
) -> None:
    condition = cond(data)
    change = next_change_time(condition, contact_view, NOW)
    assert change == expected
    if change is not None:
        assert evaluate(condition, contact_view, change - TICK) is evaluate(condition, contact_view, NOW)


def test_the_answer_really_flips_on_day_31() -> None:
    condition, contact_view = cond(LOGIN_30), view(events=[event("Login", NOW)])
    change = next_change_time(condition, contact_view, NOW)
    assert change == NOW + timedelta(days=30) + TICK
    assert evaluate(condition, contact_view, change - TICK)
    assert not evaluate(condition, contact_view, change)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_change_time(cond(LOGIN_30), view(), datetime(2026, 1, 1))  # noqa: DTZ001


ZONES = ["UTC", "Asia/Tokyo", "America/Santiago", "Europe/Berlin", "Australia/Lord_Howe", "America/Havana"]


@given(
    # hypothesis takes naive bounds and attaches the zone itself
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    st.sampled_from(ZONES),
)
def test_next_local_midnight_starts_the_next_local_day(now: datetime, name: str) -> None:
    zone = ZoneInfo(name)
    midnight = next_local_midnight(now, zone)
    assert midnight > now
    assert midnight.astimezone(zone).date() > now.astimezone(zone).date()
    assert (midnight - TICK).astimezone(zone).date() == now.astimezone(zone).date() or midnight - TICK <= now
