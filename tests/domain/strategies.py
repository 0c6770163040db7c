"""Hypothesis strategies for random contacts, histories and conditions (shared by property tests and,
later, the SQL-compiler agreement test)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from nurture.domain.conditions.values import order_key
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind, TrackedEvent
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
