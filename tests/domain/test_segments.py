"""Pure segment rules: reference checks (unknown ids, archived, cycles) with node paths, dependency
order, and which changes can affect which conditions."""

from __future__ import annotations

from typing import Any

import pytest

from nurture.domain.activities import ChangeKind
from nurture.domain.audience import Change, can_affect
from nurture.domain.conditions import parse_condition
from nurture.domain.conditions.references import references
from nurture.domain.errors import Invalid
from nurture.domain.segments import (
    check_segment_references,
    dependency_order,
    parse_name,
    parse_segment_condition,
    with_dependencies,
)


def refers(*ids: str) -> Any:
    return parse_condition({"type": "any", "conditions": [{"type": "segment", "segment_id": i} for i in ids]})


def fields(exc: pytest.ExceptionInfo[Invalid]) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_an_unknown_segment_is_named_by_the_path_of_its_node() -> None:
    condition = parse_condition(
        {
            "type": "all",
            "conditions": [
                {"type": "tag", "tag": "vip"},
                {"type": "not", "condition": {"type": "segment", "segment_id": "nope"}},
            ],
        }
    )
    with pytest.raises(Invalid) as exc:
        check_segment_references("s1", condition, {"s2": frozenset()})
    assert fields(exc) == ["condition.conditions[1].condition.segment_id"]
    assert "no segment nope" in exc.value.errors[0].message


def test_a_segment_referring_to_itself_is_rejected() -> None:
    with pytest.raises(Invalid) as exc:
        check_segment_references("s1", refers("s1"), {})
    assert fields(exc) == ["condition.conditions[0].segment_id"]


def test_a_direct_cycle_is_rejected() -> None:
    # s2 refers to s1; s1 may not refer to s2
    with pytest.raises(Invalid) as exc:
        check_segment_references("s1", refers("s2"), {"s2": frozenset({"s1"})})
    assert fields(exc) == ["condition.conditions[0].segment_id"]
    assert "s1 → s2 → s1" in exc.value.errors[0].message


def test_an_indirect_cycle_is_rejected_and_other_references_pass() -> None:
    others = {"s2": frozenset({"s3"}), "s3": frozenset({"s1"}), "s4": frozenset()}
    with pytest.raises(Invalid) as exc:
        check_segment_references("s1", refers("s4", "s2"), others)
    assert fields(exc) == ["condition.conditions[1].segment_id"]
    assert "s1 → s2 → s3 → s1" in exc.value.errors[0].message
    check_segment_references("s1", refers("s4"), others)
    check_segment_references(None, refers("s2", "s3"), others)  # a new segment cannot be in a cycle


def test_an_archived_segment_cannot_be_referred_to() -> None:
    with pytest.raises(Invalid) as exc:
        check_segment_references(None, refers("s2"), {"s2": frozenset()}, archived=frozenset({"s2"}))
    assert "archived" in exc.value.errors[0].message


def test_dependency_order_puts_referenced_segments_first() -> None:
    graph = {"a": frozenset({"b", "c"}), "b": frozenset({"c"}), "c": frozenset(), "d": frozenset({"gone"})}
    order = dependency_order(graph)
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order.index("c") < order.index("b") < order.index("a")
    assert with_dependencies(graph, {"b"}) == {"b", "c"}


@pytest.mark.parametrize("bad", [None, "", "   ", 5, "x" * 201])
def test_a_segment_name_must_be_text_of_at_most_200_characters(bad: Any) -> None:
    with pytest.raises(Invalid) as exc:
        parse_name(bad)
    assert fields(exc) == ["name"]


def test_a_missing_or_bad_condition_is_named_under_condition() -> None:
    with pytest.raises(Invalid) as exc:
        parse_segment_condition(None)
    assert fields(exc) == ["condition"]
    with pytest.raises(Invalid) as exc:
        parse_segment_condition(
            {
                "type": "all",
                "conditions": [{"type": "event", "name": "X", "window": {"kind": "last_days", "days": 0}}],
            }
        )
    assert fields(exc) == ["condition.conditions[0].window.days"]


CONDITIONS = {
    "login": {"type": "event", "name": "Login"},
    "since": {"type": "event", "name": "Order", "window": {"kind": "since_event", "name": "Cart"}},
    "plan": {"type": "attribute", "field": "attributes.plan", "operator": {"op": "exists"}},
    "seen": {"type": "attribute", "field": "last_seen_at", "operator": {"op": "within_last_days", "days": 7}},
    "stage": {"type": "lifecycle_stage", "stages": ["lead"]},
    "segment": {"type": "segment", "segment_id": "s9"},
    "list": {"type": "list", "list_id": "l1"},
    "tag": {"type": "tag", "tag": "vip"},
    "score": {"type": "score", "model": "m1", "operator": {"op": "greater_than", "value": 5}},
    "email": {"type": "subscription", "channel": "email", "status": "subscribed"},
    "opened": {"type": "message", "action": "opened"},
    "company": {"type": "account", "field": "account.domain", "operator": {"op": "exists"}},
}
TABLE: list[tuple[ChangeKind, str | None, set[str]]] = [
    (ChangeKind.EVENT, "Login", {"login", "seen"}),
    (ChangeKind.EVENT, "Cart", {"since", "seen"}),
    (ChangeKind.EVENT, "Other", {"seen"}),  # every event moves last_seen_at
    (ChangeKind.PROFILE, "attributes.plan", {"plan"}),
    (ChangeKind.PROFILE, "attributes.size", set()),
    (ChangeKind.PROFILE, "timezone", {"seen"}),  # moves the local day of time-relative tests
    (ChangeKind.PROFILE, "lifecycle_stage", {"stage"}),
    (ChangeKind.PROFILE, "owner_id", set()),
    (ChangeKind.PROFILE, "account", {"company"}),
    (ChangeKind.PROFILE, None, set(CONDITIONS)),  # a new contact
    (ChangeKind.MEMBERSHIP, "segment:s9", {"segment"}),
    (ChangeKind.MEMBERSHIP, "segment:s8", set()),
    (ChangeKind.MEMBERSHIP, "list:l1", {"list"}),
    (ChangeKind.MEMBERSHIP, "tag:vip", {"tag"}),
    (ChangeKind.MEMBERSHIP, "tag:other", set()),
    (ChangeKind.MEMBERSHIP, "subscription:email", {"email"}),
    (ChangeKind.MEMBERSHIP, "subscription:sms", set()),
    (ChangeKind.SCORE, "m1", {"score"}),
    (ChangeKind.SCORE, "m2", set()),
    (ChangeKind.MESSAGE, "opened", {"opened"}),
    (ChangeKind.MERGE, "c0", set(CONDITIONS)),
]


@pytest.mark.parametrize(("kind", "name", "affected"), TABLE)
def test_a_change_affects_exactly_the_conditions_that_read_it(
    kind: ChangeKind, name: str | None, affected: set[str]
) -> None:
    found = {
        label
        for label, data in CONDITIONS.items()
        if can_affect(references(parse_condition(data)), Change(kind, name))
    }
    assert found == affected
