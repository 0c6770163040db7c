"""What a condition depends on, so live re-evaluation only looks at segments a change can affect."""

from __future__ import annotations

from dataclasses import dataclass, field

from nurture.domain.conditions.nodes import (
    AccountCondition,
    AggregateCondition,
    AllOf,
    AnyOf,
    AttributeCondition,
    Condition,
    EventCondition,
    LastDays,
    LifecycleCondition,
    ListCondition,
    MessageCondition,
    Not,
    OccurrenceCondition,
    PropertyFilter,
    ScoreCondition,
    SegmentCondition,
    SinceEvent,
    SubscriptionCondition,
    TagCondition,
    TimeWindow,
)
from nurture.domain.conditions.values import RELATIVE_DATE, Operator


@dataclass
class References:
    """Everything a condition reads. A change outside these sets cannot change its answer, except the
    passing of time when `time_relative` is true."""

    fields: set[str] = field(default_factory=set)
    event_names: set[str] = field(default_factory=set)
    account_fields: set[str] = field(default_factory=set)
    segment_ids: set[str] = field(default_factory=set)
    list_ids: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    score_models: set[str] = field(default_factory=set)
    subscription_channels: set[str] = field(default_factory=set)
    lifecycle_stage: bool = False
    message_events: bool = False
    time_relative: bool = False


def references(condition: Condition) -> References:
    """Collect the fields, event names, ids and flags `condition` depends on."""
    found = References()
    _collect(condition, found)
    return found


def _collect(condition: Condition, found: References) -> None:
    if isinstance(condition, AllOf | AnyOf):
        for child in condition.conditions:
            _collect(child, found)
    elif isinstance(condition, Not):
        _collect(condition.condition, found)
    elif isinstance(condition, AttributeCondition):
        found.fields.add(condition.field)
        _operator(condition.operator, found)
    elif isinstance(condition, EventCondition | AggregateCondition):
        found.event_names.add(condition.name)
        _filters(condition.where, found)
        _window(condition.window, found)
        if isinstance(condition, AggregateCondition):
            _operator(condition.operator, found)
    elif isinstance(condition, OccurrenceCondition):
        found.event_names.add(condition.name)
        _filters(condition.where, found)
        _operator(condition.operator, found)
    elif isinstance(condition, MessageCondition):
        found.message_events = True
        _window(condition.window, found)
    else:
        _membership(condition, found)


def _membership(condition: Condition, found: References) -> None:
    if isinstance(condition, SegmentCondition):
        found.segment_ids.add(condition.segment_id)
    elif isinstance(condition, ListCondition):
        found.list_ids.add(condition.list_id)
    elif isinstance(condition, TagCondition):
        found.tags.add(condition.tag)
    elif isinstance(condition, LifecycleCondition):
        found.lifecycle_stage = True
    elif isinstance(condition, ScoreCondition):
        found.score_models.add(condition.model)
    elif isinstance(condition, SubscriptionCondition):
        found.subscription_channels.add(condition.channel)
    elif isinstance(condition, AccountCondition):
        found.account_fields.add(condition.field)
        _operator(condition.operator, found)


def _filters(filters: list[PropertyFilter], found: References) -> None:
    for item in filters:
        _operator(item.operator, found)


def _operator(operator: Operator, found: References) -> None:
    if isinstance(operator, RELATIVE_DATE):
        found.time_relative = True


def _window(window: TimeWindow, found: References) -> None:
    if isinstance(window, LastDays):
        found.time_relative = True
    elif isinstance(window, SinceEvent):
        found.event_names.add(window.name)
