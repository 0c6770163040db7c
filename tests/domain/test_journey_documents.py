"""Journey documents: the shipped examples parse; structural and graph errors name node and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from nurture.domain.errors import Invalid
from nurture.domain.journeys.durations import format_duration, parse_duration
from nurture.domain.journeys.parsing import journey_schema, parse_journey
from nurture.domain.journeys.triggers import Direction, ScoreTrigger

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "journeys"

BASE: dict[str, Any] = {
    "name": "t",
    "trigger": {"type": "event", "event": "Signed Up"},
    "nodes": [
        {"id": "a", "type": "send", "template": "Welcome"},
        {"id": "wait", "type": "delay", "duration": "1d"},
        {"id": "b", "type": "condition", "message": {"node": "a", "action": "opened"}},
        {"id": "end", "type": "exit"},
    ],
    "edges": [
        {"from": "a", "to": "wait"},
        {"from": "wait", "to": "b"},
        {"from": "b", "port": "yes", "to": "end"},
    ],
}


def _errors(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        parse_journey(data)
    return {e.field: e.message for e in caught.value.errors}


def _with(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_journey_parses(path: Path) -> None:
    journey, graph = parse_journey(yaml.safe_load(path.read_text()))
    assert journey.name
    assert graph.entry == journey.nodes[0].id


def test_the_graph_follows_ports() -> None:
    _, graph = parse_journey(BASE)
    assert graph.entry == "a"
    assert graph.follow("a", "next") == "wait"
    assert graph.follow("b", "yes") == "end"
    assert graph.follow("b", "no") is None  # no edge: the run ends


def test_a_field_error_names_the_node_by_id() -> None:
    data = _with(lambda d: d["nodes"][1].update(duration="soon"))
    assert _errors(data) == {
        "nodes[wait].duration": "must be a duration such as 30m, 2h, 3d or 1w (parts may combine: 1d12h)"
    }


def test_an_unknown_node_type_is_named() -> None:
    data = _with(lambda d: d["nodes"][3].update(type="teleport"))
    assert list(_errors(data)) == ["nodes[end].type"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d["edges"].append({"from": "b", "port": "no", "to": "ghost"}), "edges[3].to", "ghost"),
        (lambda d: d["edges"].append({"from": "ghost", "to": "a"}), "edges[3].from", "ghost"),
        (
            lambda d: d["edges"].append({"from": "b", "port": "maybe", "to": "end"}),
            "edges[3].port",
            "yes, no",
        ),
        (lambda d: d["edges"].append({"from": "b", "port": "yes", "to": "a"}), "edges[3]", "already leads"),
        (lambda d: d["edges"].append({"from": "end", "to": "a"}), "edges[3].port", "exit ends the run"),
        (lambda d: d["edges"].pop(0), "nodes[wait]", "unreachable from the entry 'a'"),
        (lambda d: d["nodes"][2]["message"].update(node="wait"), "nodes[b].message.node", "not an email"),
    ],
)
def test_graph_errors_name_the_edge_or_node(change: Any, field: str, words: str) -> None:
    errors = _errors(_with(change))
    assert field in errors, errors
    assert words in errors[field]


def test_every_node_must_be_reachable_from_the_one_entry() -> None:
    def island(d: dict[str, Any]) -> None:
        d["nodes"] += [{"id": "x", "type": "delay", "duration": "1h"}, {"id": "y", "type": "exit"}]
        d["edges"] += [{"from": "x", "to": "y"}]

    errors = _errors(_with(island))
    assert set(errors) == {"nodes[x]", "nodes[y]"}
    assert "unreachable" in errors["nodes[x]"]


def test_a_loop_must_pass_through_a_wait() -> None:
    looping = _with(lambda d: d["edges"].append({"from": "b", "port": "no", "to": "a"}))
    parse_journey(looping)  # a → wait → b → a waits a day each round: allowed
    tight = copy.deepcopy(BASE)
    tight["nodes"].append({"id": "c", "type": "update_contact", "add_tags": ["x"]})
    tight["edges"] += [{"from": "b", "port": "no", "to": "c"}, {"from": "c", "to": "b"}]
    errors = _errors(tight)
    assert any("loop without a wait: b → c → b" in m or "c → b → c" in m for m in errors.values()), errors


def test_entry_settings_are_checked() -> None:
    data = _with(lambda d: d.update(entry={"reentry": "after"}))
    assert "entry" in _errors(data)
    data = _with(lambda d: d.update(entry={"correlation_key": "cart_id"}))
    assert "entry.correlation_key" in _errors(data)


def test_conditions_inside_a_journey_are_the_condition_language() -> None:
    data = _with(
        lambda d: d["nodes"][2].update(condition={"type": "attribute", "field": "plan", "operator": {}})
    )
    errors = _errors(data)
    assert any(f.startswith("nodes[b].condition") for f in errors), errors


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1d12h", 129600), ("1w", 604800)])
def test_durations_read_and_write_as_people_write_them(text: str, seconds: int) -> None:
    parsed = parse_duration(text)
    assert parsed.total_seconds() == seconds
    assert parse_duration(format_duration(parsed)) == parsed


def test_the_json_schema_is_published_with_every_node_type() -> None:
    schema = journey_schema()
    text = str(schema)
    for kind in ("delay", "wait_until", "wait_for_event", "condition", "split", "random_split", "send"):
        assert f"'{kind}'" in text


def test_a_score_trigger_fires_only_on_crossing_in_its_direction() -> None:
    up = ScoreTrigger(model_id="m", threshold=50)
    assert up.crossed(40, 50)
    assert not up.crossed(50, 70)  # already above: no second crossing
    assert not up.crossed(60, 40)
    down = ScoreTrigger(model_id="m", threshold=50, direction=Direction.DOWN)
    assert down.crossed(55, 49)
    assert not down.crossed(40, 30)
