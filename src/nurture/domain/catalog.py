"""The data catalog: which contact attributes, account attributes, events and event properties a
workspace has, with the JSON types their values have had. Conditions are checked against it, so a
misspelt attribute or a number compared with a string is an error when a segment is saved, not a
segment that silently never matches."""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from nurture.domain.conditions.nodes import (
    AccountCondition,
    Aggregate,
    AggregateCondition,
    AllOf,
    AnyOf,
    AttributeCondition,
    Condition,
    EventCondition,
    Not,
    OccurrenceCondition,
    PropertyFilter,
)
from nurture.domain.conditions.values import (
    DATE_PATTERN,
    ORDERED,
    RELATIVE_DATE,
    Contains,
    Exists,
    NotExists,
    Operator,
    StartsWith,
    is_number,
    operand_values,
    parse_date,
)
from nurture.domain.errors import FieldError, join_path

MAX_DEPTH = 3  # nested object keys recorded, e.g. `cart.total`
MAX_KEYS = 200  # keys recorded per document


class EntryKind(StrEnum):
    ATTRIBUTE = "attribute"  # contact attribute; scope ""
    ACCOUNT_ATTRIBUTE = "account_attribute"  # scope ""
    EVENT = "event"  # name = event name; scope "", type ""
    PROPERTY = "property"  # scope = event name, name = dotted path


class ValueType(StrEnum):
    STRING = "string"
    DATE = "date"  # a string in DATE_PATTERN form that is a real date
    NUMBER = "number"
    BOOLEAN = "boolean"
    ARRAY = "array"
    OBJECT = "object"


Entry = tuple[EntryKind, str, str, str]  # kind, scope, name, type ("" for events)


def value_type(value: Any) -> ValueType | None:
    """The catalog type of a JSON value; None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ValueType.BOOLEAN
    if is_number(value):
        return ValueType.NUMBER
    if isinstance(value, str):
        return ValueType.DATE if parse_date(value) is not None else ValueType.STRING
    if isinstance(value, list):
        return ValueType.ARRAY
    return ValueType.OBJECT


def document_entries(kind: EntryKind, scope: str, document: Mapping[str, Any]) -> set[Entry]:
    """Every (nested) key of `document` with its value's type, at most MAX_DEPTH levels and MAX_KEYS
    keys deep; null values say nothing about a key's type and are left out."""
    found: set[Entry] = set()

    def walk(doc: Mapping[str, Any], prefix: str, depth: int) -> None:
        for key, value in doc.items():
            if len(found) >= MAX_KEYS:
                return
            if not isinstance(key, str) or not key or "." in key:
                continue  # not addressable by a condition path
            kind_of = value_type(value)
            if kind_of is None:
                continue
            name = f"{prefix}{key}"
            found.add((kind, scope, name, kind_of.value))
            if kind_of is ValueType.OBJECT and depth < MAX_DEPTH:
                walk(value, f"{name}.", depth + 1)

    walk(document, "", 1)
    return found


# a date string as it appears in JSON (nothing in one needs escaping)
_JSON_DATE = re.compile(b'"' + DATE_PATTERN.removeprefix("^").removesuffix("$").encode() + b'"', re.ASCII)


def document_shape(document: Mapping[str, Any]) -> Hashable | None:
    """A key such that documents with the same shape have the same `document_entries` (so they can
    be remembered by it): the keys in order and their values' classes. None when the document must be
    walked: it nests objects, or some string in it may be a date."""
    classes = tuple(map(type, document.values()))
    if dict in classes or _JSON_DATE.search(orjson.dumps(document)):
        return None
    return tuple(document), classes


@dataclass
class Catalog:
    """What one workspace's data has held: (kind, scope, name) → the types seen or declared."""

    types: dict[tuple[EntryKind, str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterator[Entry] | list[Entry]) -> Catalog:
        catalog = cls()
        for kind, scope, name, type_ in entries:
            catalog.types.setdefault((kind, scope, name), set()).add(type_)
        return catalog

    def names(self, kind: EntryKind, scope: str = "") -> list[str]:
        return sorted(name for k, s, name in self.types if k is kind and s == scope)


def check_condition(condition: Condition, catalog: Catalog, path: str = "") -> list[FieldError]:
    """Errors for attributes the workspace has never had, and for comparisons that can never hold
    because the values compared have never had that type. Event names and properties may be new (a
    segment on "Order Completed" can exist before the first order), so only their types are checked."""
    errors: list[FieldError] = []
    _check(condition, catalog, path, errors)
    return errors


def check_event_filters(
    event: str, filters: list[PropertyFilter], catalog: Catalog, path: str = ""
) -> list[FieldError]:
    """Errors for property filters of `event` that compare values with a type they have never had."""
    errors: list[FieldError] = []
    _filters(event, filters, catalog, path, errors)
    return errors


def _check(condition: Condition, catalog: Catalog, path: str, errors: list[FieldError]) -> None:
    if isinstance(condition, AllOf | AnyOf):
        for index, child in enumerate(condition.conditions):
            _check(child, catalog, join_path(path, f"conditions[{index}]"), errors)
    elif isinstance(condition, Not):
        _check(condition.condition, catalog, join_path(path, "condition"), errors)
    elif isinstance(condition, AttributeCondition) and condition.field.startswith("attributes."):
        name = condition.field.removeprefix("attributes.")
        _known(EntryKind.ATTRIBUTE, name, condition.operator, catalog, path, errors)
    elif isinstance(condition, AccountCondition) and condition.field.startswith("account.attributes."):
        name = condition.field.removeprefix("account.attributes.")
        _known(EntryKind.ACCOUNT_ATTRIBUTE, name, condition.operator, catalog, path, errors)
    elif isinstance(condition, EventCondition | OccurrenceCondition | AggregateCondition):
        _filters(condition.name, condition.where, catalog, path, errors)
        if isinstance(condition, AggregateCondition) and condition.function is not Aggregate.COUNT_DISTINCT:
            seen = catalog.types.get((EntryKind.PROPERTY, condition.name, ".".join(condition.path())))
            if seen is not None and ValueType.NUMBER.value not in seen:
                errors.append(
                    FieldError(
                        join_path(path, "property"),
                        f"{condition.property} of {condition.name!r} has held {_list(seen)}, never "
                        f"numbers, so its {condition.function.value} is never defined",
                    )
                )


def _known(
    kind: EntryKind, name: str, operator: Operator, catalog: Catalog, path: str, errors: list[FieldError]
) -> None:
    seen = catalog.types.get((kind, "", name))
    if seen is None:
        what = "attribute" if kind is EntryKind.ATTRIBUTE else "account attribute"
        close = difflib.get_close_matches(name, catalog.names(kind), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        errors.append(
            FieldError(
                join_path(path, "field"),
                f"unknown {what} {name!r}: no {'contact' if kind is EntryKind.ATTRIBUTE else 'account'} "
                f"has had it{hint}; declare it in the catalog if data with it is coming",
            )
        )
        return
    problem = type_problem(operator, seen)
    if problem:
        errors.append(FieldError(join_path(path, "operator"), f"{name} has held {_list(seen)}; {problem}"))


def _filters(
    event: str, filters: list[PropertyFilter], catalog: Catalog, path: str, errors: list[FieldError]
) -> None:
    for index, item in enumerate(filters):
        seen = catalog.types.get((EntryKind.PROPERTY, event, ".".join(item.path())))
        if seen is None:
            continue
        problem = type_problem(item.operator, seen)
        if problem:
            errors.append(
                FieldError(
                    join_path(path, f"where[{index}].operator"),
                    f"{item.property} of {event!r} has held {_list(seen)}; {problem}",
                )
            )


def type_problem(operator: Operator, seen: set[str]) -> str | None:
    """Why `operator` can never hold on values of the types in `seen` (None when it can)."""
    if isinstance(operator, Exists | NotExists):
        return None
    text = {ValueType.STRING.value, ValueType.DATE.value}
    if isinstance(operator, RELATIVE_DATE):
        return None if ValueType.DATE.value in seen else "a relative date needs date values"
    if isinstance(operator, StartsWith):
        return None if seen & text else "starts_with needs text values"
    for value in operand_values(operator):
        if isinstance(operator, ORDERED):
            wanted = {ValueType.NUMBER.value} if is_number(value) else {ValueType.DATE.value}
        elif isinstance(value, bool):
            wanted = {ValueType.BOOLEAN.value}
        elif is_number(value):
            wanted = {ValueType.NUMBER.value}
        else:
            wanted = set(text)
        if isinstance(operator, Contains):
            wanted |= {ValueType.ARRAY.value}
        if not seen & wanted:
            return f"compare it with {_list(wanted)}, not {json_kind(value)}"
    return None


def json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if is_number(value):
        return "a number"
    return "a date" if isinstance(value, str) and parse_date(value) else "a string"


def _list(types: set[str]) -> str:
    plural = {"string": "strings", "date": "dates", "number": "numbers", "boolean": "booleans"}
    plural |= {"array": "lists", "object": "objects"}
    return " or ".join(plural.get(t, t) for t in sorted(types))
