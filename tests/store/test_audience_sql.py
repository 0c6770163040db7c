"""SQL audiences, rule by rule, on the suite's database: each example also checks that the in-memory
evaluator gives the same answer (`audience`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nurture.bootstrap import Container
from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind
from nurture.domain.evaluate import evaluate
from nurture.services.workspaces import NewWorkspace
from nurture.store.audience_sql import audience_ids, count_matching, sample_matching
from tests.domain.builders import NOW, account, at, cond, contact, event, view
from tests.store.audience_rows import clear, store_accounts, store_view


def audience(
    container: Container,
    workspace: NewWorkspace,
    data: dict[str, Any],
    views: Sequence[ContactView],
    now: datetime = NOW,
) -> set[str]:
    """The ids SQL selects for `data` among `views` (stored first); asserts the in-memory evaluator agrees."""
    condition = cond(data)
    with container.db.write() as conn:
        clear(conn, workspace.id)
        pool = {a.id: a for v in views for a in v.accounts}
        store_accounts(conn, workspace.id, list(pool.values()))
        for v in views:
            store_view(conn, workspace.id, v)
    with container.db.read() as conn:
        found = set(conn.execute(audience_ids(conn.dialect, workspace.id, condition, now)).scalars())
    assert found == {v.contact.id for v in views if evaluate(condition, v, now)}
    return found


def person(contact_id: str, **fields: Any) -> ContactView:
    rest = {
        k: fields.pop(k) for k in list(fields) if k in ContactView.__dataclass_fields__ or k == "messages"
    }
    return view(person=contact(id=contact_id, **fields), **rest)


def attribute(field: str, op: str, **operand: Any) -> dict[str, Any]:
    return {"type": "attribute", "field": field, "operator": {"op": op, **operand}}


def x(op: str, **operand: Any) -> dict[str, Any]:
    return attribute("attributes.x", op, **operand)


def test_equals_needs_the_same_json_type(container: Container, workspace: NewWorkspace) -> None:
    people = [
        person("int", attributes={"x": 1}),
        person("float", attributes={"x": 1.0}),
        person("text", attributes={"x": "1"}),
        person("true", attributes={"x": True}),
        person("list", attributes={"x": [1]}),
        person("null", attributes={"x": None}),
        person("none"),
    ]
    assert audience(container, workspace, x("equals", value=1), people) == {"int", "float"}
    assert audience(container, workspace, x("equals", value="1"), people) == {"text"}
    assert audience(container, workspace, x("equals", value=True), people) == {"true"}
    assert audience(container, workspace, x("in", values=[True, "1"]), people) == {"true", "text"}
    everyone = {"int", "float", "text", "true", "list", "null", "none"}
    assert audience(container, workspace, x("not_equals", value=1), people) == everyone - {"int", "float"}
    assert audience(container, workspace, x("not_in", values=[1, True]), people) == everyone - {
        "int",
        "float",
        "true",
    }


def test_absent_values_fail_every_operator_but_the_negative_ones(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [person("null", attributes={"x": None}), person("missing"), person("set", attributes={"x": "a"})]
    assert audience(container, workspace, x("exists"), people) == {"set"}
    assert audience(container, workspace, x("not_exists"), people) == {"null", "missing"}
    assert audience(container, workspace, x("not_equals", value="a"), people) == {"null", "missing"}
    assert audience(container, workspace, x("greater_than", value=0), people) == set()
    assert audience(container, workspace, {"type": "not", "condition": x("contains", value="a")}, people) == {
        "null",
        "missing",
    }


def test_strings_are_case_sensitive_and_patterns_are_plain_text(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [
        person("ann", first_name="Ann"),
        person("lower", first_name="ann"),
        person("accent", first_name="Anné"),
        person("percent", first_name="50% off_now"),
    ]
    assert audience(container, workspace, attribute("first_name", "equals", value="ann"), people) == {"lower"}
    assert audience(container, workspace, attribute("first_name", "starts_with", value="An"), people) == {
        "ann",
        "accent",
    }
    assert audience(container, workspace, attribute("first_name", "contains", value="né"), people) == {
        "accent"
    }
    assert audience(container, workspace, attribute("first_name", "contains", value="%"), people) == {
        "percent"
    }
    assert audience(container, workspace, attribute("first_name", "contains", value="f_n"), people) == {
        "percent"
    }
    assert audience(container, workspace, attribute("first_name", "contains", value="_"), people) == {
        "percent"
    }


def test_contains_is_a_substring_of_a_string_or_an_element_of_a_list(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [
        person("text", attributes={"x": "premium"}),
        person("list", attributes={"x": ["vip", 2, True]}),
        person("nested", attributes={"x": [["vip"]]}),
        person("object", attributes={"x": {"vip": "vip"}}),
    ]
    assert audience(container, workspace, x("contains", value="vip"), people) == {"list"}
    assert audience(container, workspace, x("contains", value="rem"), people) == {"text"}
    assert audience(container, workspace, x("contains", value=2.0), people) == {"list"}
    assert audience(container, workspace, x("contains", value=1), people) == set()


def test_ordered_operators_compare_numbers_with_numbers_and_dates_with_dates(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [
        person("number", attributes={"x": 10}),
        person("numeric-text", attributes={"x": "10"}),
        person("date", attributes={"x": "2026-03-15T09:00:00.5-03:00"}),  # 12:00:00.5 UTC
        person("not-a-day", attributes={"x": "2026-02-29"}),
        person("bad-offset", attributes={"x": "2026-03-15T12:00+00:99"}),
        person("before-year-1", attributes={"x": "0001-01-01T00:30+01:00"}),
        person("year-1", attributes={"x": "0001-01-01T01:00+01:00"}),
    ]
    assert audience(container, workspace, x("greater_than", value=9.5), people) == {"number"}
    assert audience(container, workspace, x("greater_than", value="2026-03-15T12:00:00Z"), people) == {"date"}
    assert audience(container, workspace, x("less_than", value="2026-03-15T12:00:00.500001Z"), people) == {
        "date",
        "year-1",
    }
    assert audience(container, workspace, x("between", low="0001-01-01", high="0001-01-01"), people) == {
        "year-1"
    }
    assert audience(container, workspace, x("greater_or_equal", value="2026-02-28"), people) == {"date"}


def test_relative_dates_use_24_hour_days(container: Container, workspace: NewWorkspace) -> None:
    people = [
        person("edge", last_seen_at=at(days_ago=7)),
        person("just-out", last_seen_at=at(days_ago=7) - timedelta(microseconds=1)),
        person("never"),
        person("string", attributes={"x": (NOW + timedelta(days=2)).isoformat()}),
    ]
    within = attribute("last_seen_at", "within_last_days", days=7)
    assert audience(container, workspace, within, people) == {"edge"}
    older = attribute("last_seen_at", "more_than_days_ago", days=7)
    assert audience(container, workspace, older, people) == {"just-out"}
    assert audience(container, workspace, x("within_next_days", days=2), people) == {"string"}


def test_anniversary_uses_the_contacts_local_date(container: Container, workspace: NewWorkspace) -> None:
    now = datetime(2026, 3, 15, 20, 0, tzinfo=UTC)  # 16 March in Kiritimati (UTC+14)
    people = [
        person("kiritimati-16", timezone="Pacific/Kiritimati", attributes={"x": "1990-03-16"}),
        person("kiritimati-15", timezone="Pacific/Kiritimati", attributes={"x": "1990-03-15"}),
        person("utc-15", attributes={"x": "1990-03-15T23:30:00-05:00"}),  # the written day counts
        person("unknown-zone-15", timezone="Mars/Olympus", attributes={"x": "1990-03-15"}),
        person("this-year", attributes={"x": "2026-03-15"}),
        person("created", created_at=datetime(2020, 3, 16, 1, 0, tzinfo=UTC), timezone="Pacific/Kiritimati"),
    ]
    assert audience(container, workspace, x("anniversary_today"), people, now) == {
        "kiritimati-16",
        "utc-15",
        "unknown-zone-15",
    }
    created = attribute("created_at", "anniversary_today")
    assert audience(container, workspace, created, people, now) == {"created"}


def test_29_february_falls_on_28_february_in_other_years(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [person("leap", attributes={"x": "2000-02-29"}), person("28th", attributes={"x": "2000-02-28"})]
    anniversary = x("anniversary_today")
    assert audience(container, workspace, anniversary, people, datetime(2027, 2, 28, 12, tzinfo=UTC)) == {
        "leap",
        "28th",
    }
    assert audience(container, workspace, anniversary, people, datetime(2028, 2, 28, 12, tzinfo=UTC)) == {
        "28th"
    }
    assert audience(container, workspace, anniversary, people, datetime(2028, 2, 29, 12, tzinfo=UTC)) == {
        "leap"
    }


def test_events_count_tracked_calls_in_the_window_with_nested_property_filters(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [
        person(
            "buyer",
            events=[
                event("Order Completed", at(days_ago=1), cart={"total": 60}),
                event("Order Completed", at(days_ago=2), cart={"total": 70.5}),
                event("Order Completed", at(days_ago=40), cart={"total": 90}),
            ],
        ),
        person("small", events=[event("Order Completed", at(days_ago=1), cart={"total": "60"})]),
        person("future", events=[event("Order Completed", at(hours_ago=-1), cart={"total": 60})]),
    ]
    big = {"property": "properties.cart.total", "operator": {"op": "greater_than", "value": 50}}
    recent = {
        "type": "event",
        "name": "Order Completed",
        "where": [big],
        "window": {"kind": "last_days", "days": 30},
    }
    assert audience(container, workspace, recent, people) == {"buyer"}
    twice = {**recent, "count": {"op": "exactly", "value": 2}}
    assert audience(container, workspace, twice, people) == {"buyer"}
    never = {"type": "event", "name": "Order Completed", "performed": False}
    assert audience(container, workspace, never, people) == {"future"}


def test_since_event_counts_only_events_after_the_last_marker(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [
        person("abandoned", events=[event("Order Completed", at(2)), event("Product Added", at(1))]),
        person("bought", events=[event("Product Added", at(2)), event("Order Completed", at(1))]),
        person("same-moment", events=[event("Product Added", at(1)), event("Order Completed", at(1))]),
        person("no-cart", events=[event("Order Completed", at(1))]),
    ]
    since = {
        "type": "event",
        "name": "Order Completed",
        "window": {"kind": "since_event", "name": "Product Added"},
    }
    assert audience(container, workspace, since, people) == {"bought", "no-cart"}


def test_occurrence_and_aggregates_read_only_matching_numbers(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [
        person(
            "mixed",
            events=[
                event("Order", at(1), revenue=400),
                event("Order", at(2), revenue=150.5),
                event("Order", at(3), revenue="1000"),
                event("Order", at(4), revenue=True),
                event("Order", at(5), revenue=1.0),
                event("Order", at(6), revenue="1"),
            ],
        ),
        person("none"),
    ]

    def aggregate(function: str, op: str, value: float) -> dict[str, Any]:
        return {
            "type": "event_aggregate",
            "name": "Order",
            "property": "properties.revenue",
            "function": function,
            "operator": {"op": op, "value": value},
        }

    assert audience(container, workspace, aggregate("sum", "equals", 551.5), people) == {"mixed"}
    assert audience(container, workspace, aggregate("sum", "equals", 0), people) == {"none"}
    assert audience(container, workspace, aggregate("max", "equals", 400), people) == {"mixed"}
    assert audience(container, workspace, aggregate("avg", "not_equals", 0), people) == {"mixed", "none"}
    # 400, 150.5, "1000", true, 1.0, "1": six distinct scalars
    assert audience(container, workspace, aggregate("count_distinct", "equals", 6), people) == {"mixed"}
    first = {"type": "event_occurrence", "name": "Order", "which": "first", "operator": {"op": "exists"}}
    assert audience(container, workspace, first, people) == {"mixed"}
    last = {**first, "which": "last", "operator": {"op": "within_last_days", "days": 1}}
    assert audience(container, workspace, last, people) == {"mixed"}


def test_page_calls_are_not_tracked_events(container: Container, workspace: NewWorkspace) -> None:
    people = [person("visitor"), person("buyer", events=[event("Home", at(1))])]
    with container.db.write() as conn:
        clear(conn, workspace.id)
    performed = {"type": "event", "name": "Home"}
    # store_view writes a page call of the same name beside every tracked event; the visitor has none
    assert audience(container, workspace, performed, people) == {"buyer"}


def test_memberships_tags_stage_score_and_subscriptions(
    container: Container, workspace: NewWorkspace
) -> None:
    people = [
        person(
            "a",
            segment_ids=frozenset({"s1"}),
            list_ids=frozenset({"l1"}),
            tags=frozenset({"VIP"}),
            lifecycle_stage="lead",
            scores={"fit": 12.5},
            subscriptions={
                ("email", None): SubscriptionStatus.SUBSCRIBED,
                ("email", "news"): SubscriptionStatus.PENDING,
            },
        ),
        person("b", tags=frozenset({"vip"}), lifecycle_stage="Lead"),
    ]
    assert audience(container, workspace, {"type": "segment", "segment_id": "s1"}, people) == {"a"}
    # store_view writes an ended stay in s3 for everyone
    assert audience(container, workspace, {"type": "segment", "segment_id": "s3"}, people) == set()
    assert audience(container, workspace, {"type": "list", "list_id": "l1"}, people) == {"a"}
    assert audience(container, workspace, {"type": "tag", "tag": "vip"}, people) == {"b"}
    assert audience(container, workspace, {"type": "lifecycle_stage", "stages": ["lead", "mql"]}, people) == {
        "a"
    }
    score = {"type": "score", "model": "fit", "operator": {"op": "less_than", "value": 1}}
    assert audience(container, workspace, score, people) == {"b"}
    channel = {"type": "subscription", "channel": "email", "status": "subscribed"}
    assert audience(container, workspace, channel, people) == {"a"}
    topic = {"type": "subscription", "channel": "email", "topic": "news", "status": "none"}
    assert audience(container, workspace, topic, people) == {"b"}


def test_an_account_condition_needs_one_account_that_passes(
    container: Container, workspace: NewWorkspace
) -> None:
    acme = account("Acme", "acme.io", employees=250)
    beta = account("Beta", None, employees="250")
    people = [person("both", accounts=[acme, beta]), person("beta", accounts=[beta]), person("alone")]
    big = {
        "type": "account",
        "field": "account.attributes.employees",
        "operator": {"op": "greater_than", "value": 100},
    }
    assert audience(container, workspace, big, people) == {"both"}
    not_acme = {"type": "account", "field": "account.name", "operator": {"op": "not_equals", "value": "Acme"}}
    assert audience(container, workspace, not_acme, people) == {"both", "beta"}
    domain = {"type": "account", "field": "account.domain", "operator": {"op": "not_exists"}}
    assert audience(container, workspace, domain, people) == {"both", "beta"}


def test_message_engagement(container: Container, workspace: NewWorkspace) -> None:
    def message(kind: MessageEventKind, days_ago: float, **ids: Any) -> MessageEvent:
        return MessageEvent(kind=kind, message_id=ids.pop("message_id", "m1"), timestamp=at(days_ago), **ids)

    people = [
        person("clicker", messages=[message(MessageEventKind.CLICKED, 1, template_id="t1")]),
        person(
            "reader",
            messages=[message(MessageEventKind.DELIVERED, 3), message(MessageEventKind.OPENED, 2)],
        ),
        person("bounced", messages=[message(MessageEventKind.BOUNCED, 1)]),
    ]
    assert audience(container, workspace, {"type": "message", "action": "opened"}, people) == {"reader"}
    assert audience(container, workspace, {"type": "message", "action": "received"}, people) == {"reader"}
    clicked = {
        "type": "message",
        "action": "clicked",
        "template_id": "t1",
        "window": {"kind": "last_days", "days": 1},
    }
    assert audience(container, workspace, clicked, people) == {"clicker"}
    not_clicked = {**clicked, "performed": False}
    assert audience(container, workspace, not_clicked, people) == {"reader", "bounced"}


def test_count_and_sample(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    people = [person(f"c{i}", attributes={"x": i}) for i in range(5)]
    audience(container, workspace, x("exists"), people)
    with container.db.write() as conn:
        store_view(conn, other_workspace.id, people[0])
    condition = cond(x("greater_or_equal", value=1))
    with container.db.read() as conn:
        assert count_matching(conn, workspace.id, condition, NOW) == 4
        assert sample_matching(conn, workspace.id, condition, NOW, 2) == ["c1", "c2"]
        assert count_matching(conn, other_workspace.id, condition, NOW) == 0


def test_now_must_be_aware(container: Container, workspace: NewWorkspace) -> None:
    with container.db.read() as conn, pytest.raises(ValueError, match="timezone-aware"):
        audience_ids(conn.dialect, workspace.id, cond(x("exists")), datetime(2026, 3, 15))  # noqa: DTZ001
