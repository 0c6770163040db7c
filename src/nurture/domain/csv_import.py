"""CSV contact import rules: column mapping, type inference and row conversion (pure)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.profile import CORE_FIELDS, TRAIT_ALIASES
from nurture.domain.tracking import MAX_ID_LENGTH


class ColumnType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    JSON = "json"


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
USER_ID = "user_id"
SKIP = "-"
# Plain decimal text only: Python's int()/float() also read "1_000", "nan" and "inf", which are text here.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INT64 = 2**63  # what a JSON document column holds as an integer without changing it


@dataclass(frozen=True)
class Column:
    """Where one CSV column goes: a core field, `user_id`, or an attribute, with its type."""

    name: str
    target: str
    is_attribute: bool
    type: ColumnType


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    reason: str


@dataclass
class ParsedRow:
    line: int
    user_id: str | None
    core: dict[str, str | None] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


def _default_target(column: str) -> tuple[str, bool]:
    key = column.strip()
    lowered = key.lower().replace(" ", "_")
    if lowered in (USER_ID, "userid"):
        return USER_ID, False
    if key in TRAIT_ALIASES:
        return TRAIT_ALIASES[key], False
    if lowered in CORE_FIELDS:
        return lowered, False
    return key, True


def plan_columns(
    header: Sequence[str],
    mapping: Mapping[str, str] | None = None,
    types: Mapping[str, str] | None = None,
) -> list[Column | None]:
    """Decide each column's target; `mapping` (column → field, `attributes.X` or `-`) overrides the
    names in the header. Raises Invalid naming the bad option."""
    mapping = dict(mapping or {})
    types = dict(types or {})
    errors: list[FieldError] = []
    if len(set(header)) != len(header):
        errors.append(FieldError("header", "column names must be unique"))
    for name in list(mapping) + list(types):
        if name not in header:
            errors.append(
                FieldError(
                    f"map.{name}" if name in mapping else f"type.{name}",
                    f"there is no column {name!r} in the file",
                )
            )
    columns: list[Column | None] = []
    for name in header:
        target = mapping.get(name)
        if target == SKIP:
            columns.append(None)
            continue
        if target is None:
            field_name, is_attribute = _default_target(name)
        elif target.startswith("attributes."):
            field_name, is_attribute = target.removeprefix("attributes."), True
        elif target in CORE_FIELDS or target == USER_ID:
            field_name, is_attribute = target, False
        else:
            errors.append(
                FieldError(
                    f"map.{name}",
                    f"unknown target {target!r}; use one of "
                    f"{', '.join((*CORE_FIELDS, USER_ID))}, attributes.NAME or -",
                )
            )
            continue
        declared = types.get(name)
        try:
            kind = ColumnType(declared) if declared else ColumnType.STRING
        except ValueError:
            errors.append(
                FieldError(
                    f"type.{name}",
                    f"unknown type {declared!r}; use one of {', '.join(t.value for t in ColumnType)}",
                )
            )
            continue
        if declared and not is_attribute and kind is not ColumnType.STRING:
            errors.append(FieldError(f"type.{name}", f"{field_name} is a text field"))
        columns.append(Column(name, field_name, is_attribute, kind))
    targets = [c.target for c in columns if c is not None and not c.is_attribute]
    if len(set(targets)) != len(targets):
        errors.append(FieldError("map", "two columns map to the same field"))
    if not any(c is not None and c.target in ("email", USER_ID) and not c.is_attribute for c in columns):
        errors.append(FieldError("header", "the file needs an email or user_id column to match contacts"))
    if errors:
        raise Invalid(errors)
    return columns


def convert(value: str, kind: ColumnType) -> Any:
    """One cell in its type; raises ValueError with a reason."""
    text = value.strip()
    if kind is ColumnType.STRING:
        return value
    if kind is ColumnType.INTEGER:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{text!r} is not a whole number")
        return _integer(text)
    if kind is ColumnType.NUMBER:
        if _INTEGER.fullmatch(text):
            return _integer(text)
        if not _NUMBER.fullmatch(text) or not math.isfinite(number := float(text)):
            raise ValueError(f"{text!r} is not a decimal number")
        return number
    if kind is ColumnType.BOOLEAN:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("not a boolean (true/false, yes/no, 1/0)")
    if kind is ColumnType.DATE:
        return date.fromisoformat(text).isoformat()
    if kind is ColumnType.DATETIME:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("a date-time needs a UTC offset (e.g. 2024-05-01T09:00:00Z)")
        return moment.isoformat()
    return json.loads(text, parse_int=_integer, parse_float=_finite, parse_constant=_no_constant)


def _integer(text: str) -> int:
    number = int(text)
    if not -_INT64 <= number < _INT64:
        raise ValueError(f"{text} is outside the 64-bit integer range; declare the column string")
    return number


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large a number")
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON can hold")


def infer_type(values: Sequence[str]) -> ColumnType:
    """The narrowest type every non-empty value of a column fits; text when they disagree."""
    sample = [v for v in values if v.strip()]
    if not sample:
        return ColumnType.STRING
    # "02134" is a code, not a number: leading zeros keep a column text.
    zero_led = any(len(v.strip()) > 1 and v.strip()[0] == "0" and v.strip()[1].isdigit() for v in sample)
    for kind in (
        ColumnType.INTEGER,
        ColumnType.NUMBER,
        ColumnType.BOOLEAN,
        ColumnType.DATE,
        ColumnType.DATETIME,
    ):
        if zero_led and kind in (ColumnType.INTEGER, ColumnType.NUMBER):
            continue
        try:
            for value in sample:
                convert(value, kind)
        except ValueError:
            continue
        if kind is ColumnType.BOOLEAN and all(v.strip() in ("0", "1") for v in sample):
            continue
        return kind
    return ColumnType.STRING


def infer_columns(
    columns: list[Column | None], rows: Sequence[Sequence[str]], declared: Mapping[str, str]
) -> list[Column | None]:
    """Fill in the type of every attribute column whose type was not declared."""
    out: list[Column | None] = []
    for index, column in enumerate(columns):
        if column is None or not column.is_attribute or column.name in declared:
            out.append(column)
            continue
        values = [row[index] for row in rows if index < len(row)]
        out.append(Column(column.name, column.target, True, infer_type(values)))
    return out


def parse_row(line: int, cells: Sequence[str], columns: Sequence[Column | None]) -> ParsedRow | RowError:
    """One CSV row as contact fields. Empty cells leave a field as it is (they do not unset it)."""
    if len(cells) != len(columns):
        return RowError(line, None, f"has {len(cells)} cells; the header has {len(columns)}")
    row = ParsedRow(line, None)
    for column, cell in zip(columns, cells, strict=True):
        if column is None or not cell.strip():
            continue
        if column.target == USER_ID and not column.is_attribute:
            if len(cell.strip()) > MAX_ID_LENGTH:
                return RowError(line, column.name, f"a user_id has at most {MAX_ID_LENGTH} characters")
            row.user_id = cell.strip()
        elif not column.is_attribute:
            row.core[column.target] = cell
        else:
            try:
                row.attributes[column.target] = convert(cell, column.type)
            except ValueError as exc:
                return RowError(line, column.name, f"not a valid {column.type.value}: {exc}")
    if not row.user_id and not row.core.get("email"):
        return RowError(line, None, "has neither an email nor a user_id")
    return row


def parse_options(values: Sequence[str], option: str) -> dict[str, str]:
    """Repeatable `COLUMN:VALUE` options (`--map`, `--type`) as a dict; the last colon splits."""
    pairs: dict[str, str] = {}
    for value in values:
        column, sep, target = value.rpartition(":")
        if not sep or not column or not target:
            raise Invalid.one(option, f"{value!r} is not COLUMN:VALUE")
        pairs[column] = target
    return pairs
