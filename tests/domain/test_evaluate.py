"""The in-memory evaluator on histories, in the marketer's words: events, aggregates, engagement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind
from nurture.domain.evaluate import evaluate
from tests.domain.builders import NOW, at, cond, contact, event, view

ADDED, ORDER = "Product Added", "Order Completed"


def attr(field: str, op: str, **operand: Any) -> dict[str, Any]:
    return {"type": "attribute", "field": field, "operator": {"op": op, **operand}}


def last_days(days: int) -> dict[str, Any]:
    return {"kind": "last_days", "days": days}


CART_ABANDONERS = {
    "type": "all",
    "conditions": [
        {"type": "event", "name": ADDED, "window": last_days(1)},
        {
            "type": "event",
            "name": ORDER,
            "performed": False,
            "window": {"kind": "since_event", "name": ADDED},
        },
    ],
}
RFM_BIG_SPENDERS = {
    "type": "event_aggregate",
    "name": ORDER,
    "property": "properties.revenue",
    "function": "sum",
    "window": last_days(90),
    "operator": {"op": "greater_or_equal", "value": 500},
}
ACTIVE_30 = {"type": "event", "name": "Login", "window": last_days(30)}
LAPSED_BUYERS = {
    "type": "all",
    "conditions": [
        {"type": "event", "name": ORDER},
        {"type": "event", "name": ORDER, "performed": False, "window": last_days(90)},
    ],
}
FIRST_ORDER_OVER_30_DAYS_AGO = {
    "type": "event_occurrence",
    "name": ORDER,
    "which": "first",
    "operator": {"op": "more_than_days_ago", "days": 30},
}


def opened(template: str, days_ago: float, journey: str | None = None) -> MessageEvent:
    return MessageEvent(MessageEventKind.OPENED, "m1", at(days_ago), template_id=template, journey_id=journey)


SCENARIOS: list[tuple[str, dict[str, Any], ContactView, datetime, bool]] = [
    # cart abandonment
    (
        "added to cart 3 hours ago, no order: abandoner",
        CART_ABANDONERS,
        view(events=[event(ADDED, at(hours_ago=3))]),
        NOW,
        True,
    ),
    (
        "added 3 hours ago, ordered 1 hour ago: not an abandoner",
        CART_ABANDONERS,
        view(events=[event(ADDED, at(hours_ago=3)), event(ORDER, at(hours_ago=1))]),
        NOW,
        False,
    ),
    (
        "ordered last week, added again today: abandoner again",
        CART_ABANDONERS,
        view(events=[event(ORDER, at(days_ago=7)), event(ADDED, at(hours_ago=3))]),
        NOW,
        True,
    ),
    (
        "added two days ago: too old to chase",
        CART_ABANDONERS,
        view(events=[event(ADDED, at(days_ago=2))]),
        NOW,
        False,
    ),
    # RFM
    (
        "RFM: 300 + 250 in the last 90 days reaches 500",
        RFM_BIG_SPENDERS,
        view(events=[event(ORDER, at(10), revenue=300), event(ORDER, at(80), revenue=250)]),
        NOW,
        True,
    ),
    (
        "RFM: the 400 from 100 days ago no longer counts",
        RFM_BIG_SPENDERS,
        view(events=[event(ORDER, at(10), revenue=300), event(ORDER, at(100), revenue=400)]),
        NOW,
        False,
    ),
    (
        "RFM: revenue sent as a string is not a number",
        RFM_BIG_SPENDERS,
        view(events=[event(ORDER, at(10), revenue="600")]),
        NOW,
        False,
    ),
    (
        "RFM: exactly 500 is enough",
        RFM_BIG_SPENDERS,
        view(events=[event(ORDER, at(1), revenue=499.5), event(ORDER, at(2), revenue=0.5)]),
        NOW,
        True,
    ),
    # activity windows
    (
        "logged in 30 days ago exactly: still active",
        ACTIVE_30,
        view(events=[event("Login", NOW)]),
        NOW + timedelta(days=30),
        True,
    ),
    (
        "left 'active in the last 30 days' on day 31",
        ACTIVE_30,
        view(events=[event("Login", NOW)]),
        NOW + timedelta(days=31),
        False,
    ),
    (
        "an event stamped in the future is not seen yet",
        ACTIVE_30,
        view(events=[event("Login", NOW + timedelta(hours=1))]),
        NOW,
        False,
    ),
    (
        "three logins in 30 days",
        {**ACTIVE_30, "count": {"op": "at_least", "value": 3}},
        view(events=[event("Login", at(d)) for d in (1, 5, 29)]),
        NOW,
        True,
    ),
    (
        "the third login was 31 days ago",
        {**ACTIVE_30, "count": {"op": "at_least", "value": 3}},
        view(events=[event("Login", at(d)) for d in (1, 5, 31)]),
        NOW,
        False,
    ),
    (
        "at most one login: two is too many",
        {**ACTIVE_30, "count": {"op": "at_most", "value": 1}},
        view(events=[event("Login", at(d)) for d in (1, 2)]),
        NOW,
        False,
    ),
    (
        "exactly zero logins means never active",
        {**ACTIVE_30, "count": {"op": "exactly", "value": 0}},
        view(),
        NOW,
        True,
    ),
    (
        "logins in January only",
        {
            "type": "event",
            "name": "Login",
            "window": {"kind": "between", "start": "2026-01-01T00:00:00Z", "end": "2026-01-31T23:59:59Z"},
        },
        view(events=[event("Login", datetime(2026, 2, 1, tzinfo=UTC))]),
        NOW,
        False,
    ),
    (
        "logged in since the launch",
        {"type": "event", "name": "Login", "window": {"kind": "since", "at": "2026-03-01T00:00:00+01:00"}},
        view(events=[event("Login", datetime(2026, 2, 28, 23, 30, tzinfo=UTC))]),
        NOW,
        True,
    ),
    (
        "lapsed buyers: bought before, not in the last 90 days",
        LAPSED_BUYERS,
        view(events=[event(ORDER, at(120))]),
        NOW,
        True,
    ),
    (
        "a recent order means not lapsed",
        LAPSED_BUYERS,
        view(events=[event(ORDER, at(120)), event(ORDER, at(3))]),
        NOW,
        False,
    ),
    ("never bought is not lapsed", LAPSED_BUYERS, view(), NOW, False),
    # first and last occurrence
    (
        "first order more than 30 days ago",
        FIRST_ORDER_OVER_30_DAYS_AGO,
        view(events=[event(ORDER, at(40)), event(ORDER, at(2))]),
        NOW,
        True,
    ),
    (
        "first order only 20 days ago",
        FIRST_ORDER_OVER_30_DAYS_AGO,
        view(events=[event(ORDER, at(20))]),
        NOW,
        False,
    ),
    ("never ordered: no first order to be old", FIRST_ORDER_OVER_30_DAYS_AGO, view(), NOW, False),
    (
        "never ordered: first order does not exist",
        {**FIRST_ORDER_OVER_30_DAYS_AGO, "operator": {"op": "not_exists"}},
        view(),
        NOW,
        True,
    ),
    (
        "last order within a week",
        {
            "type": "event_occurrence",
            "name": ORDER,
            "which": "last",
            "operator": {"op": "within_last_days", "days": 7},
        },
        view(events=[event(ORDER, at(40)), event(ORDER, at(2))]),
        NOW,
        True,
    ),
    (
        "last order after a fixed date",
        {
            "type": "event_occurrence",
            "name": ORDER,
            "which": "last",
            "operator": {"op": "greater_than", "value": "2026-03-14"},
        },
        view(events=[event(ORDER, at(2))]),
        NOW,
        False,
    ),
    # property filters
    (
        "big carts: cart.total over 50",
        {
            "type": "event",
            "name": ADDED,
            "where": [{"property": "properties.cart.total", "operator": {"op": "greater_than", "value": 50}}],
        },
        view(events=[event(ADDED, at(1), cart={"total": 80})]),
        NOW,
        True,
    ),
    (
        "a cart without a total does not count",
        {
            "type": "event",
            "name": ADDED,
            "where": [{"property": "properties.cart.total", "operator": {"op": "greater_than", "value": 50}}],
        },
        view(events=[event(ADDED, at(1), cart=80)]),
        NOW,
        False,
    ),
    (
        "only shoes count",
        {
            "type": "event",
            "name": ADDED,
            "where": [{"property": "properties.category", "operator": {"op": "equals", "value": "shoes"}}],
        },
        view(events=[event(ADDED, at(1), category="Shoes")]),
        NOW,
        False,
    ),
    # aggregates
    (
        "average order value of nothing is absent, not 0",
        {**RFM_BIG_SPENDERS, "function": "avg", "operator": {"op": "less_than", "value": 10}},
        view(),
        NOW,
        False,
    ),
    (
        "largest order at least 200",
        {**RFM_BIG_SPENDERS, "function": "max", "operator": {"op": "greater_or_equal", "value": 200}},
        view(events=[event(ORDER, at(1), revenue=50), event(ORDER, at(2), revenue=200)]),
        NOW,
        True,
    ),
    (
        "smallest order below 60",
        {**RFM_BIG_SPENDERS, "function": "min", "operator": {"op": "less_than", "value": 60}},
        view(events=[event(ORDER, at(1), revenue=50), event(ORDER, at(2), revenue=200)]),
        NOW,
        True,
    ),
    (
        "bought in at least 2 categories",
        {
            **RFM_BIG_SPENDERS,
            "property": "properties.category",
            "function": "count_distinct",
            "operator": {"op": "greater_or_equal", "value": 2},
        },
        view(
            events=[
                event(ORDER, at(1), category="a"),
                event(ORDER, at(2), category="a"),
                event(ORDER, at(3), category=1),
            ]
        ),
        NOW,
        True,
    ),
    (
        "sum of no orders is 0",
        {**RFM_BIG_SPENDERS, "operator": {"op": "equals", "value": 0}},
        view(),
        NOW,
        True,
    ),
    # engagement
    (
        "opened the welcome email this week",
        {"type": "message", "action": "opened", "template_id": "welcome", "window": last_days(7)},
        view(messages=[opened("welcome", 2)]),
        NOW,
        True,
    ),
    (
        "opened another template",
        {"type": "message", "action": "opened", "template_id": "welcome"},
        view(messages=[opened("promo", 2)]),
        NOW,
        False,
    ),
    (
        "clicked anything from the onboarding journey",
        {"type": "message", "action": "clicked", "journey_id": "onboarding"},
        view(messages=[MessageEvent(MessageEventKind.CLICKED, "m2", at(1), journey_id="onboarding")]),
        NOW,
        True,
    ),
    (
        "a delivered message was received",
        {"type": "message", "action": "received", "message_id": "m3"},
        view(messages=[MessageEvent(MessageEventKind.DELIVERED, "m3", at(1))]),
        NOW,
        True,
    ),
    (
        "an open is not a click",
        {"type": "message", "action": "clicked"},
        view(messages=[opened("welcome", 1)]),
        NOW,
        False,
    ),
    (
        "has not opened anything in 30 days",
        {"type": "message", "action": "opened", "performed": False, "window": last_days(30)},
        view(messages=[opened("welcome", 31)]),
        NOW,
        True,
    ),
    (
        "opened since the last order",
        {"type": "message", "action": "opened", "window": {"kind": "since_event", "name": ORDER}},
        view(events=[event(ORDER, at(3))], messages=[opened("welcome", 4)]),
        NOW,
        False,
    ),
]


@pytest.mark.parametrize(
    ("story", "data", "contact_view", "now", "expected"), SCENARIOS, ids=[row[0] for row in SCENARIOS]
)
def test_scenario(
    story: str, data: dict[str, Any], contact_view: ContactView, now: datetime, expected: bool
) -> None:
    assert evaluate(cond(data), contact_view, now) is expected


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(cond({"type": "all", "conditions": []}), view(), datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize("zone", [None, "", "Mars/Olympus", "posixrules", "Europe/../Asia/Tokyo"])
def test_a_contact_without_a_known_zone_has_its_anniversaries_in_utc(zone: str | None) -> None:
    # 02:00 UTC on 16 March is still 15 March in New York (and in `posixrules`, a copy of its rules
    # that ZoneInfo can load but that is not a zone name)
    now = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
    birthday = cond({"type": "attribute", "field": "attributes.b", "operator": {"op": "anniversary_today"}})
    known = view(person=contact(timezone="America/New_York", attributes={"b": "1990-03-15"}))
    assert evaluate(birthday, known, now)
    unknown = view(person=contact(timezone=zone, attributes={"b": "1990-03-16"}))
    assert evaluate(birthday, unknown, now)
