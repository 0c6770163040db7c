"""Reading a condition from JSON: structural and semantic errors named by the path of the bad node."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from nurture.domain.conditions.nodes import MAX_DEPTH, AllOf, AnyOf, Condition, Not
from nurture.domain.errors import FieldError, Invalid, join_path

_DISCRIMINATORS = ("type", "op", "kind")
_ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)


def condition_schema() -> dict[str, Any]:
    """The published JSON Schema of the condition language."""
    return _ADAPTER.json_schema()


def parse_condition(data: Any, path: str = "") -> Condition:
    """Validate JSON-like data as a condition; raise `Invalid` whose fields are paths such as
    `conditions[2].operator.value`, prefixed by `path`."""
    try:
        condition = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc, data, path)) from None
    too_deep = _too_deep(condition, path, 1)
    if too_deep is not None:
        raise Invalid.one(too_deep, f"conditions may nest at most {MAX_DEPTH} levels deep")
    return condition


def _too_deep(condition: Condition, path: str, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return path
    if isinstance(condition, AllOf | AnyOf):
        for index, child in enumerate(condition.conditions):
            found = _too_deep(child, join_path(path, f"conditions[{index}]"), depth + 1)
            if found is not None:
                return found
    elif isinstance(condition, Not):
        return _too_deep(condition.condition, join_path(path, "condition"), depth + 1)
    return None


def field_errors(exc: ValidationError, data: Any, prefix: str) -> list[FieldError]:
    """pydantic's errors as user paths into `data` (union tags dropped), prefixed by `prefix`;
    shared by every document built on the condition language."""
    seen: set[str] = set()
    errors: list[FieldError] = []
    for error in exc.errors():
        where, message = _describe(error, data)
        where = join_path(prefix, where)
        if where in seen:
            continue
        seen.add(where)
        errors.append(FieldError(where, message))
    return errors


def _describe(error: ErrorDetails, data: Any) -> tuple[str, str]:
    """Walk the error location along the input, dropping pydantic's union tags, to a user's path."""
    path = ""
    current = data
    tag_possible = True
    loc = error["loc"]
    for position, item in enumerate(loc):
        if tag_possible and isinstance(current, dict) and item in _tags_of(current):
            tag_possible = False
        elif isinstance(item, int) and isinstance(current, list) and 0 <= item < len(current):
            path, current, tag_possible = join_path(path, f"[{item}]"), current[item], True
        elif isinstance(item, str) and isinstance(current, dict) and item in current:
            path, current, tag_possible = join_path(path, item), current[item], True
        elif position == len(loc) - 1 and isinstance(current, dict):
            path = join_path(path, str(item))
    return _message(error, path)


def _tags_of(node: dict[Any, Any]) -> set[object]:
    """The discriminator values of an input object, which pydantic puts into error locations."""
    return {node.get(key) for key in _DISCRIMINATORS} - {None}


def _message(error: ErrorDetails, path: str) -> tuple[str, str]:
    kind = error["type"]
    context = error.get("ctx", {})
    if kind == "union_tag_invalid":
        expected = context.get("expected_tags", "")
        return join_path(path, context.get("discriminator", "").strip("'")), (
            f"unknown kind {context.get('tag')!r}; expected one of {expected}"
        )
    if kind == "union_tag_not_found":
        return join_path(path, context.get("discriminator", "").strip("'")), "required"
    if kind == "missing":
        return path, "required"
    if kind == "extra_forbidden":
        return path, "unknown field; remove it"
    if kind in ("too_short", "string_too_short"):
        return path, "must not be empty"
    if kind == "string_too_long":
        return path, f"too long: at most {context.get('max_length')} characters"
    if kind == "too_long":
        return path, f"too many: at most {context.get('max_length')} items"
    if kind == "greater_than_equal":
        return path, f"must be at least {context.get('ge')}"
    if kind == "less_than_equal":
        return path, f"must be at most {context.get('le')}"
    if kind == "value_error":
        return path, str(context.get("error", error["msg"]))
    return path, error["msg"]
