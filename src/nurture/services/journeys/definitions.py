"""Journeys as documents: apply (create, or publish a new immutable version), list, read, pause,
resume, archive, and enrol contacts by hand. Runs in flight stay on the version they started on.

Pausing stops new entries and holds every run where it is: timers that come due while a journey is
paused fire when it is resumed (nothing is skipped, nothing is sent while paused). Archiving ends the
journey for good: its live runs exit.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.errors import Conflict, FieldError, Invalid, NotFound
from nurture.domain.journeys.definition import Journey
from nurture.domain.journeys.nodes import Send, UpdateContact
from nurture.domain.journeys.parsing import parse_journey
from nurture.domain.journeys.records import StoredJourney
from nurture.domain.journeys.triggers import ScheduleTrigger, SegmentTrigger
from nurture.services import catalog
from nurture.services.clock import Clock
from nurture.services.journeys.effects import enroll_rows
from nurture.services.journeys.explain import RunExplained, explain
from nurture.store import journeys as store
from nurture.store import lists as list_store
from nurture.store import segments as segment_store
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.templates import find_template


@dataclass(frozen=True)
class Applied:
    journey: StoredJourney
    created: bool  # a new journey
    published: bool  # a new version (False: the document equals the current version)


@dataclass(frozen=True)
class JourneyDetail:
    journey: StoredJourney
    document: dict[str, Any]
    versions: list[tuple[int, datetime]]
    runs: dict[str, int]  # runs per status, every version


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
                _check_references(conn, workspace_id, journey)
        return journey

    def apply(self, workspace_id: str, document: Any) -> Applied:
        journey, _ = parse_journey(document)
        stored = journey.model_dump(mode="json", by_alias=True, exclude_none=True)
        now = self.clock.now()
        with self.db.write() as conn:
            _check_references(conn, workspace_id, journey)
            found = store.find_journey(conn, workspace_id, journey.name)
            if found is None or found.name != journey.name:
                row = StoredJourney(new_id(), journey.name, "active", 1, now, now)
                store.insert_journey(conn, workspace_id, row)
                store.insert_version(conn, workspace_id, row.id, 1, stored, now)
                return Applied(row, created=True, published=True)
            if found.status == "archived":
                raise Conflict(f"journey {journey.name!r} is archived; give the new one another name")
            current = store.version_document(conn, workspace_id, found.id, found.version)
            if current == stored:
                return Applied(found, created=False, published=False)
            version = found.version + 1
            store.insert_version(conn, workspace_id, found.id, version, stored, now)
            store.set_journey(conn, workspace_id, found.id, now, version=version)
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


def _check_references(conn: Connection, workspace_id: str, journey: Journey) -> None:
    errors: list[FieldError] = []
    trigger = journey.trigger
    segment_id = trigger.segment_id if isinstance(trigger, SegmentTrigger | ScheduleTrigger) else None
    if segment_id is not None and segment_store.get_segment(conn, workspace_id, segment_id) is None:
        errors.append(FieldError("trigger.segment_id", f"no segment {segment_id!r} in this workspace"))
    for node in journey.nodes:
        where = f"nodes[{node.id}]"
        if isinstance(node, Send) and node.template is not None:
            found = find_template(conn, workspace_id, node.template)
            if found is None:
                errors.append(
                    FieldError(f"{where}.template", f"no template {node.template!r} in this workspace")
                )
            elif found[1] != node.channel.value:
                errors.append(FieldError(f"{where}.template", f"{node.template!r} is a {found[1]} template"))
        if isinstance(node, UpdateContact):
            for key in ("add_to_lists", "remove_from_lists"):
                for list_id in getattr(node, key):
                    if list_store.get(conn, workspace_id, list_id) is None:
                        errors.append(FieldError(f"{where}.{key}", f"no list {list_id!r} in this workspace"))
    try:
        if journey.entry.condition is not None:
            catalog.check(conn, workspace_id, journey.entry.condition, "entry.condition")
        for node in journey.nodes:
            condition = getattr(node, "condition", None)
            if condition is not None:
                catalog.check(conn, workspace_id, condition, f"nodes[{node.id}].condition")
        for index, criterion in enumerate(journey.exit):
            if criterion.condition is not None:
                catalog.check(conn, workspace_id, criterion.condition, f"exit[{index}].condition")
    except Invalid as invalid:
        errors += invalid.errors
    if errors:
        raise Invalid(errors)
