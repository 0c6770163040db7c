"""Journeys as documents: apply (create, or publish a new immutable version), list, read, pause,
resume, archive, and enrol contacts by hand. Runs in flight stay on the version they started on.

Pausing stops new entries and holds every run where it is: timers that come due while a journey is
paused fire when it is resumed (nothing is skipped, nothing is sent while paused). Archiving ends the
journey for good: its live runs exit.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.conditions.nodes import AllOf, AnyOf, Condition, Not, SegmentCondition
from nurture.domain.errors import Conflict, FieldError, Invalid, NotFound
from nurture.domain.journeys.definition import Journey
from nurture.domain.journeys.nodes import (
    Branch,
    ChangeScore,
    Delay,
    Send,
    UpdateContact,
    WaitForEvent,
    WaitUntil,
)
from nurture.domain.journeys.parsing import parse_journey
from nurture.domain.journeys.records import StoredJourney
from nurture.domain.journeys.step import Definition
from nurture.domain.journeys.triggers import ScheduleTrigger, ScoreTrigger, SegmentTrigger
from nurture.domain.segments import segment_references
from nurture.services import audience_interest, catalog
from nurture.services.clock import Clock
from nurture.services.journeys import schedules
from nurture.services.journeys.effects import enroll_rows
from nurture.services.journeys.explain import RunExplained, explain
from nurture.services.message_metrics import Counts
from nurture.store import journeys as store
from nurture.store import message_metrics as metrics_store
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.templates import find_template


@dataclass(frozen=True)
class Applied:
    journey: StoredJourney
    created: bool  # a new journey
    published: bool  # a new version (False: the document equals the current version)


@dataclass(frozen=True)
class Move:
    """Live runs at `node` of `version`: they move to `to` of the new version, or stay (None)."""

    version: int
    node: str | None
    runs: int
    to: str | None


@dataclass(frozen=True)
class JourneyDetail:
    journey: StoredJourney
    document: dict[str, Any]
    versions: list[tuple[int, datetime]]
    runs: dict[str, int]  # runs per status, every version


@dataclass(frozen=True)
class NodeFigures:
    node: str
    type: str | None  # None: a node of an earlier version only
    reached: int  # runs with a step at the node
    waiting: int  # live runs there now
    completed: int  # runs that went on past it (or completed their path there)
    exited: int  # runs that ended there by an exit (node, criterion, goal, unsubscribe)
    failed: int
    converted: int  # runs that reached it and then the goal
    messages: Counts | None  # send nodes: the messages' outcomes


@dataclass(frozen=True)
class JourneyAnalytics:
    journey: StoredJourney
    entered: int
    runs: dict[str, int]  # per status
    converted: int
    nodes: list[NodeFigures]


class JourneyService:
    def __init__(self, db: Database, clock: Clock, on_enroll: Any = None) -> None:
        self.db = db
        self.clock = clock
        self.on_enroll = on_enroll

    def validate(self, workspace_id: str | None, document: Any) -> Journey:
        """Check a document; with a workspace, also what it refers to (templates, segments, lists,
        attributes in the data catalog)."""
        journey, _ = parse_journey(document)
        if workspace_id is not None:
            with self.db.read() as conn:
                journey = _resolved(conn, workspace_id, journey)
        return journey

    def preview(
        self, workspace_id: str, document: Any, migrate: Mapping[str, str] | None = None
    ) -> list[Move]:
        """What publishing `document` would do to the journey's live runs: which move where (by the
        `migrate` map, old node id → new node id, for waiting runs) and which stay on their version."""
        journey, _ = parse_journey(document)
        with self.db.read() as conn:
            journey = _resolved(conn, workspace_id, journey)
            found = store.find_journey(conn, workspace_id, journey.name)
            if found is None:
                return []
            return _moves(conn, workspace_id, found.id, journey, migrate or {})

    def apply(self, workspace_id: str, document: Any, migrate: Mapping[str, str] | None = None) -> Applied:
        """Create the journey, or publish a new version when the document changed; with `migrate`,
        waiting runs of older versions at a mapped node move to the new version's node."""
        journey, graph = parse_journey(document)
        now = self.clock.now()
        with self.db.write() as conn:
            journey = _resolved(conn, workspace_id, journey)
            stored = journey.model_dump(mode="json", by_alias=True, exclude_none=True)
            found = store.find_journey(conn, workspace_id, journey.name)
            if found is None or found.name != journey.name:
                row = StoredJourney(new_id(), journey.name, "active", 1, now, now)
                store.insert_journey(conn, workspace_id, row)
                store.insert_version(conn, workspace_id, row.id, 1, stored, now)
                schedules.published(conn, workspace_id, Definition(journey, graph, row.id, 1), now)
                audience_interest.changed(conn, workspace_id, now)  # writers queue what it reads
                return Applied(row, created=True, published=True)
            if found.status == "archived":
                raise Conflict(f"journey {journey.name!r} is archived; give the new one another name")
            current = store.version_document(conn, workspace_id, found.id, found.version)
            if current == stored:
                return Applied(found, created=False, published=False)
            version = found.version + 1
            moves = _moves(conn, workspace_id, found.id, journey, migrate or {})
            store.insert_version(conn, workspace_id, found.id, version, stored, now)
            store.set_journey(conn, workspace_id, found.id, now, version=version)
            schedules.published(conn, workspace_id, Definition(journey, graph, found.id, version), now)
            wanted = [(m.version, m.node, m.to) for m in moves if m.to is not None and m.node is not None]
            store.move_runs(conn, workspace_id, found.id, wanted, version, now)
            audience_interest.changed(conn, workspace_id, now)
            updated = store.find_journey(conn, workspace_id, found.id)
            assert updated is not None
            return Applied(updated, created=False, published=True)

    def list(self, workspace_id: str) -> list[StoredJourney]:
        with self.db.read() as conn:
            return store.list_journeys(conn, workspace_id)

    def get(self, workspace_id: str, id_or_name: str) -> JourneyDetail:
        with self.db.read() as conn:
            row = self._find(conn, workspace_id, id_or_name)
            document = store.version_document(conn, workspace_id, row.id, row.version) or {}
            return JourneyDetail(
                row,
                document,
                store.versions(conn, workspace_id, row.id),
                store.run_counts(conn, workspace_id, row.id),
            )

    def analytics(self, workspace_id: str, id_or_name: str) -> JourneyAnalytics:
        """Per journey and node, over every version: entered, waiting now, completed, exited, failed,
        converted, and for send nodes the messages' outcomes."""
        with self.db.read() as conn:
            row = self._find(conn, workspace_id, id_or_name)
            document = store.version_document(conn, workspace_id, row.id, row.version) or {}
            runs = store.run_counts(conn, workspace_id, row.id)
            figures = store.node_figures(conn, workspace_id, row.id)
            converted = store.conversions(conn, workspace_id, row.id)
            types = {str(n.get("id")): str(n.get("type")) for n in document.get("nodes", [])}
            order = list(types) + sorted(set(figures) - set(types))
            nodes = []
            for node in order:
                at = figures.get(node, {})
                reached, waiting, exited, failed = (
                    at.get(k, 0) for k in ("reached", "waiting", "exited", "failed")
                )
                messages = None
                if types.get(node) == "send":
                    filters = {"journey_id": row.id, "node_id": node}
                    messages = Counts.of(
                        [(k, n) for k, n in metrics_store.counts(conn, workspace_id, filters)]
                    )
                nodes.append(
                    NodeFigures(
                        node,
                        types.get(node),
                        reached,
                        waiting,
                        max(reached - waiting - exited - failed, 0),
                        exited,
                        failed,
                        at.get("converted", 0),
                        messages,
                    )
                )
        return JourneyAnalytics(row, sum(runs.values()), runs, converted, nodes)

    def set_status(self, workspace_id: str, id_or_name: str, status: str) -> StoredJourney:
        """pause, resume (active) or archive."""
        if status not in ("active", "paused", "archived"):
            raise Invalid.one("status", "must be active, paused or archived")
        now = self.clock.now()
        with self.db.write() as conn:
            row = self._find(conn, workspace_id, id_or_name)
            if row.status == "archived" and status != "archived":
                raise Conflict(f"journey {row.name!r} is archived and cannot be {status} again")
            store.set_journey(conn, workspace_id, row.id, now, status=status)
            audience_interest.changed(conn, workspace_id, now)
            if status == "archived":
                store.end_live_runs(conn, workspace_id, row.id, "the journey was archived", now)
            found = store.find_journey(conn, workspace_id, row.id)
            assert found is not None
            return found

    def enroll(self, workspace_id: str, id_or_name: str, contact_ids: Sequence[str]) -> int:
        """Enrol contacts (entry condition and re-entry policy apply); returns how many were queued."""
        now = self.clock.now()
        with self.db.write() as conn:
            row = self._find(conn, workspace_id, id_or_name)
            if row.status != "active":
                raise Conflict(f"journey {row.name!r} is {row.status}: only active journeys take enrolments")
            enroll_rows(conn, workspace_id, row.id, list(contact_ids), now, "api")
        if self.on_enroll is not None:
            self.on_enroll()
        return len(contact_ids)

    def explain(
        self, workspace_id: str, contact_id: str, journey: str | None = None
    ) -> builtins.list[RunExplained]:
        """The contact's runs (of one journey, given its id or name), each with its trace."""
        return explain(self.db, workspace_id, contact_id, journey)

    @staticmethod
    def _find(conn: Connection, workspace_id: str, id_or_name: str) -> StoredJourney:
        row = store.find_journey(conn, workspace_id, id_or_name)
        if row is None:
            raise NotFound(f"no journey {id_or_name!r} in this workspace")
        return row


def _resolved(conn: Connection, workspace_id: str, journey: Journey) -> Journey:
    """The journey with segments, lists and scoring models named by id or name turned into ids, and
    templates and conditions checked against the workspace; Invalid names every node and field that
    refers to something the workspace does not have."""
    errors: list[FieldError] = []
    refs: dict[str, list[str]] = {"segment": [], "list": [], "scoring model": []}
    trigger = journey.trigger
    if isinstance(trigger, SegmentTrigger | ScheduleTrigger) and trigger.segment_id:
        refs["segment"].append(trigger.segment_id)
    if isinstance(trigger, ScheduleTrigger) and trigger.list_id:
        refs["list"].append(trigger.list_id)
    if isinstance(trigger, ScoreTrigger):
        refs["scoring model"].append(trigger.model_id)
    for node in journey.nodes:
        if isinstance(node, UpdateContact):
            refs["list"] += [*node.add_to_lists, *node.remove_from_lists]
        if isinstance(node, ChangeScore):
            refs["scoring model"].append(node.model_id)
    ids = {kind: store.resolve_ids(conn, workspace_id, kind, values) for kind, values in refs.items()}

    def one(kind: str, value: str, where: str) -> str:
        found = ids[kind].get(value)
        if found is None:
            errors.append(FieldError(where, f"no {kind} {value!r} (id or name) in this workspace"))
            return value
        return found

    changes: dict[str, Any] = {}
    if isinstance(trigger, SegmentTrigger | ScheduleTrigger):
        update: dict[str, Any] = {}
        if trigger.segment_id:
            update["segment_id"] = one("segment", trigger.segment_id, "trigger.segment_id")
        if isinstance(trigger, ScheduleTrigger) and trigger.list_id:
            update["list_id"] = one("list", trigger.list_id, "trigger.list_id")
        changes["trigger"] = trigger.model_copy(update=update)
    if isinstance(trigger, ScoreTrigger):
        model = one("scoring model", trigger.model_id, "trigger.model_id")
        changes["trigger"] = trigger.model_copy(update={"model_id": model})
    nodes = []
    for node in journey.nodes:
        where = f"nodes[{node.id}]"
        if isinstance(node, UpdateContact):
            node = node.model_copy(
                update={
                    key: [one("list", v, f"{where}.{key}") for v in getattr(node, key)]
                    for key in ("add_to_lists", "remove_from_lists")
                }
            )
        elif isinstance(node, ChangeScore):
            node = node.model_copy(
                update={"model_id": one("scoring model", node.model_id, f"{where}.model_id")}
            )
        elif isinstance(node, Send) and node.template is not None:
            found = find_template(conn, workspace_id, node.template)
            if found is None:
                errors.append(
                    FieldError(f"{where}.template", f"no template {node.template!r} in this workspace")
                )
            elif found[1] != node.channel.value:
                errors.append(FieldError(f"{where}.template", f"{node.template!r} is a {found[1]} template"))
        nodes.append(node)
    changes["nodes"] = nodes
    for path, condition in _conditions(journey):
        try:
            catalog.check(conn, workspace_id, condition, path)
        except Invalid as invalid:
            errors += invalid.errors
    resolved = _segments_resolved(conn, workspace_id, journey.model_copy(update=changes), errors)
    if errors:
        raise Invalid(errors)
    return resolved


def _segments_resolved(
    conn: Connection, workspace_id: str, journey: Journey, errors: list[FieldError]
) -> Journey:
    """The journey with the segments its conditions name (by id or name) turned into ids; a segment the
    workspace does not have is an error at its path."""
    named = [
        (where, segment) for path, c in _conditions(journey) for where, segment in segment_references(c, path)
    ]
    if not named:
        return journey
    ids = store.resolve_ids(conn, workspace_id, "segment", sorted({segment for _, segment in named}))
    errors += [
        FieldError(where, f"no segment {segment!r} (id or name) in this workspace")
        for where, segment in named
        if segment not in ids
    ]

    def mapped(condition: Condition | None) -> Any:
        if isinstance(condition, AllOf | AnyOf):
            return condition.model_copy(update={"conditions": [mapped(c) for c in condition.conditions]})
        if isinstance(condition, Not):
            return condition.model_copy(update={"condition": mapped(condition.condition)})
        if isinstance(condition, SegmentCondition):
            return condition.model_copy(
                update={"segment_id": ids.get(condition.segment_id, condition.segment_id)}
            )
        return condition

    def with_condition(item: Any) -> Any:
        return item.model_copy(update={"condition": mapped(item.condition)})

    return journey.model_copy(
        update={
            "entry": with_condition(journey.entry),
            "nodes": [with_condition(n) if isinstance(n, Branch) else n for n in journey.nodes],
            "exit": [with_condition(e) for e in journey.exit],
            "goal": with_condition(journey.goal) if journey.goal is not None else None,
        }
    )


def _moves(
    conn: Connection, workspace_id: str, journey_id: str, journey: Journey, migrate: Mapping[str, str]
) -> builtins.list[Move]:
    errors = []
    targets = {node.id: node for node in journey.nodes}
    for old, new in migrate.items():
        target = targets.get(new)
        if target is None:
            errors.append(FieldError(f"migrate.{old}", f"the new version has no node {new!r}"))
        elif not isinstance(target, Delay | WaitUntil | WaitForEvent):
            errors.append(
                FieldError(
                    f"migrate.{old}",
                    f"runs wait, so they can move only to a wait node; {new!r} is a {target.type}",
                )
            )
    if errors:
        raise Invalid(errors)
    return [
        Move(version, node, runs, migrate.get(node) if node is not None else None)
        for version, node, runs in store.live_runs_by_node(conn, workspace_id, journey_id)
    ]


def _conditions(journey: Journey) -> list[tuple[str, Condition]]:
    found: list[tuple[str, Condition]] = []
    if journey.entry.condition is not None:
        found.append(("entry.condition", journey.entry.condition))
    for node in journey.nodes:
        if isinstance(node, Branch) and node.condition is not None:
            found.append((f"nodes[{node.id}].condition", node.condition))
    for index, criterion in enumerate(journey.exit):
        if criterion.condition is not None:
            found.append((f"exit[{index}].condition", criterion.condition))
    if journey.goal is not None and journey.goal.condition is not None:
        found.append(("goal.condition", journey.goal.condition))
    return found
