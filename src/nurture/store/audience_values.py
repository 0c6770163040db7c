"""Operators (`equals`, `greater_than`, `anniversary_today`, ...) as SQL, with the rules of
`nurture.domain.conditions.matching`.

A value is one of four kinds, each giving SQL NULL where it has no value of the kind asked for:
a JSON value (attributes, event properties, account attributes), a text column (core fields), a time
column or time expression (`created_at`, first/last occurrence), a number expression (score, aggregate).
An operator test is then "the accessor compared with the bound value", which is false or NULL whenever
the value is absent or of another type; `not_equals`, `not_in` and `not_exists` are the negation of the
positive test with NULL counted as false. Dates written as strings are recognised in SQL with exactly
the checks of `parse_date` (see `date_checks`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, false, func, not_, or_

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
from nurture.store.audience_dates import anniversary, date_instant, written_date
from nurture.store.audience_json import JsonValue, Scalar, param
from nurture.store.types import UTCDateTime


@dataclass(frozen=True)
class Context:
    """What every test needs: the dialect, `now` (aware UTC) and the contact's time zone column."""

    dialect: str
    now: datetime
    zone: ColumnElement[Any]


def negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """NOT, with NULL (unknown: absent or another type) counted as false before negating."""
    return not_(func.coalesce(clause, false()))


class Value(ABC):
    """One value an operator judges; every accessor is NULL when the value is not of that kind."""

    @abstractmethod
    def present(self) -> ColumnElement[bool]: ...

    def text(self) -> ColumnElement[str] | None:
        return None

    def number(self) -> ColumnElement[Any] | None:
        return None

    def equals(self, value: Scalar, ctx: Context) -> ColumnElement[bool]:
        if isinstance(value, str):
            text = self.text()
            return false() if text is None else text == param(value)
        if is_number(value):
            number = self.number()
            return false() if number is None else number == number_param(value, ctx)
        return false()

    def in_(self, values: Sequence[Scalar], ctx: Context) -> ColumnElement[bool]:
        return or_(*(self.equals(v, ctx) for v in values))

    def list_has(self, value: Scalar) -> ColumnElement[bool] | None:
        return None

    def instant(self, ctx: Context) -> ColumnElement[Any] | None:
        """The moment, comparable with a bound `UTCDateTime`: a time, or a string that is a date."""
        text = self.text()
        return None if text is None else date_instant(text, ctx.dialect)

    def written_date(self, ctx: Context) -> ColumnElement[str] | None:
        """`YYYY-MM-DD` as written (a date string's first ten characters; a time's UTC date)."""
        text = self.text()
        return None if text is None else written_date(text, ctx.dialect)


class JsonField(Value):
    def __init__(self, json: JsonValue) -> None:
        self.json = json

    def present(self) -> ColumnElement[bool]:
        return self.json.present()

    def text(self) -> ColumnElement[str]:
        return self.json.text()

    def number(self) -> ColumnElement[Any]:
        return self.json.number()

    def equals(self, value: Scalar, ctx: Context) -> ColumnElement[bool]:
        return self.json.equals(value)

    def in_(self, values: Sequence[Scalar], ctx: Context) -> ColumnElement[bool]:
        return self.json.in_(list(values))

    def list_has(self, value: Scalar) -> ColumnElement[bool]:
        return self.json.list_has(value)


class TextField(Value):
    """A nullable text column (a core field, an account's name or domain)."""

    def __init__(self, expr: ColumnElement[Any]) -> None:
        self.expr = expr

    def present(self) -> ColumnElement[bool]:
        return self.expr.is_not(None)

    def text(self) -> ColumnElement[str]:
        return self.expr

    def in_(self, values: Sequence[Scalar], ctx: Context) -> ColumnElement[bool]:
        texts = [v for v in values if isinstance(v, str)]
        return self.expr.in_([param(v) for v in texts]) if texts else false()


class TimeField(Value):
    """A nullable `UTCDateTime` column or expression."""

    def __init__(self, expr: ColumnElement[Any]) -> None:
        self.expr = expr

    def present(self) -> ColumnElement[bool]:
        return self.expr.is_not(None)

    def instant(self, ctx: Context) -> ColumnElement[Any]:
        return self.expr

    def written_date(self, ctx: Context) -> ColumnElement[str]:
        if ctx.dialect == "postgresql":
            return func.to_char(func.timezone(param("UTC"), self.expr), param("YYYY-MM-DD"))
        return func.substr(self.expr, 1, 10)  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC


class NumberField(Value):
    """A nullable number expression (a score, an aggregate)."""

    def __init__(self, expr: ColumnElement[Any]) -> None:
        self.expr = expr

    def present(self) -> ColumnElement[bool]:
        return self.expr.is_not(None)

    def number(self) -> ColumnElement[Any]:
        return self.expr


def number_param(value: int | float, ctx: Context) -> ColumnElement[Any]:
    """A number bound exactly: on PostgreSQL as numeric from its shortest decimal text (what JSON holds)."""
    if ctx.dialect == "postgresql":
        return param(Decimal(repr(value)), Numeric())
    return param(value)


def time_param(moment: datetime) -> ColumnElement[Any]:
    return param(moment, UTCDateTime())


def test(operator: Operator, value: Value, ctx: Context) -> ColumnElement[bool]:
    """Whether `value` passes `operator` (NULL counts as false)."""
    if isinstance(operator, NotEquals):
        return negate(test(Equals(value=operator.value), value, ctx))
    if isinstance(operator, NotIn):
        return negate(test(In(values=operator.values), value, ctx))
    if isinstance(operator, NotExists):
        return negate(value.present())
    if isinstance(operator, Exists):
        return value.present()
    if isinstance(operator, Equals):
        return value.equals(operator.value, ctx)
    if isinstance(operator, In):
        return value.in_(operator.values, ctx)
    if isinstance(operator, Contains):
        return _contains(operator.value, value, ctx)
    if isinstance(operator, StartsWith):
        text = value.text()
        return false() if text is None else func.substr(text, 1, len(operator.value)) == param(operator.value)
    if isinstance(operator, AnniversaryToday):
        written = value.written_date(ctx)
        return false() if written is None else anniversary(written, ctx.now, ctx.zone, ctx.dialect)
    if isinstance(operator, WithinLast | WithinNext | MoreThanAgo):
        return _relative(operator, value, ctx)
    return _ordered(operator, value, ctx)


def _contains(expected: Scalar, value: Value, ctx: Context) -> ColumnElement[bool]:
    tests = []
    text = value.text()
    if text is not None and isinstance(expected, str):
        # code points, case-sensitive: never LIKE (SQLite's ignores ASCII case)
        position = func.strpos if ctx.dialect == "postgresql" else func.instr
        tests.append(position(text, param(expected)) > 0)
    listed = value.list_has(expected)
    if listed is not None:
        tests.append(listed)
    return or_(*tests) if tests else false()


def _relative(
    operator: WithinLast | WithinNext | MoreThanAgo, value: Value, ctx: Context
) -> ColumnElement[bool]:
    moment = value.instant(ctx)
    if moment is None:
        return false()
    span = timedelta(days=operator.days)
    if isinstance(operator, WithinLast):
        return moment.between(time_param(ctx.now - span), time_param(ctx.now))
    if isinstance(operator, WithinNext):
        return moment.between(time_param(ctx.now), time_param(ctx.now + span))
    return moment < time_param(ctx.now - span)


def _ordered(operator: Operator, value: Value, ctx: Context) -> ColumnElement[bool]:
    assert isinstance(operator, GreaterThan | GreaterOrEqual | LessThan | LessOrEqual | Between)
    first = operator.low if isinstance(operator, Between) else operator.value
    if is_number(first):
        key = value.number()

        def bound(v: str | int | float) -> ColumnElement[Any]:
            assert not isinstance(v, str)
            return number_param(v, ctx)
    else:
        key = value.instant(ctx)

        def bound(v: str | int | float) -> ColumnElement[Any]:
            assert isinstance(v, str)
            moment = parse_date(v)
            assert moment is not None, "operator values are validated dates"
            return time_param(moment)

    if key is None:
        return false()
    if isinstance(operator, Between):
        return key.between(bound(operator.low), bound(operator.high))
    if isinstance(operator, GreaterThan):
        return key > bound(operator.value)
    if isinstance(operator, GreaterOrEqual):
        return key >= bound(operator.value)
    if isinstance(operator, LessThan):
        return key < bound(operator.value)
    assert isinstance(operator, LessOrEqual)
    return key <= bound(operator.value)
