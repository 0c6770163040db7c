"""Which changes a workspace's live consumers read (`Interest`): what writers queue for the worker."""

from __future__ import annotations

from typing import Any

import pytest

from nurture.domain.activities import ChangeKind
from nurture.domain.audience import Change, Interest
from nurture.domain.conditions import parse_condition

LOGIN = {"type": "event", "name": "Login", "window": {"kind": "last_days", "days": 30}}
PLAN = {"type": "attribute", "field": "attributes.plan", "operator": {"op": "equals", "value": "pro"}}
SEEN = {"type": "attribute", "field": "last_seen_at", "operator": {"op": "exists"}}
ACCOUNT = {"type": "account", "field": "account.attributes.size", "operator": {"op": "exists"}}


def interest(*conditions: dict[str, Any], scored: tuple[str, ...] = ()) -> Interest:
    return Interest.of([parse_condition(c) for c in conditions], scored)


EVENT, PROFILE = ChangeKind.EVENT, ChangeKind.PROFILE


@pytest.mark.parametrize(
    ("consumers", "change", "wanted"),
    [
        # nobody reads anything: nothing is queued, not even merges (no segment holds a stay to end)
        (interest(), Change(EVENT, "Login"), False),
        (interest(), Change(PROFILE, None), False),
        (interest(), Change(ChangeKind.MERGE, "c1"), False),
        (interest(scored=("Demo",)), Change(ChangeKind.MERGE, "c1"), False),  # event points moved already
        (interest(PLAN), Change(ChangeKind.MERGE, "c1"), True),
        # a segment on an event reads that event, and a new contact may enter any segment
        (interest(LOGIN), Change(EVENT, "Login"), True),
        (interest(LOGIN), Change(EVENT, "Logout"), False),
        (interest(LOGIN), Change(PROFILE, None), True),
        (interest(LOGIN), Change(PROFILE, "attributes.plan"), False),
        # attributes: only the one read
        (interest(PLAN), Change(PROFILE, "attributes.plan"), True),
        (interest(PLAN), Change(PROFILE, "attributes.other"), False),
        (interest(PLAN, LOGIN), Change(EVENT, "Login"), True),
        # every event moves last_seen_at
        (interest(SEEN), Change(EVENT, "Anything"), True),
        (interest(SEEN), Change(EVENT, None), True),
        # accounts
        (interest(ACCOUNT), Change(PROFILE, "account"), True),
        (interest(PLAN), Change(PROFILE, "account"), False),
        # a time-relative condition reads the contact's zone
        (interest(LOGIN), Change(PROFILE, "timezone"), True),
        (interest(PLAN), Change(PROFILE, "timezone"), False),
        # scoring's event rules read their events, and nothing else
        (interest(scored=("Demo",)), Change(EVENT, "Demo"), True),
        (interest(scored=("Demo",)), Change(EVENT, "Other"), False),
        (interest(scored=("Demo",)), Change(PROFILE, None), False),
    ],
)
def test_a_change_is_wanted_when_some_consumer_reads_it(
    consumers: Interest, change: Change, wanted: bool
) -> None:
    assert consumers.wants(change) is wanted


@pytest.mark.parametrize(
    ("consumers", "event_type", "name", "wanted"),
    [
        (interest(LOGIN), "track", "Login", True),
        (interest(LOGIN), "page", "Login", False),  # conditions read track events only
        (interest(LOGIN), "identify", None, False),
        (interest(SEEN), "identify", None, True),
        (interest(scored=("Pricing",)), "page", "Pricing", True),  # scoring rules match pages by name
        (interest(scored=("Pricing",)), "screen", "Pricing", True),
        (interest(scored=("Pricing",)), "page", "Home", False),
        (interest(scored=("Pricing",)), "group", "Pricing", False),
    ],
)
def test_a_stored_event_is_wanted_when_a_condition_or_scoring_rule_reads_it(
    consumers: Interest, event_type: str, name: str | None, wanted: bool
) -> None:
    assert consumers.wants_event(event_type, name) is wanted
