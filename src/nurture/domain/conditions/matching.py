"""How one operator judges one value. The SQL compiler must reproduce every rule here.

- Missing and JSON null are the same: "absent". Every operator except `not_equals`, `not_in` and
  `not_exists` is false on an absent value; those three are the exact negations of `equals`, `in` and
  `exists`, so they are true on absent values and on values of another type.
- No coercion: a string never equals or compares with a number (`"5"` is not 5), a boolean is not a
  number, numbers compare by value (1 equals 1.0). String tests are case-sensitive (exact code points).
- Ordered operators with a number bound need a number; with a date bound they need a date: a datetime
  field, or a string in `DATE_PATTERN` form (no offset means UTC, a date alone is 00:00 UTC).
- Relative dates compare instants with `now`; a "day" is 24 hours (`timedelta(days=N)`).
- `anniversary_today`: month and day written in the value (for a datetime field, of its UTC date) equal
  today's month and day in the contact's zone, and the value's year is earlier than that local year.
  A 29 February date has its anniversary on 28 February in years without one.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final

from nurture.domain.conditions.values import (
    AnniversaryToday,
    Between,
    Contains,
    Equals,
    Exists,
    GreaterOrEqual,
    GreaterThan,
    In,
    LessOrEqual,
    LessThan,
    MoreThanAgo,
    NotEquals,
    NotExists,
    NotIn,
    Operator,
    StartsWith,
    WithinLast,
    WithinNext,
    is_number,
    parse_date,
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def absent(value: object) -> bool:
    return value is None or value is MISSING


def equal(actual: object, expected: object) -> bool:
    """Same JSON type and equal; numbers by value, booleans only with booleans."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and actual is expected
    if is_number(expected):
        return is_number(actual) and actual == expected
    return isinstance(actual, str) and isinstance(expected, str) and actual == expected


def instant(value: object) -> datetime | None:
    """A datetime as itself, a date string as its UTC instant, anything else None."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_date(value)
    return None


def calendar_date(value: object) -> date | None:
    """The calendar date a value is written with (datetimes: their UTC date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str) and parse_date(value) is not None:
        return date.fromisoformat(value[:10])
    return None


def is_anniversary(day: date, today: date) -> bool:
    if day.year >= today.year:
        return False
    if (day.month, day.day) == (today.month, today.day):
        return True
    leap_day = (day.month, day.day) == (2, 29)
    return leap_day and (today.month, today.day) == (2, 28) and not calendar.isleap(today.year)


def _key(actual: object, bound: str | int | float) -> int | float | datetime | None:
    """`actual` as something comparable with `bound`, or None when it is the wrong type for it."""
    if is_number(bound):
        return actual if is_number(actual) else None  # type: ignore[return-value]
    return instant(actual)


def _bound(bound: str | int | float) -> int | float | datetime:
    if isinstance(bound, str):
        moment = parse_date(bound)
        assert moment is not None, "operator values are validated dates"
        return moment
    return bound


def _compare(operator: Operator, actual: object) -> bool:
    if isinstance(operator, Between):
        key = _key(actual, operator.low)
        return key is not None and _bound(operator.low) <= key <= _bound(operator.high)  # type: ignore[operator]
    assert isinstance(operator, GreaterThan | GreaterOrEqual | LessThan | LessOrEqual)
    key = _key(actual, operator.value)
    if key is None:
        return False
    bound = _bound(operator.value)
    if isinstance(operator, GreaterThan):
        return key > bound  # type: ignore[operator]
    if isinstance(operator, GreaterOrEqual):
        return key >= bound  # type: ignore[operator]
    if isinstance(operator, LessThan):
        return key < bound  # type: ignore[operator]
    return key <= bound  # type: ignore[operator]


def _relative(operator: Operator, actual: object, now: datetime, zone: tzinfo) -> bool:
    if isinstance(operator, AnniversaryToday):
        day = calendar_date(actual)
        return day is not None and is_anniversary(day, now.astimezone(zone).date())
    moment = instant(actual)
    if moment is None:
        return False
    if isinstance(operator, WithinLast):
        return now - timedelta(days=operator.days) <= moment <= now
    if isinstance(operator, WithinNext):
        return now <= moment <= now + timedelta(days=operator.days)
    assert isinstance(operator, MoreThanAgo)
    return moment < now - timedelta(days=operator.days)


def passes(operator: Operator, actual: Any, now: datetime, zone: tzinfo) -> bool:
    """Whether `actual` (a JSON value, a datetime, None or MISSING) passes `operator` at `now`."""
    if isinstance(operator, NotEquals | NotIn | NotExists):
        return not passes(_positive(operator), actual, now, zone)
    if isinstance(operator, Exists):
        return not absent(actual)
    if absent(actual):
        return False
    if isinstance(operator, Equals):
        return equal(actual, operator.value)
    if isinstance(operator, In):
        return any(equal(actual, value) for value in operator.values)
    if isinstance(operator, Contains):
        if isinstance(actual, str):
            return isinstance(operator.value, str) and operator.value in actual
        return isinstance(actual, list) and any(equal(item, operator.value) for item in actual)
    if isinstance(operator, StartsWith):
        return isinstance(actual, str) and actual.startswith(operator.value)
    if isinstance(operator, WithinLast | WithinNext | MoreThanAgo | AnniversaryToday):
        return _relative(operator, actual, now, zone)
    return _compare(operator, actual)


def _positive(operator: NotEquals | NotIn | NotExists) -> Operator:
    if isinstance(operator, NotEquals):
        return Equals(value=operator.value)
    if isinstance(operator, NotIn):
        return In(values=operator.values)
    return Exists()
