"""Reading a journey document (already loaded from YAML or JSON): structure, then the graph. Errors
name nodes by id: `nodes[wait-a-day].duration`, not `nodes[3].duration`."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from nurture.domain.conditions.parsing import field_errors
from nurture.domain.errors import FieldError, Invalid
from nurture.domain.journeys.definition import Journey
from nurture.domain.journeys.graph import Graph

_ADAPTER: TypeAdapter[Journey] = TypeAdapter(Journey)
_NODE_INDEX = re.compile(r"^nodes\[(\d+)\]")


def journey_schema() -> dict[str, Any]:
    """The published JSON Schema of journey documents."""
    return _ADAPTER.json_schema(by_alias=True)


def parse_journey(data: Any) -> tuple[Journey, Graph]:
    """Validate a journey document; raise `Invalid` naming every bad node/edge and field."""
    if not isinstance(data, dict):
        raise Invalid.one("", "a journey document must be an object (a YAML mapping)")
    try:
        journey = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise Invalid([_by_id(e, data) for e in field_errors(exc, data, "")]) from None
    return journey, Graph(journey)


def _by_id(error: FieldError, data: dict[str, Any]) -> FieldError:
    found = _NODE_INDEX.match(error.field)
    nodes = data.get("nodes")
    if not found or not isinstance(nodes, list):
        return error
    index = int(found.group(1))
    node = nodes[index] if index < len(nodes) else None
    node_id = node.get("id") if isinstance(node, dict) else None
    if not isinstance(node_id, str) or not node_id:
        return error
    return FieldError(f"nodes[{node_id}]" + error.field[found.end() :], error.message)
