"""The condition language: every kind parses, bad nodes are named by path, the schema covers it all."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from nurture.domain.conditions import Condition, condition_schema, parse_condition, references
from nurture.domain.conditions.nodes import MAX_DEPTH
from nurture.domain.errors import Invalid

ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)

ORDER = "Order Completed"
EXAMPLES: list[dict[str, Any]] = [
    {"type": "attribute", "field": "email", "operator": {"op": "contains", "value": "@example.com"}},
    {"type": "attribute", "field": "attributes.plan", "operator": {"op": "in", "values": ["pro", "team"]}},
    {"type": "attribute", "field": "attributes.vip", "operator": {"op": "equals", "value": True}},
    {"type": "attribute", "field": "attributes.age", "operator": {"op": "between", "low": 18, "high": 30}},
    {"type": "attribute", "field": "attributes.birthday", "operator": {"op": "anniversary_today"}},
    {"type": "attribute", "field": "created_at", "operator": {"op": "within_last_days", "days": 7}},
    {"type": "attribute", "field": "attributes.renewal", "operator": {"op": "within_next_days", "days": 30}},
    {"type": "attribute", "field": "last_seen_at", "operator": {"op": "more_than_days_ago", "days": 90}},
    {"type": "attribute", "field": "phone", "operator": {"op": "not_exists"}},
    {
        "type": "event",
        "name": "Product Added",
        "where": [{"property": "properties.price", "operator": {"op": "greater_or_equal", "value": 20}}],
        "count": {"op": "at_least", "value": 3},
        "window": {"kind": "last_days", "days": 30},
    },
    {"type": "event", "name": ORDER, "performed": False, "window": {"kind": "since_event", "name": "Cart"}},
    {
        "type": "event",
        "name": "Login",
        "count": {"op": "exactly", "value": 0},
        "window": {"kind": "between", "start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"},
    },
    {"type": "event", "name": "Login", "window": {"kind": "since", "at": "2026-01-01T00:00:00+01:00"}},
    {
        "type": "event_occurrence",
        "name": ORDER,
        "which": "first",
        "operator": {"op": "more_than_days_ago", "days": 30},
    },
    {
        "type": "event_aggregate",
        "name": ORDER,
        "property": "properties.revenue",
        "function": "sum",
        "window": {"kind": "last_days", "days": 90},
        "operator": {"op": "greater_or_equal", "value": 500},
    },
    {
        "type": "message",
        "action": "opened",
        "template_id": "welcome",
        "window": {"kind": "last_days", "days": 7},
    },
    {"type": "message", "action": "received", "performed": False},
    {"type": "segment", "segment_id": "s1"},
    {"type": "list", "list_id": "l1"},
    {"type": "tag", "tag": "beta"},
    {"type": "lifecycle_stage", "stages": ["mql", "sql"]},
    {"type": "score", "model": "engagement", "operator": {"op": "greater_than", "value": 50}},
    {"type": "subscription", "channel": "email", "topic": "newsletter", "status": "subscribed"},
    {
        "type": "account",
        "field": "account.attributes.employees",
        "operator": {"op": "less_than", "value": 50},
    },
    {"type": "not", "condition": {"type": "tag", "tag": "churned"}},
    {"type": "all", "conditions": []},
    {"type": "any", "conditions": [{"type": "tag", "tag": "a"}, {"type": "list", "list_id": "l"}]},
]


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda d: str(d["type"]))
def test_every_kind_parses_and_round_trips_through_json(data: dict[str, Any]) -> None:
    condition = parse_condition(data)
    again = parse_condition(json.loads(json.dumps(ADAPTER.dump_python(condition, mode="json"))))
    assert again == condition


def _tags(schema: dict[str, Any], discriminator: str) -> set[str]:
    found: set[str] = set()
    for definition in schema["$defs"].values():
        constant = definition.get("properties", {}).get(discriminator, {}).get("const")
        if constant is not None:
            found.add(constant)
    return found


def test_the_json_schema_has_every_condition_kind_and_operator() -> None:
    schema = condition_schema()
    assert _tags(schema, "type") == {
        "all",
        "any",
        "not",
        "attribute",
        "event",
        "event_occurrence",
        "event_aggregate",
        "message",
        "segment",
        "list",
        "tag",
        "lifecycle_stage",
        "score",
        "subscription",
        "account",
    }
    assert _tags(schema, "op") == {
        "equals",
        "not_equals",
        "in",
        "not_in",
        "contains",
        "starts_with",
        "exists",
        "not_exists",
        "greater_than",
        "greater_or_equal",
        "less_than",
        "less_or_equal",
        "between",
        "within_last_days",
        "within_next_days",
        "more_than_days_ago",
        "anniversary_today",
    }
    assert _tags(schema, "kind") == {"ever", "last_days", "between", "since", "since_event"}
    assert json.dumps(schema)


def _nested(bad: dict[str, Any]) -> dict[str, Any]:
    """Put a bad node third in an `all`, under a `not`, to see the whole path."""
    ok = {"type": "tag", "tag": "x"}
    return {"type": "all", "conditions": [ok, ok, {"type": "not", "condition": bad}]}


ATTR = "attributes.score"
BAD: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "a string where a number or date is needed",
        {"type": "attribute", "field": ATTR, "operator": {"op": "greater_than", "value": "ten"}},
        "operator.value",
        "number or an ISO 8601 date",
    ),
    (
        "an empty in list",
        {"type": "attribute", "field": ATTR, "operator": {"op": "in", "values": []}},
        "operator.values",
        "must not be empty",
    ),
    (
        "a between with low above high",
        {"type": "attribute", "field": ATTR, "operator": {"op": "between", "low": 9, "high": 1}},
        "operator.high",
        "must not be less than low",
    ),
    (
        "a between mixing a number and a date",
        {"type": "attribute", "field": ATTR, "operator": {"op": "between", "low": 1, "high": "2026-01-01"}},
        "operator.high",
        "both be numbers or both be dates",
    ),
    (
        "negative days",
        {"type": "attribute", "field": "created_at", "operator": {"op": "more_than_days_ago", "days": -1}},
        "operator.days",
        "must be at least 0",
    ),
    (
        "an unknown field",
        {"type": "attribute", "field": "plan", "operator": {"op": "exists"}},
        "field",
        "unknown field 'plan'",
    ),
    (
        "a number compared with a text field",
        {"type": "attribute", "field": "first_name", "operator": {"op": "equals", "value": 3}},
        "operator",
        "compare it with strings",
    ),
    (
        "an ordered test on a text field",
        {"type": "attribute", "field": "email", "operator": {"op": "greater_than", "value": 3}},
        "operator",
        "email is text",
    ),
    (
        "a list as a value",
        {"type": "attribute", "field": ATTR, "operator": {"op": "equals", "value": [1, 2]}},
        "operator.value",
        "string, a number or a boolean",
    ),
    (
        "an unknown operator",
        {"type": "attribute", "field": ATTR, "operator": {"op": "ends_with", "value": "x"}},
        "operator.op",
        "unknown kind 'ends_with'",
    ),
    (
        "an unknown condition type",
        {"type": "visited_page"},
        "type",
        "unknown kind 'visited_page'",
    ),
    (
        "an event window with negative days",
        {"type": "event", "name": "Login", "window": {"kind": "last_days", "days": -5}},
        "window.days",
        "must be at least 1",
    ),
    (
        "an event window ending before it starts",
        {
            "type": "event",
            "name": "Login",
            "window": {"kind": "between", "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        },
        "window.end",
        "must not be before start",
    ),
    (
        "a window date without a time zone",
        {"type": "event", "name": "Login", "window": {"kind": "since", "at": "2026-02-01T00:00:00"}},
        "window.at",
        "timezone",
    ),
    (
        "a property filter outside properties",
        {"type": "event", "name": "Login", "where": [{"property": "price", "operator": {"op": "exists"}}]},
        "where[0].property",
        "properties.NAME",
    ),
    (
        "a negative count",
        {"type": "event", "name": "Login", "count": {"op": "at_least", "value": -1}},
        "count.value",
        "must be at least 0",
    ),
    (
        "an aggregate compared with a string",
        {
            "type": "event_aggregate",
            "name": "Order Completed",
            "property": "properties.revenue",
            "function": "sum",
            "operator": {"op": "greater_than", "value": "2026-01-01"},
        },
        "operator",
        "compare with numbers",
    ),
    (
        "a score compared with contains",
        {"type": "score", "model": "fit", "operator": {"op": "contains", "value": 1}},
        "operator",
        "greater/less or between",
    ),
    (
        "an occurrence compared with a number",
        {
            "type": "event_occurrence",
            "name": "X",
            "which": "last",
            "operator": {"op": "less_than", "value": 5},
        },
        "operator",
        "ISO 8601 dates",
    ),
    (
        "an unknown account field",
        {"type": "account", "field": "account.size", "operator": {"op": "exists"}},
        "field",
        "account.name, account.domain",
    ),
    (
        "an extra key",
        {"type": "tag", "tag": "x", "color": "red"},
        "color",
        "unknown field",
    ),
    (
        "a missing key",
        {"type": "segment"},
        "segment_id",
        "required",
    ),
    (
        "an empty lifecycle stage list",
        {"type": "lifecycle_stage", "stages": []},
        "stages",
        "must not be empty",
    ),
]


@pytest.mark.parametrize(("why", "bad", "path", "message"), BAD, ids=[row[0] for row in BAD])
def test_a_bad_node_is_named_by_its_path(why: str, bad: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_condition(_nested(bad), path="condition")
    fields = {error.field: error.message for error in caught.value.errors}
    expected = f"condition.conditions[2].condition.{path}"
    assert expected in fields, fields
    assert message in fields[expected]


def test_every_bad_node_is_reported_not_only_the_first() -> None:
    data = {
        "type": "any",
        "conditions": [
            {"type": "attribute", "field": "nope", "operator": {"op": "exists"}},
            {"type": "tag", "tag": "fine"},
            {"type": "score", "model": "fit", "operator": {"op": "greater_than", "value": "high"}},
        ],
    }
    with pytest.raises(Invalid) as caught:
        parse_condition(data)
    assert [e.field for e in caught.value.errors] == ["conditions[0].field", "conditions[2].operator.value"]


def test_a_condition_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(Invalid):
        parse_condition(["tag", "x"])


def test_nesting_deeper_than_the_limit_is_rejected() -> None:
    node: dict[str, Any] = {"type": "tag", "tag": "x"}
    for _ in range(MAX_DEPTH):
        node = {"type": "not", "condition": node}
    with pytest.raises(Invalid, match="nest at most"):
        parse_condition(node)
    parse_condition(node["condition"])


def test_values_are_never_coerced() -> None:
    numeric_string = parse_condition(
        {"type": "attribute", "field": "attributes.n", "operator": {"op": "equals", "value": "5"}}
    )
    boolean = parse_condition(
        {"type": "attribute", "field": "attributes.n", "operator": {"op": "equals", "value": True}}
    )
    assert numeric_string.operator.value == "5"  # type: ignore[union-attr]
    assert boolean.operator.value is True  # type: ignore[union-attr]


def test_references_list_everything_a_condition_reads() -> None:
    condition = parse_condition(
        {
            "type": "all",
            "conditions": [
                {
                    "type": "attribute",
                    "field": "attributes.plan",
                    "operator": {"op": "equals", "value": "pro"},
                },
                {
                    "type": "event",
                    "name": "Product Added",
                    "window": {"kind": "since_event", "name": "Order Completed"},
                },
                {
                    "type": "event_aggregate",
                    "name": "Refund",
                    "property": "properties.amount",
                    "function": "max",
                    "operator": {"op": "less_than", "value": 10},
                },
                {"type": "not", "condition": {"type": "segment", "segment_id": "s9"}},
                {
                    "type": "any",
                    "conditions": [{"type": "list", "list_id": "l2"}, {"type": "tag", "tag": "vip"}],
                },
                {"type": "score", "model": "fit", "operator": {"op": "greater_than", "value": 5}},
                {"type": "subscription", "channel": "sms", "status": "subscribed"},
                {
                    "type": "account",
                    "field": "account.domain",
                    "operator": {"op": "equals", "value": "a.com"},
                },
                {"type": "lifecycle_stage", "stages": ["lead"]},
                {"type": "message", "action": "clicked"},
            ],
        }
    )
    found = references(condition)
    assert found.fields == {"attributes.plan"}
    assert found.event_names == {"Product Added", "Order Completed", "Refund"}
    assert found.segment_ids == {"s9"}
    assert found.list_ids == {"l2"}
    assert found.tags == {"vip"}
    assert found.score_models == {"fit"}
    assert found.subscription_channels == {"sms"}
    assert found.account_fields == {"account.domain"}
    assert found.lifecycle_stage
    assert found.message_events
    assert not found.time_relative


@pytest.mark.parametrize(
    "data",
    [
        {"type": "attribute", "field": "created_at", "operator": {"op": "within_last_days", "days": 3}},
        {"type": "attribute", "field": "attributes.birthday", "operator": {"op": "anniversary_today"}},
        {"type": "event", "name": "Login", "window": {"kind": "last_days", "days": 30}},
        {"type": "message", "action": "opened", "window": {"kind": "last_days", "days": 3}},
        {
            "type": "event",
            "name": "Booked",
            "where": [
                {"property": "properties.trip.date", "operator": {"op": "within_next_days", "days": 2}}
            ],
        },
    ],
)
def test_time_relative_conditions_are_flagged(data: dict[str, Any]) -> None:
    assert references(parse_condition({"type": "not", "condition": data})).time_relative


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"type": "tag", "tag": ""}, "tag", "must not be empty"),
        ({"type": "tag", "tag": "x" * 201}, "tag", "at most 200 characters"),
        (
            {"type": "any", "conditions": [{"type": "tag", "tag": "x"}] * 101},
            "conditions",
            "at most 100 items",
        ),
        (
            {"type": "event", "name": "X", "window": {"kind": "last_days", "days": 40000}},
            "window.days",
            "at most",
        ),
    ],
)
def test_limits_say_what_the_limit_is(data: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_condition(data)
    assert caught.value.errors[0].field == path
    assert message in caught.value.errors[0].message
