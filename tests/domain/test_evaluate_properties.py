"""Laws the evaluator keeps on random contacts and conditions (hypothesis)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from nurture.domain.conditions import Condition, references
from nurture.domain.contact_view import ContactView
from nurture.domain.evaluate import evaluate
from nurture.domain.next_change import next_change_time
from tests.domain.builders import NOW, cond, event
from tests.domain.strategies import between_operators, conditions, leaves, offsets, operators, scalars, views

ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)


@given(conditions, views())
def test_not_inverts(data: dict[str, Any], contact_view: ContactView) -> None:
    assert evaluate(cond({"type": "not", "condition": data}), contact_view, NOW) is not evaluate(
        cond(data), contact_view, NOW
    )


@given(views())
def test_all_of_nothing_is_true_and_any_of_nothing_is_false(contact_view: ContactView) -> None:
    assert evaluate(cond({"type": "all", "conditions": []}), contact_view, NOW)
    assert not evaluate(cond({"type": "any", "conditions": []}), contact_view, NOW)


@given(st.lists(conditions, max_size=4), views())
def test_all_and_any_combine_their_children(
    children: list[dict[str, Any]], contact_view: ContactView
) -> None:
    answers = [evaluate(cond(child), contact_view, NOW) for child in children]
    assert evaluate(cond({"type": "all", "conditions": children}), contact_view, NOW) is all(answers)
    assert evaluate(cond({"type": "any", "conditions": children}), contact_view, NOW) is any(answers)


def _attribute(op: dict[str, Any]) -> dict[str, Any]:
    return {"type": "attribute", "field": "attributes.x", "operator": op}


@given(between_operators(), views())
def test_between_is_greater_or_equal_and_less_or_equal(
    between: dict[str, Any], contact_view: ContactView
) -> None:
    pair = {
        "type": "all",
        "conditions": [
            _attribute({"op": "greater_or_equal", "value": between["low"]}),
            _attribute({"op": "less_or_equal", "value": between["high"]}),
        ],
    }
    assert evaluate(cond(_attribute(between)), contact_view, NOW) is evaluate(cond(pair), contact_view, NOW)


@given(scalars, st.lists(scalars, min_size=1, max_size=3), views())
def test_negative_operators_are_exact_negations(
    value: Any, values: list[Any], contact_view: ContactView
) -> None:
    for positive, negative in (
        ({"op": "equals", "value": value}, {"op": "not_equals", "value": value}),
        ({"op": "in", "values": values}, {"op": "not_in", "values": values}),
        ({"op": "exists"}, {"op": "not_exists"}),
    ):
        yes = evaluate(cond(_attribute(positive)), contact_view, NOW)
        assert evaluate(cond(_attribute(negative)), contact_view, NOW) is not yes


@given(operators, views())
def test_in_is_any_of_equals(operator: dict[str, Any], contact_view: ContactView) -> None:
    if operator["op"] != "in":
        return
    each = [_attribute({"op": "equals", "value": v}) for v in operator["values"]]
    assert evaluate(cond(_attribute(operator)), contact_view, NOW) is evaluate(
        cond({"type": "any", "conditions": each}), contact_view, NOW
    )


@given(conditions, views(), st.sampled_from(["Asia/Tokyo", "America/New_York"]))
def test_the_zone_now_is_written_in_does_not_matter(
    data: dict[str, Any], contact_view: ContactView, zone: str
) -> None:
    local_now = NOW.astimezone(ZoneInfo(zone))
    assert evaluate(cond(data), contact_view, local_now) is evaluate(cond(data), contact_view, NOW)


@settings(max_examples=300)
@given(
    st.one_of(leaves, conditions),
    views(),
    st.floats(min_value=0, max_value=1, exclude_max=True),  # before the change time, never at it
    st.integers(0, 40 * 24),
)
def test_nothing_changes_before_the_next_change_time(
    data: dict[str, Any], contact_view: ContactView, fraction: float, hours: int
) -> None:
    condition = cond(data)
    now = NOW + timedelta(hours=hours)
    answer = evaluate(condition, contact_view, now)
    change = next_change_time(condition, contact_view, now)
    horizon = (change if change is not None else now + timedelta(days=400)) - now
    assert horizon > timedelta(0)
    for later in (now + horizon * fraction, now + horizon - timedelta(microseconds=1)):
        if now <= later < now + horizon:  # a fraction just under 1 can round up to the change itself
            assert evaluate(condition, contact_view, later) is answer, (later, change)


@given(conditions)
def test_a_condition_survives_a_json_round_trip(data: dict[str, Any]) -> None:
    condition = cond(data)
    assert cond(json.loads(json.dumps(ADAPTER.dump_python(condition, mode="json")))) == condition


@given(conditions, views(), st.sampled_from(["A", "B", "C"]), offsets)
def test_an_event_outside_the_references_changes_nothing(
    data: dict[str, Any], contact_view: ContactView, name: str, offset: timedelta
) -> None:
    condition = cond(data)
    if name in references(condition).event_names:
        return
    more = replace(contact_view, events=(*contact_view.events, event(name, NOW - offset, n=1)))
    assert evaluate(condition, more, NOW) is evaluate(condition, contact_view, NOW)


@given(conditions, views(), st.sampled_from(["t1", "t2", "t3"]))
def test_a_tag_outside_the_references_changes_nothing(
    data: dict[str, Any], contact_view: ContactView, tag: str
) -> None:
    condition = cond(data)
    if tag in references(condition).tags:
        return
    more = replace(contact_view, tags=contact_view.tags ^ {tag})
    assert evaluate(condition, more, NOW) is evaluate(condition, contact_view, NOW)
