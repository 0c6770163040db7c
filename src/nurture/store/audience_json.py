"""Reading one JSON value (an attribute, a nested event property) inside SQL, on SQLite and PostgreSQL.

Each accessor gives SQL NULL unless the value has the kind asked for, so a comparison on it is false
(NULL) for missing keys, JSON null and values of another type: the absent-value and type rules of
`nurture.domain.conditions.matching` follow from that. Keys are always bound parameters.

- PostgreSQL: `jsonb`; `doc -> key` (NULL on a non-object), `jsonb_typeof`, jsonb equality (numbers by
  value, strings byte for byte, booleans only with booleans), `@>` for list membership.
- SQLite: `json_type` / `json_extract` with a bound path `$."key"."key"`. A key with a double quote, a
  backslash or a non-ASCII or control character cannot be written safely in a SQLite path (older
  versions compare path labels with the stored text undecoded), so such a key is looked up with
  `json_each(...) WHERE key = :key`, which compares decoded keys.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from nurture.domain.conditions.values import is_number

Scalar = str | int | float | bool

_SAFE_SQLITE_KEY = re.compile(r"[ !#-\[\]-~]+")  # printable ASCII without `"` and `\`


def param(value: Any, type_: Any = None) -> ColumnElement[Any]:
    """A bound parameter with a name of its own (user values never become SQL text)."""
    return bindparam(None, value, type_=type_ or _type_of(value), unique=True)


def once(build: Callable[..., ColumnElement[Any]], *exprs: ColumnElement[Any]) -> Any:
    """`build(x, ...)` with each of `exprs` computed once: `(SELECT build(v.x0, ...) FROM (SELECT expr0
    AS x0, ...) AS v)`. Tests that read a value many times (a date string has a dozen parts to check)
    would otherwise repeat its whole expression at each use, which SQLite's parser cannot nest deeply."""
    named = select(*(e.label(f"x{i}") for i, e in enumerate(exprs))).correlate_except(None).subquery()
    return select(build(*named.c)).select_from(named).correlate_except(named).scalar_subquery()


def _type_of(value: Any) -> Any:
    if isinstance(value, str):
        return String()
    return None


class JsonValue(ABC):
    """One JSON value at a fixed place, seen from SQL."""

    @abstractmethod
    def present(self) -> ColumnElement[bool]:
        """Not absent: the key exists and its value is not JSON null."""

    @abstractmethod
    def text(self) -> ColumnElement[str]:
        """The string, or NULL when the value is not a JSON string."""

    @abstractmethod
    def number(self, *, floating: bool = False) -> ColumnElement[Any]:
        """The number, or NULL when the value is not a JSON number (`floating`: as a double, for sums)."""

    @abstractmethod
    def equals(self, value: Scalar) -> ColumnElement[bool]:
        """Same JSON type and equal (the `equals` rule)."""

    @abstractmethod
    def list_has(self, value: Scalar) -> ColumnElement[bool]:
        """The value is a JSON array with an element that `equals` `value`."""

    @abstractmethod
    def distinct_key(self) -> ColumnElement[Any]:
        """A key for `count(DISTINCT ...)`: equal for equal scalars, NULL for anything but a scalar."""

    @abstractmethod
    def child(self, key: str) -> JsonValue:
        """The value under `key` when this value is an object."""

    def in_(self, values: list[Scalar]) -> ColumnElement[bool]:
        return or_(*(self.equals(v) for v in values))


def json_root(dialect: str, document: ColumnElement[Any]) -> JsonValue:
    """A whole JSON document column (an object) on `dialect`."""
    if dialect == "postgresql":
        return PostgresJson(document)
    return SqliteJson(document, "$")


def json_path(dialect: str, document: ColumnElement[Any], keys: tuple[str, ...]) -> JsonValue:
    value = json_root(dialect, document)
    for key in keys:
        value = value.child(key)
    return value


class PostgresJson(JsonValue):
    def __init__(self, expr: ColumnElement[Any]) -> None:
        self.expr = expr

    def _kind(self) -> ColumnElement[str]:
        return func.jsonb_typeof(self.expr)

    def present(self) -> ColumnElement[bool]:
        return self._kind() != param("null")

    def text(self) -> ColumnElement[str]:
        as_text = self.expr.op("#>>")(literal_column("'{}'::text[]"))
        return case((self._kind() == param("string"), as_text))

    def number(self, *, floating: bool = False) -> ColumnElement[Any]:
        return case((self._kind() == param("number"), cast(self.expr, Float() if floating else Numeric())))

    def equals(self, value: Scalar) -> ColumnElement[bool]:
        return self.expr == param(value, JSONB())

    def in_(self, values: list[Scalar]) -> ColumnElement[bool]:
        return self.expr.in_([param(v, JSONB()) for v in values])

    def list_has(self, value: Scalar) -> ColumnElement[bool]:
        return and_(self._kind() == param("array"), self.expr.op("@>")(param([value], JSONB())))

    def distinct_key(self) -> ColumnElement[Any]:
        return case((self._kind().in_([param("string"), param("number"), param("boolean")]), self.expr))

    def child(self, key: str) -> JsonValue:
        return PostgresJson(self.expr.op("->", return_type=JSONB())(param(key)))


class SqliteJson(JsonValue):
    """The value at `path` in the JSON text `document` (a NULL document: absent). A value found through
    `json_each` brings its own type and value expressions and, when it is an object or an array, its
    JSON text as `document` with path `$`."""

    def __init__(
        self,
        document: ColumnElement[Any],
        path: str,
        kind: ColumnElement[str] | None = None,
        raw: ColumnElement[Any] | None = None,
    ) -> None:
        self.document = document
        self.path = path
        self.kind = func.json_type(document, param(path)) if kind is None else kind
        self.raw = func.json_extract(document, param(path)) if raw is None else raw

    def present(self) -> ColumnElement[bool]:
        return self.kind != param("null")

    def text(self) -> ColumnElement[str]:
        return case((self.kind == param("text"), self.raw))

    def number(self, *, floating: bool = False) -> ColumnElement[Any]:
        return case((self.kind.in_([param("integer"), param("real")]), self.raw))

    def equals(self, value: Scalar) -> ColumnElement[bool]:
        return sqlite_equals(self.kind, self.raw, value)

    def list_has(self, value: Scalar) -> ColumnElement[bool]:
        element = func.json_each(self.document, param(self.path)).table_valued("type", "value").alias()
        found = exists(
            select(literal_column("1"))
            .select_from(element)
            .correlate_except(element)
            .where(sqlite_equals(element.c.type, element.c.value, value))
        )
        return and_(self.kind == param("array"), found)

    def distinct_key(self) -> ColumnElement[Any]:
        return case(
            (self.kind == param("true"), param("bt")),
            (self.kind == param("false"), param("bf")),
            (self.kind == param("text"), param("s") + self.raw),
            (self.kind.in_([param("integer"), param("real")]), self.raw),
        )

    def child(self, key: str) -> JsonValue:
        if _SAFE_SQLITE_KEY.fullmatch(key):
            return SqliteJson(self.document, f'{self.path}."{key}"')
        entry = func.json_each(self.document, param(self.path)).table_valued("key", "type", "value").alias()
        wanted = entry.c.key == param(key)
        kind = select(entry.c.type).select_from(entry).correlate_except(entry).where(wanted).scalar_subquery()
        raw = select(entry.c.value).select_from(entry).correlate_except(entry).where(wanted).scalar_subquery()
        # json_each gives a nested object or array as JSON text but any other value decoded, which
        # must not be parsed again as a document
        nested = case((kind.in_([param("object"), param("array")]), raw))
        return SqliteJson(nested, "$", kind=kind, raw=raw)


def sqlite_equals(kind: ColumnElement[str], raw: ColumnElement[Any], value: Scalar) -> ColumnElement[bool]:
    """`equals` on SQLite from a `json_type` and a `json_extract` (booleans come out as 1 and 0)."""
    if isinstance(value, bool):
        return kind == param("true" if value else "false")
    if is_number(value):
        return and_(kind.in_([param("integer"), param("real")]), raw == param(value))
    if isinstance(value, str):
        return and_(kind == param("text"), raw == param(value))
    return false()
