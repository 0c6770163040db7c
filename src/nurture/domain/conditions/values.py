"""Value tests ("operators") shared by attribute, property, account and score conditions.

An operator is one JSON object discriminated by `op`, e.g. `{"op": "greater_than", "value": 10}`.

Value-type rule: `equals`, `not_equals`, `in`, `not_in` and `contains` take a JSON scalar (string,
number, boolean). Ordered operators (`greater_than`, `greater_or_equal`, `less_than`, `less_or_equal`,
`between`) take a number or an ISO 8601 date string (`DATE_PATTERN`); any other string is rejected, so
`{"op": "greater_than", "value": "ten"}` is an error at `value`. `between` needs two bounds of the same
kind with `low <= high`. Values are never coerced: `"5"` stays a string and `true` is not the number 1.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

# The date strings nurture understands, in attributes, properties and operator values. The SQL compiler
# must recognise exactly this shape. Without an offset a time is UTC; a date alone is 00:00 UTC.
# Digits are ASCII only (\d of a str pattern would also take other scripts' digits).
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?$"
_DATE = re.compile(DATE_PATTERN.removeprefix("^").removesuffix("$"), re.ASCII)


def parse_date(text: str) -> datetime | None:
    """The UTC instant a date string names, or None if it is not a date in `DATE_PATTERN` form.

    A real calendar date and time is required (no 30 February, no hour 24, no second 60), an offset
    is at most `±23:59` with minutes up to 59, and the UTC instant must lie in years 1 to 9999
    (`0001-01-01T00:30+01:00` is not a date).
    """
    if not _DATE.fullmatch(text):
        return None
    if len(text) > 16 and text[-6] in "+-" and int(text[-2:]) > 59:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def is_number(value: object) -> bool:
    """JSON numbers only: booleans are not numbers here, numeric strings are not either."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, str | bool) or is_number(value):
        return value  # type: ignore[no-any-return]
    raise ValueError("must be a string, a number or a boolean")


def _orderable(value: Any) -> str | int | float:
    if is_number(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) and parse_date(value) is not None:
        return value
    raise ValueError("must be a number or an ISO 8601 date (e.g. 2024-05-17 or 2024-05-17T09:30:00Z)")


Scalar = Annotated[
    str | int | float | bool,
    PlainValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
Orderable = Annotated[
    str | int | float,
    PlainValidator(_orderable),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string", "pattern": DATE_PATTERN}]},
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Equals(Strict):
    """The value is the same type and equal (strings case-sensitive; 1 equals 1.0)."""

    op: Literal["equals"] = "equals"
    value: Scalar


class NotEquals(Strict):
    """Exactly `not equals`: also true when the value is missing, null or of another type."""

    op: Literal["not_equals"] = "not_equals"
    value: Scalar


class In(Strict):
    """`equals` one of `values`."""

    op: Literal["in"] = "in"
    values: list[Scalar] = Field(min_length=1)


class NotIn(Strict):
    """Exactly `not in`: also true when the value is missing, null or of another type."""

    op: Literal["not_in"] = "not_in"
    values: list[Scalar] = Field(min_length=1)


class Contains(Strict):
    """A string contains `value` as a substring, or a list has an element `equals` to it."""

    op: Literal["contains"] = "contains"
    value: Scalar


class StartsWith(Strict):
    """A string starts with `value` (case-sensitive)."""

    op: Literal["starts_with"] = "starts_with"
    value: str = Field(min_length=1)


class Exists(Strict):
    """The value is present and not null."""

    op: Literal["exists"] = "exists"


class NotExists(Strict):
    """The value is missing or null."""

    op: Literal["not_exists"] = "not_exists"


class GreaterThan(Strict):
    op: Literal["greater_than"] = "greater_than"
    value: Orderable


class GreaterOrEqual(Strict):
    op: Literal["greater_or_equal"] = "greater_or_equal"
    value: Orderable


class LessThan(Strict):
    op: Literal["less_than"] = "less_than"
    value: Orderable


class LessOrEqual(Strict):
    op: Literal["less_or_equal"] = "less_or_equal"
    value: Orderable


class Between(Strict):
    """`low <= value <= high`, both bounds included."""

    op: Literal["between"] = "between"
    low: Orderable
    high: Orderable

    @field_validator("high")
    @classmethod
    def _ordered(cls, high: str | int | float, info: ValidationInfo) -> str | int | float:
        low = info.data.get("low")
        if low is None:
            return high
        if is_number(low) != is_number(high):
            raise ValueError("low and high must both be numbers or both be dates")
        if order_key(low) > order_key(high):
            raise ValueError("must not be less than low (the window would be empty)")
        return high


class WithinLast(Strict):
    """A date in `[now - days, now]` (days are 24-hour periods)."""

    op: Literal["within_last_days"] = "within_last_days"
    days: int = Field(ge=1, le=36500)


class WithinNext(Strict):
    """A date in `[now, now + days]`."""

    op: Literal["within_next_days"] = "within_next_days"
    days: int = Field(ge=1, le=36500)


class MoreThanAgo(Strict):
    """A date strictly before `now - days`."""

    op: Literal["more_than_days_ago"] = "more_than_days_ago"
    days: int = Field(ge=0, le=36500)


class AnniversaryToday(Strict):
    """Month and day of the date are today's in the contact's time zone, in a later year."""

    op: Literal["anniversary_today"] = "anniversary_today"


Operator = Annotated[
    Equals
    | NotEquals
    | In
    | NotIn
    | Contains
    | StartsWith
    | Exists
    | NotExists
    | GreaterThan
    | GreaterOrEqual
    | LessThan
    | LessOrEqual
    | Between
    | WithinLast
    | WithinNext
    | MoreThanAgo
    | AnniversaryToday,
    Field(discriminator="op"),
]

ORDERED = (GreaterThan, GreaterOrEqual, LessThan, LessOrEqual, Between)
RELATIVE_DATE = (WithinLast, WithinNext, MoreThanAgo, AnniversaryToday)
TEXT_OPERATORS = (Equals, NotEquals, In, NotIn, Contains, StartsWith, Exists, NotExists)


def order_key(value: str | int | float) -> float:
    """Numbers as themselves, date strings as POSIX seconds: what ordered operators compare."""
    if isinstance(value, str):
        parsed = parse_date(value)
        if parsed is None:
            raise ValueError(f"{value!r} is not a date")
        return parsed.timestamp()
    return float(value)


def operand_values(operator: Operator) -> list[object]:
    """Every literal value an operator compares with (for type checks against a field's kind)."""
    if isinstance(operator, In | NotIn):
        return list(operator.values)
    if isinstance(operator, Between):
        return [operator.low, operator.high]
    value: object = getattr(operator, "value", None)
    return [] if value is None else [value]
