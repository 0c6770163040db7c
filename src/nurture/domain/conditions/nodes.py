"""The condition tree: every node is a JSON object discriminated by `type`.

Segments, journey entry conditions and branches, and scoring rules all use this one language. What each
node means is defined by `nurture.domain.evaluate`; the SQL compiler must give the same answers.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from nurture.domain.conditions.values import (
    ORDERED,
    RELATIVE_DATE,
    TEXT_OPERATORS,
    Between,
    Equals,
    Exists,
    GreaterOrEqual,
    GreaterThan,
    LessOrEqual,
    LessThan,
    NotEquals,
    NotExists,
    Operator,
    Strict,
    is_number,
    operand_values,
)

TEXT_FIELDS = ("email", "phone", "first_name", "last_name", "timezone", "locale")
DATE_FIELDS = ("created_at", "last_seen_at")
_NAME = r"[^.\s][^.]*"
_ATTRIBUTE_FIELD = re.compile(rf"^attributes\.{_NAME}$")
_PROPERTY_PATH = re.compile(rf"^properties(?:\.{_NAME})+$")
_ACCOUNT_FIELD = re.compile(rf"^account\.(?:name|domain|attributes\.{_NAME})$")
MAX_DEPTH = 16

NameStr = Annotated[str, Field(min_length=1, max_length=200)]
IdStr = Annotated[str, Field(min_length=1, max_length=64)]


def _check_field_kind(field: str, operator: Operator) -> None:
    """Typed fields accept only the operators (and value types) their type supports."""
    if field in TEXT_FIELDS or field in ("account.name", "account.domain"):
        if not isinstance(operator, TEXT_OPERATORS):
            raise ValueError(f"{field} is text: use equals, in, contains, starts_with or exists")
        if any(not isinstance(v, str) for v in operand_values(operator)):
            raise ValueError(f"{field} is text: compare it with strings")
    elif field in DATE_FIELDS:
        allowed = (*ORDERED, *RELATIVE_DATE, Exists, NotExists)
        if not isinstance(operator, allowed):
            raise ValueError(f"{field} is a date: use a date comparison, a relative date or exists")
        if any(is_number(v) for v in operand_values(operator)):
            raise ValueError(f"{field} is a date: compare it with ISO 8601 dates")


class Ever(Strict):
    """Every event up to now. Every window only sees events with `timestamp <= now`."""

    kind: Literal["ever"] = "ever"


class LastDays(Strict):
    """Events with `now - days <= timestamp <= now`."""

    kind: Literal["last_days"] = "last_days"
    days: int = Field(ge=1, le=36500)


class BetweenDates(Strict):
    """Events with `start <= timestamp <= end` (and `<= now`)."""

    kind: Literal["between"] = "between"
    start: AwareDatetime
    end: AwareDatetime

    @field_validator("end")
    @classmethod
    def _ordered(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and start > end:
            raise ValueError("must not be before start (the window would be empty)")
        return end


class Since(Strict):
    """Events with `at <= timestamp <= now`."""

    kind: Literal["since"] = "since"
    at: AwareDatetime


class SinceEvent(Strict):
    """Events strictly after the contact's last `name` event; all events if it never happened."""

    kind: Literal["since_event"] = "since_event"
    name: NameStr


TimeWindow = Annotated[Ever | LastDays | BetweenDates | Since | SinceEvent, Field(discriminator="kind")]


class PropertyFilter(Strict):
    """A test on an event property, e.g. `properties.cart.total` greater than 50."""

    property: str
    operator: Operator

    @field_validator("property")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PROPERTY_PATH.match(value):
            raise ValueError("must be properties.NAME (nested: properties.cart.total)")
        return value

    def path(self) -> tuple[str, ...]:
        return tuple(self.property.split(".")[1:])


class AttributeCondition(Strict):
    """A contact field: a core field, `created_at`, `last_seen_at` or `attributes.NAME`."""

    type: Literal["attribute"] = "attribute"
    field: str
    operator: Operator

    @field_validator("field")
    @classmethod
    def _known(cls, value: str) -> str:
        if value in TEXT_FIELDS or value in DATE_FIELDS or _ATTRIBUTE_FIELD.match(value):
            return value
        known = ", ".join((*TEXT_FIELDS, *DATE_FIELDS))
        raise ValueError(f"unknown field {value!r}: use one of {known} or attributes.NAME")

    @field_validator("operator")
    @classmethod
    def _fits_field(cls, operator: Operator, info: ValidationInfo) -> Operator:
        field = info.data.get("field")
        if field is not None:
            _check_field_kind(field, operator)
        return operator


class CountOp(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    EXACTLY = "exactly"


class Count(Strict):
    op: CountOp = CountOp.AT_LEAST
    value: int = Field(default=1, ge=0, le=1_000_000)


class EventCondition(Strict):
    """How often the contact performed `name` (matching `where`) in `window`.

    `performed: false` negates the whole test: "not performed" is "not (count at least 1)".
    """

    type: Literal["event"] = "event"
    name: NameStr
    performed: bool = True
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    count: Count = Field(default_factory=Count)
    window: TimeWindow = Field(default_factory=Ever)


class Occurrence(StrEnum):
    FIRST = "first"
    LAST = "last"


_TIME_OPERATORS = (*ORDERED, *RELATIVE_DATE, Exists, NotExists)


class OccurrenceCondition(Strict):
    """When the first or last `name` event (matching `where`) happened, e.g. first order > 30 days ago."""

    type: Literal["event_occurrence"] = "event_occurrence"
    name: NameStr
    which: Occurrence
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    operator: Operator

    @field_validator("operator")
    @classmethod
    def _time_operator(cls, operator: Operator) -> Operator:
        if not isinstance(operator, _TIME_OPERATORS):
            raise ValueError("use a date comparison, a relative date or exists on an occurrence time")
        if any(is_number(v) for v in operand_values(operator)):
            raise ValueError("compare an occurrence time with ISO 8601 dates")
        return operator


class Aggregate(StrEnum):
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT_DISTINCT = "count_distinct"


_NUMBER_OPERATORS = (Equals, NotEquals, GreaterThan, GreaterOrEqual, LessThan, LessOrEqual, Between)


def _numeric_operator(operator: Operator) -> Operator:
    if not isinstance(operator, _NUMBER_OPERATORS):
        raise ValueError("use equals, not_equals, greater/less or between with a number")
    if any(not is_number(v) for v in operand_values(operator)):
        raise ValueError("compare with numbers")
    return operator


class AggregateCondition(Strict):
    """A function over one property of `name` events in `window`, compared with a number."""

    type: Literal["event_aggregate"] = "event_aggregate"
    name: NameStr
    property: str
    function: Aggregate
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    window: TimeWindow = Field(default_factory=Ever)
    operator: Operator

    @field_validator("property")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PROPERTY_PATH.match(value):
            raise ValueError("must be properties.NAME (nested: properties.cart.total)")
        return value

    @field_validator("operator")
    @classmethod
    def _numeric(cls, operator: Operator) -> Operator:
        return _numeric_operator(operator)

    def path(self) -> tuple[str, ...]:
        return tuple(self.property.split(".")[1:])


class Engagement(StrEnum):
    RECEIVED = "received"
    OPENED = "opened"
    CLICKED = "clicked"


class MessageCondition(Strict):
    """Received / opened / clicked a message, template or journey (every given id must match)."""

    type: Literal["message"] = "message"
    action: Engagement
    performed: bool = True
    message_id: IdStr | None = None
    template_id: IdStr | None = None
    journey_id: IdStr | None = None
    window: TimeWindow = Field(default_factory=Ever)


class SegmentCondition(Strict):
    """The contact is currently a member of segment `segment_id`."""

    type: Literal["segment"] = "segment"
    segment_id: IdStr


class ListCondition(Strict):
    """The contact is on static list `list_id`."""

    type: Literal["list"] = "list"
    list_id: IdStr


class TagCondition(Strict):
    """The contact carries `tag` (exact, case-sensitive)."""

    type: Literal["tag"] = "tag"
    tag: NameStr


class LifecycleCondition(Strict):
    """The contact's lifecycle stage is one of `stages`."""

    type: Literal["lifecycle_stage"] = "lifecycle_stage"
    stages: list[NameStr] = Field(min_length=1)


class ScoreCondition(Strict):
    """The contact's score in `model` (0 when never scored) compared with a number."""

    type: Literal["score"] = "score"
    model: IdStr
    operator: Operator

    @field_validator("operator")
    @classmethod
    def _numeric(cls, operator: Operator) -> Operator:
        return _numeric_operator(operator)


class SubscriptionStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PENDING = "pending"
    NONE = "none"


class SubscriptionCondition(Strict):
    """The contact's status for `channel` (and `topic`, or the channel as a whole when null)."""

    type: Literal["subscription"] = "subscription"
    channel: NameStr
    topic: NameStr | None = None
    status: SubscriptionStatus


class AccountCondition(Strict):
    """At least one of the contact's accounts has a field (`account.name`, `account.domain`,
    `account.attributes.X`) that passes `operator`; false for a contact without accounts."""

    type: Literal["account"] = "account"
    field: str
    operator: Operator

    @field_validator("field")
    @classmethod
    def _known(cls, value: str) -> str:
        if not _ACCOUNT_FIELD.match(value):
            raise ValueError("unknown field: use account.name, account.domain or account.attributes.NAME")
        return value

    @field_validator("operator")
    @classmethod
    def _fits_field(cls, operator: Operator, info: ValidationInfo) -> Operator:
        field = info.data.get("field")
        if field is not None:
            _check_field_kind(field, operator)
        return operator


class AllOf(Strict):
    """True when every child is true; `all` of nothing is true."""

    type: Literal["all"] = "all"
    conditions: list[Condition] = Field(max_length=100)


class AnyOf(Strict):
    """True when some child is true; `any` of nothing is false."""

    type: Literal["any"] = "any"
    conditions: list[Condition] = Field(max_length=100)


class Not(Strict):
    type: Literal["not"] = "not"
    condition: Condition


Condition = Annotated[
    AllOf
    | AnyOf
    | Not
    | AttributeCondition
    | EventCondition
    | OccurrenceCondition
    | AggregateCondition
    | MessageCondition
    | SegmentCondition
    | ListCondition
    | TagCondition
    | LifecycleCondition
    | ScoreCondition
    | SubscriptionCondition
    | AccountCondition,
    Field(discriminator="type"),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()
