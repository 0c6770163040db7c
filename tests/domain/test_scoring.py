"""Scoring arithmetic and model validation: decay, expiry, caps, thresholds, recompute schedule."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.domain.errors import Invalid
from nurture.domain.lifecycle import DEFAULT_STAGES
from nurture.domain.scoring import (
    PointsKind,
    ScoreChange,
    Threshold,
    allowance,
    breakdown,
    check_against_workspace,
    crossings,
    next_recompute,
    parse_model,
    rounded,
    rule_matches,
    score_at,
    scoring_model_schema,
)
from nurture.domain.scoring.definition import Cap, EventRule, Expire, HalfLife, NoDecay
from nurture.domain.scoring.score import MIN_INTERVAL, SETTLED, STEP

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def event(points: float, at: datetime, rule: str = "r") -> ScoreChange:
    return ScoreChange(rule, PointsKind.EVENT, points, at)


def model(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Engagement",
        "rules": [{"type": "event", "id": "pricing", "points": 5, "name": "Viewed Pricing"}],
    }
    return {**base, **overrides}


# ---- decay ----


@settings(max_examples=40)
@given(
    points=st.floats(-1000, 1000).filter(lambda p: abs(p) > 0.01),
    half_life=st.floats(0.5, 400),
    age=st.floats(0, 2000),
)
def test_a_half_life_halves_the_points_every_half_life(points: float, half_life: float, age: float) -> None:
    decay = HalfLife(days=half_life)
    change = event(points, T0)
    at = T0 + timedelta(days=age)
    later = at + timedelta(days=half_life)
    assert score_at([change], decay, later) == pytest.approx(score_at([change], decay, at) / 2, rel=1e-6)
    assert score_at([change], decay, T0 + timedelta(days=half_life)) == pytest.approx(points / 2)


@settings(max_examples=40)
@given(points=st.floats(-1000, 1000), days=st.integers(1, 400), before=st.integers(0, 10_000))
def test_expiry_counts_points_in_full_for_n_days_then_not_at_all(
    points: float, days: int, before: int
) -> None:
    decay = Expire(days=days)
    change = event(points, T0)
    end = T0 + timedelta(days=days)
    assert score_at([change], decay, end - timedelta(seconds=before % (days * 86400) + 1)) == points
    assert score_at([change], decay, end) == 0
    assert score_at([change], decay, end + timedelta(days=before)) == 0


def test_condition_points_never_decay_and_nothing_counts_before_it_happened() -> None:
    held = ScoreChange("title", PointsKind.CONDITION, 15, T0)
    for decay in (HalfLife(days=1), Expire(days=1), NoDecay()):
        assert score_at([held], decay, T0 + 400 * DAY) == 15
        assert score_at([held, event(5, T0 + DAY)], decay, T0 + DAY / 2) == 15


def test_rounded_keeps_two_decimals_and_no_negative_zero() -> None:
    assert rounded(62.4567) == 62.46
    assert str(rounded(-0.001)) == "0.0"


# ---- when to recompute ----

thresholds_strategy = st.lists(
    st.builds(Threshold, score=st.integers(-50, 150).map(float), stage=st.just("mql")), max_size=3
)
changes_strategy = st.lists(
    st.builds(
        ScoreChange,
        rule_id=st.sampled_from(["a", "b"]),
        kind=st.sampled_from(list(PointsKind)),
        points=st.integers(-60, 100).filter(bool).map(float),
        occurred_at=st.integers(0, 90 * 24).map(lambda h: T0 + timedelta(hours=h)),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    changes=changes_strategy,
    half_life=st.sampled_from([0.5, 3.0, 30.0]),
    thresholds=thresholds_strategy,
    probes=st.lists(st.floats(0, 1), min_size=1, max_size=8),
)
def test_until_a_half_life_score_is_due_it_crosses_no_threshold_and_moves_little(
    changes: list[ScoreChange], half_life: float, thresholds: list[Threshold], probes: list[float]
) -> None:
    decay = HalfLife(days=half_life)
    now = T0 + 91 * DAY
    stored = rounded(score_at(changes, decay, now))
    due = next_recompute(changes, decay, thresholds, now)
    horizon = (due - now) if due is not None else 5000 * DAY
    decaying = abs(score_at([c for c in changes if c.kind is not PointsKind.CONDITION], decay, now))
    # within one MIN_INTERVAL a score may move by more than STEP; never by more than one interval's decay
    interval_decay = decaying * (1 - 0.5 ** (MIN_INTERVAL / timedelta(days=half_life)))
    for probe in probes:
        at = now + horizon * probe
        if due is not None and at >= due:
            continue
        now_score = rounded(score_at(changes, decay, at))
        assert crossings(thresholds, stored, now_score) == [], (at, stored, now_score)
        assert abs(now_score - stored) <= max(STEP, interval_decay) + 2 * SETTLED
    if due is None:
        assert rounded(score_at(changes, decay, now + 5000 * DAY)) == pytest.approx(stored, abs=0.011)


@settings(max_examples=40, deadline=None)
@given(changes=changes_strategy, days=st.integers(1, 60), probes=st.lists(st.floats(0, 1), max_size=5))
def test_an_expiry_score_is_due_exactly_when_points_expire(
    changes: list[ScoreChange], days: int, probes: list[float]
) -> None:
    decay = Expire(days=days)
    now = T0 + 91 * DAY  # every change happened already, as in the service
    due = next_recompute(changes, decay, [], now)
    stored = score_at(changes, decay, now)
    end = due if due is not None else now + 1000 * DAY
    for probe in probes:
        assert score_at(changes, decay, now + (end - now) * probe * 0.999) == stored
    if due is not None:
        assert due > now
        assert any(c.occurred_at + timedelta(days=days) == due for c in changes)


def test_no_decay_is_never_due_and_a_settled_half_life_score_neither() -> None:
    assert next_recompute([event(10, T0)], NoDecay(), [], T0 + DAY) is None
    assert next_recompute([event(10, T0)], HalfLife(days=1), [], T0 + 100 * DAY) is None


def test_a_threshold_crossed_by_decay_alone_is_due_at_the_crossing() -> None:
    decay = HalfLife(days=10)
    changes = [event(100, T0)]
    thresholds = [Threshold(score=50, stage="mql")]
    crossing = T0 + timedelta(days=10 * math.log2(100 / (50 - SETTLED)))
    at, recomputes = T0, 0
    while rounded(score_at(changes, decay, at)) >= 50:  # the worker: recompute whenever due
        due = next_recompute(changes, decay, thresholds, at)
        assert due is not None
        at, recomputes = due, recomputes + 1
    assert crossing <= at < crossing + timedelta(seconds=2)
    assert recomputes < 120  # steps of STEP points, not a recompute every minute


# ---- caps ----


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.integers(0, 30 * 24), min_size=1, max_size=25),
    points=st.sampled_from([3.0, 5.0, -4.0]),
    cap=st.one_of(
        st.builds(Cap, max_points=st.sampled_from([7.0, 10.0, 12.5]), days=st.integers(1, 7)),
        st.builds(Cap, max_times=st.integers(1, 3), days=st.integers(1, 7)),
    ),
)
def test_a_cap_holds_in_every_period_whatever_order_events_arrive_in(
    times: list[int], points: float, cap: Cap
) -> None:
    granted: list[tuple[datetime, float]] = []
    for hour in times:  # arrival order, not time order
        at = T0 + timedelta(hours=hour)
        got = allowance(cap, points, at, granted)
        assert abs(got) <= abs(points)
        if got:
            granted.append((at, got))
    period = timedelta(days=cap.days)
    for end, _ in granted:
        inside = [p for t, p in granted if end - period < t <= end]
        if cap.max_times is not None:
            assert len(inside) <= cap.max_times
        else:
            assert cap.max_points is not None
            assert sum(abs(p) for p in inside) <= cap.max_points + 1e-9
    assert granted, "the first occurrence always scores"


def test_a_cap_cuts_the_last_grant_to_what_is_left_and_refills_after_the_period() -> None:
    cap = Cap(max_points=12, days=7)
    granted: list[tuple[datetime, float]] = []
    got = []
    for day in (0, 1, 2, 3, 8):
        at = T0 + day * DAY
        points = allowance(cap, 5, at, granted)
        got.append(points)
        if points:
            granted.append((at, points))
    assert got == [5, 5, 2, 0, 5]


# ---- thresholds and breakdown ----


def test_crossings_up_in_rising_order_and_down_in_falling_order() -> None:
    ts = [Threshold(score=80, stage="sql"), Threshold(score=50, stage="mql")]
    assert [(c.threshold.score, c.direction) for c in crossings(ts, 10, 85)] == [(50, "up"), (80, "up")]
    assert [(c.threshold.score, c.direction) for c in crossings(ts, 85, 49.99)] == [
        (80, "down"),
        (50, "down"),
    ]
    assert crossings(ts, 50, 79) == []
    assert [c.direction for c in crossings(ts, 49.99, 50)] == ["up"]


def test_breakdown_says_why_a_lead_is_at_its_score() -> None:
    changes = [
        event(10, T0, "pricing"),
        event(10, T0 + DAY, "pricing"),
        ScoreChange("title", PointsKind.CONDITION, 15, T0),
        ScoreChange("title", PointsKind.CONDITION, -15, T0 + DAY),
        ScoreChange("manual", PointsKind.MANUAL, 37, T0 + DAY),
    ]
    lines = breakdown(changes, NoDecay(), T0 + 2 * DAY)
    assert [(x.rule_id, x.times_applied, x.points) for x in lines] == [
        ("manual", 1, 37),
        ("pricing", 2, 20),
        ("title", 2, 0),
    ]
    assert sum(x.points for x in lines) == score_at(changes, NoDecay(), T0 + 2 * DAY) == 57


def test_event_rules_match_name_and_property_filters() -> None:
    rule = EventRule.model_validate(
        {
            "id": "big-order",
            "points": 10,
            "name": "Order Completed",
            "where": [{"property": "properties.total", "operator": {"op": "greater_than", "value": 100}}],
        }
    )
    assert rule_matches(rule, "Order Completed", {"total": 150}, T0)
    assert not rule_matches(rule, "Order Completed", {"total": "150"}, T0)
    assert not rule_matches(rule, "Order Completed", {}, T0)
    assert not rule_matches(rule, "Order Refunded", {"total": 150}, T0)


# ---- validation ----


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"extra": 1}, "extra"),
        ({"rules": [{"type": "event", "id": "a", "points": "5", "name": "X"}]}, "rules[0].points"),
        ({"rules": [{"type": "event", "id": "a", "points": True, "name": "X"}]}, "rules[0].points"),
        ({"rules": [{"type": "event", "id": "a", "points": 0, "name": "X"}]}, "rules[0].points"),
        (
            {"rules": [{"type": "event", "id": "a", "points": 1, "name": "X", "cap": {"max_times": 2}}]},
            "rules[0].cap.days",
        ),
        (
            {"rules": [{"type": "event", "id": "a", "points": 1, "name": "X", "cap": {"days": 2}}]},
            "rules[0].cap",
        ),
        (
            {"rules": [{"type": "event", "id": "a", "points": 1, "name": "X", "frequency": "sometimes"}]},
            "rules[0].frequency",
        ),
        ({"rules": [{"type": "event", "id": "a b", "points": 1, "name": "X"}]}, "rules[0].id"),
        ({"rules": [{"type": "event", "id": "manual", "points": 1, "name": "X"}]}, "rules[0].id"),
        ({"rules": [{"type": "event", "id": "a", "points": 1, "name": "X"}] * 2}, "rules[1].id"),
        (
            {
                "rules": [
                    {
                        "type": "event",
                        "id": "a",
                        "points": 1,
                        "name": "X",
                        "where": [{"property": "total", "operator": {"op": "exists"}}],
                    }
                ]
            },
            "rules[0].where[0].property",
        ),
        (
            {
                "rules": [
                    {
                        "type": "condition",
                        "id": "a",
                        "points": 1,
                        "condition": {
                            "type": "attribute",
                            "field": "attributes.t",
                            "operator": {"op": "nope"},
                        },
                    }
                ]
            },
            "rules[0].condition.operator.op",
        ),
        ({"rules": [{"type": "magic", "id": "a", "points": 1}]}, "rules[0].type"),
        ({"decay": {"kind": "half_life", "days": 0}}, "decay.days"),
        ({"decay": {"kind": "half_life", "days": "7"}}, "decay.days"),
        ({"decay": {"kind": "expire"}}, "decay.days"),
        ({"decay": {"kind": "linear", "days": 3}}, "decay.kind"),
        ({"thresholds": [{"score": 50}]}, "thresholds[0].stage"),
        (
            {"thresholds": [{"score": 50, "stage": "mql"}, {"score": 50, "stage": "sql"}]},
            "thresholds[1].score",
        ),
        ({"name": ""}, "name"),
    ],
)
def test_bad_models_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_model(model(**change))
    assert field in [e.field for e in caught.value.errors], caught.value.errors


def test_workspace_checks_name_the_threshold_and_the_rule() -> None:
    fit = parse_model(model(name="Fit"))
    bad = parse_model(
        model(
            thresholds=[
                {"score": 80, "stage": "mql"},
                {"score": 50, "stage": "sql"},
                {"score": 90, "stage": "vip"},
            ],
            rules=[
                {
                    "type": "condition",
                    "id": "self",
                    "points": 1,
                    "condition": {
                        "type": "score",
                        "model": "M1",
                        "operator": {"op": "greater_than", "value": 1},
                    },
                },
                {
                    "type": "condition",
                    "id": "ghost",
                    "points": 1,
                    "condition": {
                        "type": "score",
                        "model": "NOPE",
                        "operator": {"op": "greater_than", "value": 1},
                    },
                },
                {
                    "type": "condition",
                    "id": "loop",
                    "points": 1,
                    "condition": {
                        "type": "score",
                        "model": "M2",
                        "operator": {"op": "greater_than", "value": 1},
                    },
                },
            ],
        )
    )
    reads_m1 = parse_model(
        model(
            rules=[
                {
                    "type": "condition",
                    "id": "x",
                    "points": 1,
                    "condition": {
                        "type": "score",
                        "model": "M1",
                        "operator": {"op": "greater_than", "value": 1},
                    },
                }
            ]
        )
    )
    with pytest.raises(Invalid) as caught:
        check_against_workspace(bad, "M1", DEFAULT_STAGES, {"M1": fit, "M2": reads_m1})
    messages = {e.field: e.message for e in caught.value.errors}
    assert "unknown stage" in messages["thresholds[2].stage"]
    assert "earlier stage" in messages["thresholds[0].stage"]
    assert [e.field for e in caught.value.errors].count("rules[0].condition") == 1
    assert "unknown scoring model" in messages["rules[1].condition"]
    assert "loop" in messages["rules[2].condition"]
    check_against_workspace(fit, "M1", DEFAULT_STAGES, {"M1": fit})


def test_the_schema_is_published_with_rules_decay_and_thresholds() -> None:
    schema = scoring_model_schema()
    assert {"name", "rules", "decay", "thresholds"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_the_readme_example_model_is_valid() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Lead scoring") :]
    example = section[
        section.index("```json") + len("```json") : section.index("```\n", section.index("```json") + 7)
    ]
    model = parse_model(json.loads(example))
    assert [r.id for r in model.rules][:2] == ["pricing", "signup"]
    check_against_workspace(model, None, DEFAULT_STAGES, {})
