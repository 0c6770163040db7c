"""The in-memory evaluator on profile data: attributes, dates and time zones, memberships, accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import ContactView
from nurture.domain.evaluate import evaluate
from tests.domain.builders import NOW, account, at, cond, contact, view


def attr(field: str, op: str, **operand: Any) -> dict[str, Any]:
    return {"type": "attribute", "field": field, "operator": {"op": op, **operand}}


BIRTHDAY = attr("attributes.birthday", "anniversary_today")
# 16:00 UTC on 15 March is 01:00 on 16 March in Tokyo.
LATE_UTC = datetime(2026, 3, 15, 16, 0, tzinfo=UTC)
TOKYO = contact(timezone="Asia/Tokyo", attributes={"birthday": "1990-03-16"})

SCENARIOS: list[tuple[str, dict[str, Any], ContactView, datetime, bool]] = [
    # birthdays and time zones
    (
        "birthday today in Tokyo while it is still yesterday in UTC",
        BIRTHDAY,
        view(person=TOKYO),
        LATE_UTC,
        True,
    ),
    (
        "the same birthday is not today for a contact in UTC",
        BIRTHDAY,
        view(person=contact(attributes={"birthday": "1990-03-16"})),
        LATE_UTC,
        False,
    ),
    (
        "no time zone means UTC",
        BIRTHDAY,
        view(person=contact(attributes={"birthday": "1990-03-15"})),
        LATE_UTC,
        True,
    ),
    (
        "an unknown time zone falls back to UTC",
        BIRTHDAY,
        view(person=contact(timezone="Mars/Olympus", attributes={"birthday": "1990-03-15"})),
        LATE_UTC,
        True,
    ),
    (
        "a 29 February birthday is celebrated on 28 February in 2027",
        BIRTHDAY,
        view(person=contact(attributes={"birthday": "2000-02-29"})),
        datetime(2027, 2, 28, 9, tzinfo=UTC),
        True,
    ),
    (
        "but on 29 February in a leap year",
        BIRTHDAY,
        view(person=contact(attributes={"birthday": "2000-02-29"})),
        datetime(2028, 2, 28, 9, tzinfo=UTC),
        False,
    ),
    (
        "a baby born today has no anniversary yet",
        BIRTHDAY,
        view(person=contact(attributes={"birthday": "2026-03-15"})),
        NOW,
        False,
    ),
    (
        "one year since sign-up, by created_at",
        attr("created_at", "anniversary_today"),
        view(person=contact(created_at=datetime(2025, 3, 15, 23, 59, tzinfo=UTC))),
        NOW,
        True,
    ),
    # attributes
    (
        "plan is not pro: true without a plan",
        attr("attributes.plan", "not_equals", value="pro"),
        view(),
        NOW,
        True,
    ),
    (
        "plan is pro: case matters",
        attr("attributes.plan", "equals", value="pro"),
        view(person=contact(attributes={"plan": "Pro"})),
        NOW,
        False,
    ),
    (
        "a numeric string is not the number",
        attr("attributes.seats", "equals", value=5),
        view(person=contact(attributes={"seats": "5"})),
        NOW,
        False,
    ),
    (
        "5 equals 5.0",
        attr("attributes.seats", "equals", value=5),
        view(person=contact(attributes={"seats": 5.0})),
        NOW,
        True,
    ),
    (
        "true is not 1",
        attr("attributes.seats", "equals", value=1),
        view(person=contact(attributes={"seats": True})),
        NOW,
        False,
    ),
    (
        "seats greater than 10 on a string is false",
        attr("attributes.seats", "greater_than", value=10),
        view(person=contact(attributes={"seats": "20"})),
        NOW,
        False,
    ),
    (
        "interests list contains golf",
        attr("attributes.interests", "contains", value="golf"),
        view(person=contact(attributes={"interests": ["tennis", "golf"]})),
        NOW,
        True,
    ),
    (
        "email at the company domain",
        attr("email", "contains", value="@acme.com"),
        view(person=contact(email="ann@acme.com")),
        NOW,
        True,
    ),
    (
        "phone starts with +49",
        attr("phone", "starts_with", value="+49"),
        view(person=contact(phone="+4930123456")),
        NOW,
        True,
    ),
    (
        "a null attribute does not exist",
        attr("attributes.plan", "exists"),
        view(person=contact(attributes={"plan": None})),
        NOW,
        False,
    ),
    (
        "plan in pro or team",
        attr("attributes.plan", "in", values=["pro", "team"]),
        view(person=contact(attributes={"plan": "team"})),
        NOW,
        True,
    ),
    (
        "trial ends within 3 days",
        attr("attributes.trial_end", "within_next_days", days=3),
        view(person=contact(attributes={"trial_end": "2026-03-17T00:00:00+02:00"})),
        NOW,
        True,
    ),
    (
        "signed up within the last week",
        attr("created_at", "within_last_days", days=7),
        view(person=contact(created_at=at(3))),
        NOW,
        True,
    ),
    (
        "not seen for 90 days: never seen is not 'seen long ago'",
        attr("last_seen_at", "more_than_days_ago", days=90),
        view(),
        NOW,
        False,
    ),
    (
        "renewal between two dates",
        attr("attributes.renewal", "between", low="2026-04-01", high="2026-04-30"),
        view(person=contact(attributes={"renewal": "2026-04-30"})),
        NOW,
        True,
    ),
    (
        "a date-only bound is midnight UTC",
        attr("attributes.renewal", "less_or_equal", value="2026-04-30"),
        view(person=contact(attributes={"renewal": "2026-04-30T00:00:01Z"})),
        NOW,
        False,
    ),
    (
        "an impossible date is not a date",
        attr("attributes.renewal", "greater_than", value="2000-01-01"),
        view(person=contact(attributes={"renewal": "2026-02-30"})),
        NOW,
        False,
    ),
    # memberships and profile
    (
        "member of segment s1",
        {"type": "segment", "segment_id": "s1"},
        view(segment_ids=frozenset({"s1"})),
        NOW,
        True,
    ),
    ("on list l1", {"type": "list", "list_id": "l1"}, view(list_ids=frozenset({"l2"})), NOW, False),
    ("tagged VIP, tags are exact", {"type": "tag", "tag": "vip"}, view(tags=frozenset({"VIP"})), NOW, False),
    (
        "an MQL or SQL",
        {"type": "lifecycle_stage", "stages": ["mql", "sql"]},
        view(lifecycle_stage="sql"),
        NOW,
        True,
    ),
    ("no stage is in no list", {"type": "lifecycle_stage", "stages": ["lead"]}, view(), NOW, False),
    (
        "engagement above 50",
        {"type": "score", "model": "engagement", "operator": {"op": "greater_than", "value": 50}},
        view(scores={"engagement": 62}),
        NOW,
        True,
    ),
    (
        "never scored counts as 0",
        {"type": "score", "model": "fit", "operator": {"op": "equals", "value": 0}},
        view(),
        NOW,
        True,
    ),
    (
        "subscribed to the newsletter topic",
        {"type": "subscription", "channel": "email", "topic": "news", "status": "subscribed"},
        view(subscriptions={("email", "news"): SubscriptionStatus.SUBSCRIBED}),
        NOW,
        True,
    ),
    (
        "a channel-level status is not a topic's",
        {"type": "subscription", "channel": "email", "topic": "news", "status": "subscribed"},
        view(subscriptions={("email", None): SubscriptionStatus.SUBSCRIBED}),
        NOW,
        False,
    ),
    (
        "no record is status none",
        {"type": "subscription", "channel": "sms", "status": "none"},
        view(),
        NOW,
        True,
    ),
    (
        "works at a company with over 100 employees",
        {
            "type": "account",
            "field": "account.attributes.employees",
            "operator": {"op": "greater_than", "value": 100},
        },
        view(accounts=[account("Small", employees=5), account("Big", employees=500)]),
        NOW,
        True,
    ),
    (
        "account domain",
        {"type": "account", "field": "account.domain", "operator": {"op": "equals", "value": "a.io"}},
        view(accounts=[account("A", domain="a.io")]),
        NOW,
        True,
    ),
    (
        "no account: not_equals is still false",
        {"type": "account", "field": "account.name", "operator": {"op": "not_equals", "value": "Acme"}},
        view(),
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
