"""Segments: a named condition whose members are kept current, with their history of stays.

Pure rules only: validating a segment's fields, finding the segment references of a condition (with the
path of each node, for errors), rejecting unknown ids and cycles, and ordering segments so that a
segment is evaluated after the segments it refers to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from nurture.domain.conditions.nodes import AllOf, AnyOf, Condition, Not, SegmentCondition
from nurture.domain.conditions.parsing import parse_condition
from nurture.domain.errors import FieldError, Invalid, join_path

MAX_NAME = 200
MAX_DESCRIPTION = 2000


class SegmentStatus(StrEnum):
    ACTIVE = "active"  # kept current by the audience worker
    ARCHIVED = "archived"  # frozen: no longer evaluated, no current members


@dataclass(frozen=True)
class Segment:
    id: str
    name: str
    description: str | None
    condition: Condition
    status: SegmentStatus
    created_at: datetime
    updated_at: datetime
    recomputed_at: datetime | None  # last full evaluation; None: one is due


@dataclass(frozen=True)
class Membership:
    """One stay of a contact in a segment; `exited_at` None while it lasts."""

    segment_id: str
    contact_id: str
    entered_at: datetime
    exited_at: datetime | None


def parse_name(value: Any, path: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid.one(path, "must be a non-empty string")
    if len(value.strip()) > MAX_NAME:
        raise Invalid.one(path, f"too long: at most {MAX_NAME} characters")
    return value.strip()


def parse_description(value: Any, path: str = "description") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid.one(path, "must be a string or null")
    if len(value) > MAX_DESCRIPTION:
        raise Invalid.one(path, f"too long: at most {MAX_DESCRIPTION} characters")
    return value


def parse_segment_condition(data: Any, path: str = "condition") -> Condition:
    """The condition of a segment; errors name the bad node under `path`."""
    if data is None:
        raise Invalid.one(path, "required")
    return parse_condition(data, path)


def segment_references(condition: Condition, path: str = "condition") -> Iterator[tuple[str, str]]:
    """Every `segment` node of the tree as (its path, the segment id it names)."""
    if isinstance(condition, AllOf | AnyOf):
        for index, child in enumerate(condition.conditions):
            yield from segment_references(child, join_path(path, f"conditions[{index}]"))
    elif isinstance(condition, Not):
        yield from segment_references(condition.condition, join_path(path, "condition"))
    elif isinstance(condition, SegmentCondition):
        yield join_path(path, "segment_id"), condition.segment_id


def check_segment_references(
    segment_id: str | None,
    condition: Condition,
    others: Mapping[str, frozenset[str]],
    archived: frozenset[str] = frozenset(),
    path: str = "condition",
) -> None:
    """Reject references to unknown or archived segments and references that lead back to `segment_id`.

    `others` maps every other segment of the workspace to the ids its condition refers to."""
    errors: list[FieldError] = []
    for where, target in segment_references(condition, path):
        if target == segment_id:
            errors.append(FieldError(where, "a segment cannot refer to itself"))
        elif target not in others:
            errors.append(FieldError(where, f"no segment {target} in this workspace"))
        elif target in archived:
            errors.append(
                FieldError(where, f"segment {target} is archived; reactivate it or refer to another")
            )
        elif segment_id is not None:
            cycle = _path_to(target, segment_id, others)
            if cycle is not None:
                loop = " → ".join([segment_id, *cycle])
                errors.append(FieldError(where, f"would make a cycle of segment references: {loop}"))
    if errors:
        raise Invalid(errors)


def _path_to(start: str, goal: str, graph: Mapping[str, frozenset[str]]) -> list[str] | None:
    """A chain of references from `start` to `goal` (both included), if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        if node == goal:
            return trail
        if node in seen:
            continue
        seen.add(node)
        for nxt in sorted(graph.get(node, frozenset())):
            stack.append((nxt, [*trail, nxt]))
    return None


def dependency_order(graph: Mapping[str, frozenset[str]]) -> list[str]:
    """Segment ids with every segment after the segments it refers to (ids outside `graph` are
    ignored); ties in id order, so the order is stable."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: in progress, 2: done

    def visit(node: str) -> None:
        if state.get(node) == 2 or node not in graph:
            return
        if state.get(node) == 1:  # a cycle stored before the rules: evaluate in id order
            return
        state[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt)
        state[node] = 2
        order.append(node)

    for node in sorted(graph):
        visit(node)
    return order


def dependents(graph: Mapping[str, frozenset[str]]) -> dict[str, set[str]]:
    """Segment id → the segments whose conditions refer to it directly."""
    out: dict[str, set[str]] = {}
    for node, targets in graph.items():
        for target in targets:
            out.setdefault(target, set()).add(node)
    return out


def with_dependencies(graph: Mapping[str, frozenset[str]], roots: set[str]) -> set[str]:
    """`roots` and every segment they refer to, directly or not."""
    found: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in found:
            continue
        found.add(node)
        stack.extend(graph.get(node, frozenset()))
    return found
