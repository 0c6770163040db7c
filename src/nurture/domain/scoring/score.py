"""A contact's score as a pure function of its score changes and the time.

Every change keeps the points it was granted and when. The score at `t` is the sum of each change's
value at `t`: event and manual points decay by the model's rule (half-life, or expiry after N days);
condition-rule points never decay (they stand for what is true now and are taken back when it stops
being true). The stored score is `rounded(score_at(now))`, recomputed when a change arrives and at
`next_recompute`, so decay alone moves it (see docs/architecture.md, "Scores and decay").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from nurture.domain.conditions.matching import passes
from nurture.domain.evaluate import property_value
from nurture.domain.scoring.definition import (
    Cap,
    ConditionRule,
    Decay,
    EventRule,
    Expire,
    HalfLife,
    NoDecay,
    Threshold,
)

PRECISION = 2  # stored scores are rounded to 2 decimals
STEP = 0.5  # decay re-stores a score once it has moved by this much …
MIN_INTERVAL = timedelta(hours=1)  # … but not more often than this (threshold crossings: on time)
SETTLED = 0.005  # decaying points below this no longer change the rounded score
HALF_LIVES_KEPT = 40  # older half-life points (< 1e-12 of their value) are left out of the sum
SLACK = timedelta(seconds=1)  # a scheduled crossing is checked just after it, past float rounding


class PointsKind(StrEnum):
    EVENT = "event"
    CONDITION = "condition"
    MANUAL = "manual"


@dataclass(frozen=True)
class ScoreChange:
    """One row of a contact's score history, as granted."""

    rule_id: str
    kind: PointsKind
    points: float
    occurred_at: datetime
    event_id: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """A score change as the history shows it: points as granted, with why and when."""

    id: str
    rule_id: str
    kind: str
    points: float
    event_id: str | None
    reason: str | None
    occurred_at: datetime
    expires_at: datetime | None


def decays(change: ScoreChange) -> bool:
    return change.kind is not PointsKind.CONDITION


def value_at(change: ScoreChange, decay: Decay, at: datetime) -> float:
    """What one change is worth at `at` (nothing before it happened)."""
    if change.occurred_at > at:
        return 0.0
    if not decays(change) or isinstance(decay, NoDecay):
        return change.points
    age = at - change.occurred_at
    if isinstance(decay, Expire):
        return change.points if age < timedelta(days=decay.days) else 0.0
    return float(change.points * 0.5 ** (age / timedelta(days=decay.days)))


def score_at(changes: Iterable[ScoreChange], decay: Decay, at: datetime) -> float:
    """The exact score at `at`."""
    return math.fsum(value_at(change, decay, at) for change in changes)


def rounded(score: float) -> float:
    """The score as stored and shown: 2 decimals, never -0.0."""
    return round(score, PRECISION) + 0.0


def expires_at(decay: Decay, kind: PointsKind, occurred_at: datetime) -> datetime | None:
    """When a change stops counting (expiry models only)."""
    if isinstance(decay, Expire) and kind is not PointsKind.CONDITION:
        return occurred_at + timedelta(days=decay.days)
    return None


def oldest_counted(decay: Decay, at: datetime) -> datetime | None:
    """Decaying changes older than this are worth nothing (or next to nothing) at `at`; None: all count."""
    if isinstance(decay, Expire):
        return at - timedelta(days=decay.days)
    if isinstance(decay, HalfLife):
        return at - timedelta(days=decay.days * HALF_LIVES_KEPT)
    return None


def next_recompute(
    changes: Sequence[ScoreChange], decay: Decay, thresholds: Sequence[Threshold], at: datetime
) -> datetime | None:
    """When the stored score (`rounded(score_at(at))`) should next be recomputed because time alone
    moves it: the next expiry; with a half-life, once it has decayed by STEP (at most every
    MIN_INTERVAL) and exactly when it crosses a threshold; None when time no longer changes it."""
    if isinstance(decay, NoDecay):
        return None
    if isinstance(decay, Expire):
        ends = [
            change.occurred_at + timedelta(days=decay.days)
            for change in changes
            if decays(change) and change.occurred_at <= at
        ]
        return min((end for end in ends if end > at), default=None)
    return _half_life_due(changes, decay, thresholds, at)


def _half_life_due(
    changes: Sequence[ScoreChange], decay: HalfLife, thresholds: Sequence[Threshold], at: datetime
) -> datetime | None:
    decaying = math.fsum(value_at(c, decay, at) for c in changes if decays(c))
    steady = math.fsum(value_at(c, decay, at) for c in changes if not decays(c))
    size = abs(decaying)
    if size < SETTLED:
        return None
    half_life = timedelta(days=decay.days)
    # after Δ the decaying part is decaying · 2^(-Δ/h): it has moved by STEP when 2^(-Δ/h) = 1 - STEP/size
    # (the last, small rest: recompute once it no longer shows in the rounded score)
    moved = half_life * (-math.log2(1 - STEP / size) if size > STEP else math.log2(size / SETTLED))
    due = at + max(moved, MIN_INTERVAL)
    current = steady + decaying
    for threshold in thresholds:
        # the rounded score is on the other side of `score` once the exact one passes score - SETTLED
        boundary = threshold.score - SETTLED
        if (current - boundary) * (steady - boundary) < 0:
            crossing = at + half_life * math.log2(decaying / (boundary - steady)) + SLACK
            due = min(due, crossing)
    return due


def rule_matches(rule: EventRule, name: str | None, properties: Mapping[str, Any], now: datetime) -> bool:
    """Whether an event is one the rule scores: its name, and every property filter (as in event
    conditions; relative dates are measured from `now`, anniversaries in UTC)."""
    return name == rule.name and all(
        passes(f.operator, property_value(properties, f.path()), now, UTC) for f in rule.where
    )


def allowance(cap: Cap, points: float, at: datetime, granted: Sequence[tuple[datetime, float]]) -> float:
    """The points an occurrence at `at` may still get from a capped rule, given the rule's earlier
    grants `(time, points)` for this contact (in any time order: a late event is checked against
    grants after it too). Every period `(T - days, T]` holds at most the cap; a grant over
    `max_points` is cut to what is left."""
    period = timedelta(days=cap.days)
    # the periods that contain `at` end in [at, at + period); the busiest ends at `at` or at a grant
    ends = [at, *(t for t, _ in granted if at < t < at + period)]
    if cap.max_times is not None:
        used = max(sum(1 for t, p in granted if end - period < t <= end and p != 0) for end in ends)
        return points if used < cap.max_times else 0.0
    assert cap.max_points is not None
    used_points = max(math.fsum(abs(p) for t, p in granted if end - period < t <= end) for end in ends)
    left = cap.max_points - used_points
    if left <= 0:
        return 0.0
    return math.copysign(min(abs(points), left), points)


def condition_delta(rule: ConditionRule, holds: bool, granted: float) -> float:
    """The change that brings a condition rule's net points (`granted` so far) to what it should be:
    its points while the condition holds, nothing otherwise."""
    return (rule.points if holds else 0.0) - granted


@dataclass(frozen=True)
class Crossing:
    threshold: Threshold
    direction: str  # up | down


def crossings(thresholds: Sequence[Threshold], before: float, after: float) -> list[Crossing]:
    """Thresholds the (stored) score passed going from `before` to `after`; reaching a threshold
    counts as crossing it up, falling below it as crossing down. In the order they were passed."""
    if after > before:
        passed = [t for t in thresholds if before < t.score <= after]
        return [Crossing(t, "up") for t in sorted(passed, key=lambda t: t.score)]
    passed = [t for t in thresholds if after < t.score <= before]
    return [Crossing(t, "down") for t in sorted(passed, key=lambda t: -t.score)]


@dataclass(frozen=True)
class RuleBreakdown:
    """Why a score is what it is: one line per rule."""

    rule_id: str
    times_applied: int
    points: float  # worth now, after decay
    last_applied_at: datetime


def breakdown(changes: Iterable[ScoreChange], decay: Decay, at: datetime) -> list[RuleBreakdown]:
    """Per rule: how many changes it made, what they are worth at `at`, the last one's time; the
    rules that count most first."""
    by_rule: dict[str, list[ScoreChange]] = {}
    for change in changes:
        by_rule.setdefault(change.rule_id, []).append(change)
    lines = [
        RuleBreakdown(
            rule_id=rule_id,
            times_applied=len(rows),
            points=rounded(score_at(rows, decay, at)),
            last_applied_at=max(r.occurred_at for r in rows),
        )
        for rule_id, rows in by_rule.items()
    ]
    return sorted(lines, key=lambda line: (-abs(line.points), line.rule_id))
