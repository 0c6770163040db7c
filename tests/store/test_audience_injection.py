"""SQL injection strings in every string field of every condition type: the query runs, agrees with the
in-memory evaluator, leaves every table intact, and its SQL text never contains the string."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from nurture.bootstrap import Container
from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import MessageEvent, MessageEventKind
from nurture.domain.contacts import Account
from nurture.domain.evaluate import evaluate
from nurture.services.workspaces import NewWorkspace
from nurture.store.audience_sql import audience_ids
from nurture.store.schema import contacts, events
from tests.domain.builders import NOW, at, cond, contact, event, view
from tests.store.audience_rows import clear, store_accounts, store_view

# at most 26 characters: ids are stored in 26-character columns
INJECTIONS = [
    "'; DROP TABLE contacts; --",
    "' OR '1'='1",
    '" OR ""="',
    "\\'; SELECT 1; --",
    "a\\b\\\\",
    "%",
    "_",
    "%_%",
    "$",
    "$[0]",
    '"]',
    "[",
    "x') OR ('x'='x",
    "ü ñ 中文 🎉 é",
    "?",
    ":name",
    "%(name)s",
    "{}",
]


def conditions_for(s: str) -> list[dict[str, Any]]:
    """One condition of every type with `s` in each of its string fields."""
    text = {"op": "equals", "value": s}
    filters = [{"property": f"properties.{s}", "operator": text}]
    return [
        {"type": "attribute", "field": f"attributes.{s}", "operator": text},
        {"type": "attribute", "field": f"attributes.{s}", "operator": {"op": "in", "values": [s, 1]}},
        {"type": "attribute", "field": f"attributes.{s}", "operator": {"op": "contains", "value": s}},
        {"type": "attribute", "field": f"attributes.{s}", "operator": {"op": "starts_with", "value": s}},
        {"type": "attribute", "field": f"attributes.{s}", "operator": {"op": "not_equals", "value": s}},
        {"type": "attribute", "field": "first_name", "operator": {"op": "contains", "value": s}},
        {"type": "attribute", "field": "email", "operator": {"op": "not_in", "values": [s]}},
        {
            "type": "event",
            "name": s,
            "where": filters,
            "window": {"kind": "since_event", "name": s + "!"},
            "count": {"op": "at_least", "value": 2},
        },
        {
            "type": "event_occurrence",
            "name": s,
            "which": "last",
            "where": filters,
            "operator": {"op": "exists"},
        },
        {
            "type": "event_aggregate",
            "name": s,
            "property": f"properties.{s}.n",
            "function": "count_distinct",
            "where": filters,
            "operator": {"op": "greater_or_equal", "value": 0},
        },
        {"type": "message", "action": "clicked", "message_id": s, "template_id": s, "journey_id": s},
        {"type": "segment", "segment_id": s},
        {"type": "list", "list_id": s},
        {"type": "tag", "tag": s},
        {"type": "lifecycle_stage", "stages": [s, s + s]},
        {"type": "score", "model": s, "operator": {"op": "greater_than", "value": 0}},
        {"type": "subscription", "channel": s, "topic": s, "status": "subscribed"},
        {"type": "subscription", "channel": s, "status": "none"},
        {"type": "account", "field": "account.name", "operator": {"op": "starts_with", "value": s}},
        {"type": "account", "field": f"account.attributes.{s}", "operator": text},
    ]


def _people(s: str) -> list[Any]:
    company = Account(
        id="a1", group_id=s, name=s, domain=s, attributes={s: s}, created_at=NOW, updated_at=NOW
    )
    holder = view(
        person=contact(id="holder", first_name=s, email=s, attributes={s: s}),
        events=[event(s, at(1), **{s: s}), event(s, at(2), **{s: {"n": s}})],
        messages=[
            MessageEvent(MessageEventKind.CLICKED, message_id=s, timestamp=at(1), template_id=s, journey_id=s)
        ],
        accounts=[company],
        segment_ids=frozenset({s}),
        list_ids=frozenset({s}),
        tags=frozenset({s}),
        lifecycle_stage=s,
        scores={s: 1.0},
        subscriptions={(s, s): SubscriptionStatus.SUBSCRIBED, (s, None): SubscriptionStatus.PENDING},
    )
    near = view(
        person=contact(id="near", first_name=s + "x", attributes={s: s + "x", "x": s}),
        events=[event(s + "!", at(0.5)), event(s, at(1), x=s)],
        tags=frozenset({s + " "}),
    )
    return [holder, near, view(person=contact(id="nobody"))]


@pytest.mark.parametrize("s", INJECTIONS)
def test_injection_strings_are_only_ever_values(
    container: Container, workspace: NewWorkspace, s: str
) -> None:
    people = _people(s)
    with container.db.write() as conn:
        clear(conn, workspace.id)
        store_accounts(conn, workspace.id, [a for p in people for a in p.accounts])
        for p in people:
            store_view(conn, workspace.id, p)
        tables_before = set(inspect(conn).get_table_names())
    answers = []
    with container.db.read() as conn:
        for data in conditions_for(s):
            condition = cond(data)
            query = audience_ids(conn.dialect, workspace.id, condition, NOW)
            sql = str(query.compile(dialect=conn.dialect))
            if len(s) >= 3:
                assert s not in sql, data
            found = set(conn.execute(query).scalars())
            assert found == {p.contact.id for p in people if evaluate(condition, p, NOW)}, data
            answers.append(found)
        assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() >= len(people)
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() >= 6
        assert set(inspect(conn).get_table_names()) == tables_before
    # the strings were really looked up: the holder of every value matches most conditions
    assert sum("holder" in found for found in answers) >= 15
