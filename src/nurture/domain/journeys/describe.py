"""Conditions and triggers in words, for traces and explanations: "no 'Order Completed' with cart_id
c-17 since 2026-11-20 10:00 UTC", "attributes.plan equals 'pro'"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from nurture.domain.conditions.nodes import (
    AllOf,
    AnyOf,
    AttributeCondition,
    BetweenDates,
    EventCondition,
    LastDays,
    LifecycleCondition,
    ListCondition,
    MessageCondition,
    Not,
    PropertyFilter,
    ScoreCondition,
    SegmentCondition,
    Since,
    SinceEvent,
    SubscriptionCondition,
    TagCondition,
)

_OPS = {
    "equals": "equals",
    "not_equals": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "contains",
    "starts_with": "starts with",
    "greater_than": ">",
    "greater_or_equal": "≥",
    "less_than": "<",
    "less_or_equal": "≤",
    "within_last_days": "within the last",
    "within_next_days": "within the next",
    "more_than_days_ago": "more than",
}


def operator_words(operator: BaseModel) -> str:
    data: dict[str, Any] = operator.model_dump()
    op = str(data.pop("op", ""))
    if op == "exists":
        return "is set"
    if op == "not_exists":
        return "is not set"
    if op == "anniversary_today":
        return "is today (anniversary)"
    if op == "between":
        return f"between {data.get('low')!r} and {data.get('high')!r}"
    if op in ("within_last_days", "within_next_days"):
        return f"{_OPS[op]} {data.get('days')} days"
    if op == "more_than_days_ago":
        return f"more than {data.get('days')} days ago"
    value = data.get("value", data.get("values"))
    return f"{_OPS.get(op, op)} {value!r}"


def filters_words(where: Sequence[PropertyFilter]) -> str:
    return ", ".join(f"{f.property.removeprefix('properties.')} {operator_words(f.operator)}" for f in where)


def _window(window: BaseModel) -> str:
    if isinstance(window, LastDays):
        return f" in the last {window.days} days"
    if isinstance(window, Since):
        return f" since {window.at:%Y-%m-%d %H:%M %Z}"
    if isinstance(window, BetweenDates):
        return f" between {window.start:%Y-%m-%d %H:%M %Z} and {window.end:%Y-%m-%d %H:%M %Z}"
    if isinstance(window, SinceEvent):
        return f" since the last '{window.name}'"
    return ""


def describe(item: BaseModel) -> str:
    """A short English reading of a condition or trigger."""
    if isinstance(item, AllOf | AnyOf):
        joiner = " and " if isinstance(item, AllOf) else " or "
        return "(" + joiner.join(describe(c) for c in item.conditions) + ")"
    if isinstance(item, Not):
        return "not " + describe(item.condition)
    if isinstance(item, AttributeCondition):
        return f"{item.field} {operator_words(item.operator)}"
    if isinstance(item, EventCondition):
        where = f" with {filters_words(item.where)}" if item.where else ""
        count = (
            ""
            if item.count.value == 1 and item.count.op == "at_least"
            else f" {item.count.op} {item.count.value} times"
        )
        head = "" if item.performed else "no "
        return f"{head}'{item.name}'{where}{count}{_window(item.window)}"
    if isinstance(item, MessageCondition):
        head = "" if item.performed else "not "
        return f"{head}{item.action.value} a message{_window(item.window)}"
    if isinstance(item, SegmentCondition):
        return f"in segment {item.segment_id}"
    if isinstance(item, ListCondition):
        return f"on list {item.list_id}"
    if isinstance(item, TagCondition):
        return f"tagged {item.tag!r}"
    if isinstance(item, LifecycleCondition):
        return "lifecycle stage is " + " or ".join(item.stages)
    if isinstance(item, ScoreCondition):
        return f"score {item.model} {operator_words(item.operator)}"
    if isinstance(item, SubscriptionCondition):
        return f"{item.channel} subscription {item.status.value}"
    kind = str(getattr(item, "type", type(item).__name__))
    if kind == "event":
        filters: Sequence[PropertyFilter] = getattr(item, "where", [])
        named = getattr(item, "event", "")
        names = " or ".join(f"'{n}'" for n in ([named] if isinstance(named, str) else named))
        return names + (f" with {filters_words(filters)}" if filters else "")
    return kind.replace("_", " ")


def describe_outcome(condition: BaseModel, held: bool) -> str:
    """What made a condition true or false, in words: a false "did 'Order Completed'" reads
    "no 'Order Completed' …", a false "not X" reads as X."""
    if held:
        return describe(condition)
    if isinstance(condition, EventCondition | MessageCondition):
        return describe(condition.model_copy(update={"performed": not condition.performed}))
    if isinstance(condition, Not):
        return describe(condition.condition)
    return "not " + describe(condition)
