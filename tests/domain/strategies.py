"""Hypothesis strategies for random contacts, histories and conditions (shared by property tests and,
later, the SQL-compiler agreement test)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.conditions.values import order_key
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind, TrackedEvent
from nurture.domain.contacts import Account
from tests.domain.builders import NOW, contact

EVENT_NAMES = ("A", "B")
ZONES = (None, "UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Europe/Berlin")
DATES = ("2026-03-10", "2026-03-15T11:00:00Z", "1990-03-15", "2000-02-29", "2026-04-01T00:00:00+09:00")

scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0]),
    st.sampled_from(["a", "b", "A", "5", *DATES]),
)
attribute_values = st.one_of(st.none(), scalars, st.lists(scalars, max_size=3))
numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0]))
orderables = st.one_of(numbers, st.sampled_from(DATES))
offsets = st.integers(min_value=-5 * 24, max_value=60 * 24).map(lambda hours: timedelta(hours=hours))


@st.composite
def views(draw: st.DrawFn) -> ContactView:
    attributes = draw(st.dictionaries(st.sampled_from(["x", "y"]), attribute_values, max_size=2))
    person = contact(
        timezone=draw(st.sampled_from(ZONES)),
        attributes=attributes,
        created_at=NOW - draw(offsets),
        last_seen_at=draw(st.none() | offsets.map(lambda d: NOW - d)),
    )
    events = draw(
        st.lists(
            st.builds(
                TrackedEvent,
                name=st.sampled_from(EVENT_NAMES),
                properties=st.dictionaries(st.sampled_from(["n", "d"]), scalars, max_size=2),
                timestamp=offsets.map(lambda d: NOW - d),
            ),
            max_size=6,
        )
    )
    messages = draw(
        st.lists(
            st.builds(
                MessageEvent,
                kind=st.sampled_from(list(MessageEventKind)),
                message_id=st.sampled_from(["m1", "m2"]),
                timestamp=offsets.map(lambda d: NOW - d),
                template_id=st.sampled_from([None, "t1"]),
            ),
            max_size=3,
        )
    )
    return ContactView(
        contact=person,
        events=tuple(events),
        message_events=tuple(messages),
        tags=frozenset(draw(st.sets(st.sampled_from(["t1", "t2"])))),
        segment_ids=frozenset(draw(st.sets(st.sampled_from(["s1", "s2"])))),
        scores=draw(st.dictionaries(st.sampled_from(["fit"]), numbers)),
    )


def _operator(op: str, **operand: Any) -> dict[str, Any]:
    return {"op": op, **operand}


@st.composite
def between_operators(draw: st.DrawFn) -> dict[str, Any]:
    kind = numbers if draw(st.booleans()) else st.sampled_from(DATES)
    low, high = sorted(draw(st.lists(kind, min_size=2, max_size=2)), key=order_key)
    return _operator("between", low=low, high=high)


days = st.integers(1, 40)
operators = st.one_of(
    st.builds(_operator, st.sampled_from(["equals", "not_equals", "contains"]), value=scalars),
    st.builds(_operator, st.sampled_from(["in", "not_in"]), values=st.lists(scalars, min_size=1, max_size=3)),
    st.builds(_operator, st.sampled_from(["exists", "not_exists", "anniversary_today"])),
    st.builds(_operator, st.just("starts_with"), value=st.sampled_from(["a", "2026", "19"])),
    st.builds(
        _operator,
        st.sampled_from(["greater_than", "greater_or_equal", "less_than", "less_or_equal"]),
        value=orderables,
    ),
    between_operators(),
    st.builds(_operator, st.sampled_from(["within_last_days", "within_next_days"]), days=days),
    st.builds(_operator, st.just("more_than_days_ago"), days=st.integers(0, 40)),
)
windows = st.one_of(
    st.just({"kind": "ever"}),
    st.builds(lambda d: {"kind": "last_days", "days": d}, days),
    st.builds(lambda name: {"kind": "since_event", "name": name}, st.sampled_from(EVENT_NAMES)),
    st.just({"kind": "since", "at": "2026-03-01T00:00:00Z"}),
)
leaves = st.one_of(
    st.builds(
        lambda field, op: {"type": "attribute", "field": field, "operator": op},
        st.sampled_from(["attributes.x", "attributes.y"]),
        operators,
    ),
    st.builds(
        lambda op: {"type": "attribute", "field": "created_at", "operator": op},
        st.sampled_from(
            [
                {"op": "within_last_days", "days": 10},
                {"op": "more_than_days_ago", "days": 30},
                {"op": "anniversary_today"},
            ]
        ),
    ),
    st.builds(
        lambda name, count_op, count, window, where: {
            "type": "event",
            "name": name,
            "count": {"op": count_op, "value": count},
            "window": window,
            "where": where,
        },
        st.sampled_from(EVENT_NAMES),
        st.sampled_from(["at_least", "at_most", "exactly"]),
        st.integers(0, 3),
        windows,
        st.lists(st.builds(lambda op: {"property": "properties.n", "operator": op}, operators), max_size=1),
    ),
    st.builds(
        lambda name, which, op: {"type": "event_occurrence", "name": name, "which": which, "operator": op},
        st.sampled_from(EVENT_NAMES),
        st.sampled_from(["first", "last"]),
        st.sampled_from(
            [
                {"op": "within_last_days", "days": 7},
                {"op": "more_than_days_ago", "days": 20},
                {"op": "exists"},
                {"op": "greater_than", "value": "2026-03-01"},
            ]
        ),
    ),
    st.builds(
        lambda fn, window, value: {
            "type": "event_aggregate",
            "name": "A",
            "property": "properties.n",
            "function": fn,
            "window": window,
            "operator": {"op": "greater_or_equal", "value": value},
        },
        st.sampled_from(["sum", "avg", "min", "max", "count_distinct"]),
        windows,
        numbers,
    ),
    st.builds(
        lambda action, window: {"type": "message", "action": action, "window": window},
        st.sampled_from(["received", "opened", "clicked"]),
        windows,
    ),
    st.builds(lambda tag: {"type": "tag", "tag": tag}, st.sampled_from(["t1", "t2"])),
    st.builds(lambda sid: {"type": "segment", "segment_id": sid}, st.sampled_from(["s1", "s2"])),
    st.builds(
        lambda value: {"type": "score", "model": "fit", "operator": {"op": "greater_than", "value": value}},
        numbers,
    ),
)
conditions = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda cs: {"type": "all", "conditions": cs}),
        st.lists(children, max_size=3).map(lambda cs: {"type": "any", "conditions": cs}),
        children.map(lambda c: {"type": "not", "condition": c}),
    ),
    max_leaves=6,
)


# ---- richer contacts and conditions: every node type, every kind of data (the SQL agreement test) ----

# keys a SQLite JSON path cannot spell go through json_each; `UNSAFE_KEY` exercises that way
UNSAFE_KEY = 'q"\\é'
BAD_DATES = (
    "2026-02-29",  # no such day
    "2026-03-14T24:00",
    "2026-03-14T11:60",
    "2026-03-14T11:00+00:99",
    "0001-01-01T00:30+01:00",  # before year 1 in UTC
    "0000-03-15",
    "2026-3-14",
    "2026-03-14T11:00:00.1234567",
    "２０２６-03-14",  # noqa: RUF001 - full-width digits are not dates
)
RICH_DATES = (
    *DATES,
    "2026-03-14T12:00:00Z",  # exactly one day before NOW
    "2026-03-14 12:00:00.000001",
    "2026-03-15T09:00:00.5-03:00",
    "2026-03-16",
    "2025-03-16",
    "1990-03-14",
    "2000-02-28",
    "2026-03-14T11:00:00.123456+23:59",
    "0001-01-01T01:00+01:00",
)
TEXTS = ("a", "b", "A", "ab", "Ab", "5", "é", "", "%", "_")
rich_scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0, 1.0]),
    st.sampled_from([*TEXTS, *RICH_DATES, *BAD_DATES]),
)
rich_values = st.one_of(
    st.none(),
    rich_scalars,
    st.lists(rich_scalars, max_size=3),
    st.dictionaries(st.sampled_from(["n", UNSAFE_KEY]), rich_scalars, max_size=2),
)
PROPERTY_KEYS = ("n", "d", "o", UNSAFE_KEY)
properties = st.dictionaries(st.sampled_from(PROPERTY_KEYS), rich_values, max_size=3)
RICH_ZONES = (*ZONES, "Pacific/Pago_Pago", "Etc/GMT+12", "posixrules", "Not/AZone", "")
CHANNELS = ("email", "sms")
TOPICS = (None, "news")
STAGES = ("lead", "customer", "Lead")


@st.composite
def account_pools(draw: st.DrawFn) -> tuple[Account, ...]:
    """Up to three accounts, shared by the contacts of one example."""
    return tuple(
        Account(
            id=f"a{i}",
            group_id=f"g{i}",
            name=draw(st.sampled_from(["Acme", "acme", "Beta", None])),
            domain=draw(st.sampled_from(["acme.io", "beta.io", None])),
            attributes=draw(st.dictionaries(st.sampled_from(["x", UNSAFE_KEY]), rich_values, max_size=2)),
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(draw(st.integers(0, 3)))
    )


@st.composite
def rich_views(draw: st.DrawFn, contact_id: str = "c1", pool: tuple[Account, ...] = ()) -> ContactView:
    """A contact with data of every kind a condition reads."""
    person = contact(
        id=contact_id,
        email=draw(st.sampled_from([None, "a@x.io", "A@x.io", "b@x.io"])),
        first_name=draw(st.sampled_from([None, "Ann", "ann", "Anné", "", "a%_"])),
        timezone=draw(st.sampled_from(RICH_ZONES)),
        attributes=draw(st.dictionaries(st.sampled_from(["x", "y", UNSAFE_KEY]), rich_values, max_size=3)),
        created_at=NOW - draw(offsets),
        last_seen_at=draw(st.none() | offsets.map(lambda d: NOW - d)),
    )
    events = draw(
        st.lists(
            st.builds(
                TrackedEvent,
                name=st.sampled_from(EVENT_NAMES),
                properties=properties,
                timestamp=offsets.map(lambda d: NOW - d),
            ),
            max_size=6,
        )
    )
    messages = draw(
        st.lists(
            st.builds(
                MessageEvent,
                kind=st.sampled_from(list(MessageEventKind)),
                message_id=st.sampled_from(["m1", "m2"]),
                timestamp=offsets.map(lambda d: NOW - d),
                template_id=st.sampled_from([None, "t1"]),
                journey_id=st.sampled_from([None, "j1"]),
            ),
            max_size=4,
        )
    )
    subscriptions = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(CHANNELS), st.sampled_from(TOPICS)),
            st.sampled_from([s for s in SubscriptionStatus if s is not SubscriptionStatus.NONE]),
            max_size=3,
        )
    )
    return ContactView(
        contact=person,
        events=tuple(events),
        message_events=tuple(messages),
        accounts=tuple(a for a in pool if draw(st.booleans())),
        tags=frozenset(draw(st.sets(st.sampled_from(["t1", "T1"])))),
        segment_ids=frozenset(draw(st.sets(st.sampled_from(["s1", "s2"])))),
        list_ids=frozenset(draw(st.sets(st.sampled_from(["l1", "l2"])))),
        lifecycle_stage=draw(st.sampled_from([None, *STAGES])),
        scores=draw(st.dictionaries(st.sampled_from(["fit", "engagement"]), numbers)),
        subscriptions=subscriptions,
    )


rich_numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0, 1.0]))


@st.composite
def _ordered_between(draw: st.DrawFn, kind: st.SearchStrategy[Any]) -> dict[str, Any]:
    low, high = sorted(draw(st.lists(kind, min_size=2, max_size=2)), key=order_key)
    return _operator("between", low=low, high=high)


_texts = st.sampled_from(TEXTS)
text_operators = st.one_of(
    st.builds(_operator, st.sampled_from(["equals", "not_equals", "contains"]), value=_texts),
    st.builds(_operator, st.sampled_from(["in", "not_in"]), values=st.lists(_texts, min_size=1, max_size=3)),
    st.builds(_operator, st.just("starts_with"), value=st.sampled_from(["a", "A", "An", "é", "%"])),
    st.builds(_operator, st.sampled_from(["exists", "not_exists"])),
)
_dates = st.sampled_from(RICH_DATES)
date_operators = st.one_of(
    st.builds(
        _operator,
        st.sampled_from(["greater_than", "greater_or_equal", "less_than", "less_or_equal"]),
        value=_dates,
    ),
    _ordered_between(_dates),
    st.builds(_operator, st.sampled_from(["within_last_days", "within_next_days"]), days=days),
    st.builds(_operator, st.just("more_than_days_ago"), days=st.integers(0, 40)),
    st.builds(_operator, st.sampled_from(["exists", "not_exists", "anniversary_today"])),
)
number_operators = st.one_of(
    st.builds(
        _operator,
        st.sampled_from(
            ["equals", "not_equals", "greater_than", "greater_or_equal", "less_than", "less_or_equal"]
        ),
        value=rich_numbers,
    ),
    _ordered_between(rich_numbers),
)
rich_operators = st.one_of(
    st.builds(_operator, st.sampled_from(["equals", "not_equals", "contains"]), value=rich_scalars),
    st.builds(
        _operator, st.sampled_from(["in", "not_in"]), values=st.lists(rich_scalars, min_size=1, max_size=3)
    ),
    st.builds(_operator, st.just("starts_with"), value=st.sampled_from(["a", "A", "2026", "19", "é"])),
    number_operators,
    date_operators,
)
rich_windows = st.one_of(
    windows,
    st.builds(
        lambda start, end: {"kind": "between", "start": start, "end": end},
        st.sampled_from(["2026-03-01T00:00:00Z", "2026-03-10T12:00:00Z"]),
        st.sampled_from(["2026-03-12T12:00:00Z", "2026-04-01T00:00:00+02:00"]),
    ),
    st.builds(lambda d: {"kind": "last_days", "days": d}, st.integers(1, 3)),
)
property_paths = st.sampled_from(
    [
        "properties.n",
        "properties.d",
        "properties.o",
        "properties.o.n",
        f"properties.o.{UNSAFE_KEY}",
        f"properties.{UNSAFE_KEY}",
    ]
)
property_filters = st.lists(
    st.builds(lambda path, op: {"property": path, "operator": op}, property_paths, rich_operators),
    max_size=2,
)
rich_leaves = st.one_of(
    st.builds(
        lambda field, op: {"type": "attribute", "field": field, "operator": op},
        st.sampled_from(["attributes.x", "attributes.y", f"attributes.{UNSAFE_KEY}"]),
        rich_operators,
    ),
    st.builds(
        lambda field, op: {"type": "attribute", "field": field, "operator": op},
        st.sampled_from(["email", "first_name", "timezone"]),
        text_operators,
    ),
    st.builds(
        lambda field, op: {"type": "attribute", "field": field, "operator": op},
        st.sampled_from(["created_at", "last_seen_at"]),
        date_operators,
    ),
    st.builds(
        lambda name, performed, count_op, count, window, where: {
            "type": "event",
            "name": name,
            "performed": performed,
            "count": {"op": count_op, "value": count},
            "window": window,
            "where": where,
        },
        st.sampled_from(EVENT_NAMES),
        st.booleans(),
        st.sampled_from(["at_least", "at_most", "exactly"]),
        st.integers(0, 3),
        rich_windows,
        property_filters,
    ),
    st.builds(
        lambda name, which, where, op: {
            "type": "event_occurrence",
            "name": name,
            "which": which,
            "where": where,
            "operator": op,
        },
        st.sampled_from(EVENT_NAMES),
        st.sampled_from(["first", "last"]),
        property_filters,
        date_operators,
    ),
    st.builds(
        lambda fn, path, window, where, op: {
            "type": "event_aggregate",
            "name": "A",
            "property": path,
            "function": fn,
            "window": window,
            "where": where,
            "operator": op,
        },
        st.sampled_from(["sum", "avg", "min", "max", "count_distinct"]),
        property_paths,
        rich_windows,
        property_filters,
        number_operators,
    ),
    st.builds(
        lambda action, performed, ids, window: {
            "type": "message",
            "action": action,
            "performed": performed,
            "window": window,
            **ids,
        },
        st.sampled_from(["received", "opened", "clicked"]),
        st.booleans(),
        st.fixed_dictionaries(
            {},
            optional={
                "message_id": st.sampled_from(["m1", "m2"]),
                "template_id": st.just("t1"),
                "journey_id": st.just("j1"),
            },
        ),
        rich_windows,
    ),
    st.builds(lambda tag: {"type": "tag", "tag": tag}, st.sampled_from(["t1", "T1"])),
    st.builds(lambda sid: {"type": "segment", "segment_id": sid}, st.sampled_from(["s1", "s2", "s3"])),
    st.builds(lambda lid: {"type": "list", "list_id": lid}, st.sampled_from(["l1", "l2"])),
    st.builds(
        lambda stages: {"type": "lifecycle_stage", "stages": stages},
        st.lists(st.sampled_from(STAGES), min_size=1, max_size=2),
    ),
    st.builds(
        lambda model, op: {"type": "score", "model": model, "operator": op},
        st.sampled_from(["fit", "engagement"]),
        number_operators,
    ),
    st.builds(
        lambda channel, topic, status: {
            "type": "subscription",
            "channel": channel,
            "topic": topic,
            "status": status,
        },
        st.sampled_from(CHANNELS),
        st.sampled_from(TOPICS),
        st.sampled_from([s.value for s in SubscriptionStatus]),
    ),
    st.builds(
        lambda field, op: {"type": "account", "field": field, "operator": op},
        st.sampled_from(["account.name", "account.domain"]),
        text_operators,
    ),
    st.builds(
        lambda field, op: {"type": "account", "field": field, "operator": op},
        st.sampled_from(["account.attributes.x", f"account.attributes.{UNSAFE_KEY}"]),
        rich_operators,
    ),
)
rich_conditions = st.recursive(
    rich_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda cs: {"type": "all", "conditions": cs}),
        st.lists(children, max_size=3).map(lambda cs: {"type": "any", "conditions": cs}),
        children.map(lambda c: {"type": "not", "condition": c}),
    ),
    max_leaves=4,
)
