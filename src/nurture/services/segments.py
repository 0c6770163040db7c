"""Segments through the admin API: define, change, archive, delete; members now and as of a time; a
contact's segments and history; full recompute; count preview of a draft condition."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.conditions.nodes import Condition
from nurture.domain.conditions.references import references
from nurture.domain.contacts import Contact, Page
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.domain.segments import (
    Membership,
    Segment,
    SegmentStatus,
    check_segment_references,
    dependency_order,
    parse_description,
    parse_name,
    parse_segment_condition,
    segment_references,
    with_dependencies,
)
from nurture.services import audience_interest, catalog
from nurture.services.audience_scan import scan_timers
from nurture.services.clock import Clock
from nurture.services.memberships import MembershipWriter, SegmentPlan
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.store import audience_queue as queue
from nurture.store import contacts as contact_store
from nurture.store import segments as store
from nurture.store.audience_sql import audience_ids, count_matching, sample_matching
from nurture.store.db import Database
from nurture.store.ids import new_id

MAX_PAGE = 500
MAX_SAMPLE = 100
EDITABLE = ("name", "description", "condition", "status")


@dataclass(frozen=True)
class RecomputeResult:
    entered: int
    exited: int
    members: int


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Contact]


@dataclass(frozen=True)
class ContactSegment:
    """A segment the contact is in, with the stay."""

    segment: Segment
    membership: Membership


def _limit(limit: int, most: int = MAX_PAGE) -> int:
    if not 1 <= limit <= most:
        raise Invalid.one("limit", f"must be between 1 and {most}")
    return limit


class SegmentService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # definitions

    def create(self, workspace_id: str, fields: Mapping[str, Any]) -> Segment:
        """A new active segment; its members are computed by the audience worker (or `recompute`)."""
        unknown = sorted(set(fields) - {"name", "description", "condition"})
        if unknown:
            raise Invalid.one(unknown[0], "unknown field; a segment has name, description and condition")
        name = parse_name(fields.get("name"))
        description = parse_description(fields.get("description"))
        condition = parse_segment_condition(fields.get("condition"))
        now = self.clock.now()
        segment_id = new_id()
        with self.db.write() as conn:
            self._check_name(conn, workspace_id, name, None)
            self._check_references(conn, workspace_id, segment_id, condition)
            audience_interest.changed(conn, workspace_id, now)
            store.insert_segment(
                conn,
                workspace_id,
                {
                    "id": segment_id,
                    "name": name,
                    "description": description,
                    "condition": fields["condition"],
                    "status": SegmentStatus.ACTIVE.value,
                    "created_at": now,
                    "updated_at": now,
                    "recomputed_at": None,
                },
            )
            return self._get(conn, workspace_id, segment_id)

    def get(self, workspace_id: str, segment_id: str) -> Segment:
        with self.db.read() as conn:
            return self._get(conn, workspace_id, segment_id)

    def member_count(self, workspace_id: str, segment_id: str) -> int:
        with self.db.read() as conn:
            self._get(conn, workspace_id, segment_id)
            return store.count_members(conn, workspace_id, segment_id)

    def list(
        self, workspace_id: str, *, status: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> Page[Segment]:
        limit = _limit(limit)
        wanted = self._status(status, "status") if status is not None else None
        with self.db.read() as conn:
            found = store.list_segments(
                conn, workspace_id, status=wanted, after=decode_id_cursor(cursor), limit=limit + 1
            )
        items = found[:limit]
        return Page(items, encode_id_cursor(items[-1].id) if len(found) > limit else None)

    def update(self, workspace_id: str, segment_id: str, fields: Mapping[str, Any]) -> Segment:
        """Change the given fields. A new condition is checked like a new segment's and makes the
        members be computed again; `status` archives (members leave, evaluation stops) or reactivates."""
        unknown = sorted(set(fields) - set(EDITABLE))
        if unknown:
            raise Invalid.one(unknown[0], f"unknown field; you can change {', '.join(EDITABLE)}")
        values: dict[str, Any] = {}
        if "name" in fields:
            values["name"] = parse_name(fields["name"])
        if "description" in fields:
            values["description"] = parse_description(fields["description"])
        condition = parse_segment_condition(fields["condition"]) if "condition" in fields else None
        status = self._status(fields["status"], "status") if "status" in fields else None
        now = self.clock.now()
        with self.db.write() as conn:
            segment = self._get(conn, workspace_id, segment_id)
            if "name" in values:
                self._check_name(conn, workspace_id, values["name"], segment_id)
            if condition is not None:
                self._check_references(conn, workspace_id, segment_id, condition)
                values["condition"] = fields["condition"]
                values["recomputed_at"] = None
            if status is not None and status != segment.status:
                values["status"] = status.value
                if status is SegmentStatus.ARCHIVED:
                    self._check_unreferenced(conn, workspace_id, segment_id, "archive")
                    store.lock_segments(conn, workspace_id, [segment_id])
                    store.close_segment(conn, workspace_id, segment_id, now)
                    queue.delete_segment_timers(conn, workspace_id, segment_id)
                else:
                    if condition is None:
                        self._check_references(conn, workspace_id, segment_id, segment.condition)
                    values["recomputed_at"] = None
            if "condition" in values or "status" in values:
                audience_interest.changed(conn, workspace_id, now)
            if values:
                values["updated_at"] = now
                store.update_segment(conn, workspace_id, segment_id, values)
            return self._get(conn, workspace_id, segment_id)

    def delete(self, workspace_id: str, segment_id: str) -> None:
        """Delete the segment with its membership history; refused while another segment refers to it.
        Activities (entered/exited) stay in the contacts' timelines."""
        with self.db.write() as conn:
            self._get(conn, workspace_id, segment_id)
            self._check_unreferenced(conn, workspace_id, segment_id, "delete")
            store.lock_segments(conn, workspace_id, [segment_id])
            audience_interest.changed(conn, workspace_id, self.clock.now())
            store.delete_segment(conn, workspace_id, segment_id)

    # members

    def members(
        self,
        workspace_id: str,
        segment_id: str,
        *,
        as_of: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[Membership]:
        """Current members, or the members at `as_of` read from the history, in contact id order."""
        limit = _limit(limit)
        if as_of is not None and as_of.tzinfo is None:
            raise Invalid.one("as_of", "needs a time zone, e.g. 2026-03-01T00:00:00Z")
        with self.db.read() as conn:
            self._get(conn, workspace_id, segment_id)
            found = store.members_page(
                conn, workspace_id, segment_id, as_of=as_of, after=decode_id_cursor(cursor), limit=limit + 1
            )
        items = found[:limit]
        return Page(items, encode_id_cursor(items[-1].contact_id) if len(found) > limit else None)

    def contact_segments(self, workspace_id: str, contact_id: str) -> builtins.list[ContactSegment]:
        """The segments the contact is in now (a merged-away id answers for its survivor)."""
        with self.db.read() as conn:
            contact_id = self._contact(conn, workspace_id, contact_id)
            stays = store.contact_history(conn, workspace_id, contact_id, current_only=True)
            return self._with_segments(conn, workspace_id, stays)

    def contact_history(self, workspace_id: str, contact_id: str) -> builtins.list[ContactSegment]:
        """Every stay of the contact (and of contacts merged into it) in segments that still exist."""
        with self.db.read() as conn:
            contact_id = self._contact(conn, workspace_id, contact_id)
            stays = store.contact_history(conn, workspace_id, contact_id, current_only=False)
            return self._with_segments(conn, workspace_id, stays)

    # full evaluation

    def due_for_recompute(self, limit: int) -> builtins.list[tuple[str, str]]:
        with self.db.read() as conn:
            return store.due_for_recompute(conn, limit)

    def recompute(self, workspace_id: str, segment_id: str, *, only_if_due: bool = False) -> RecomputeResult:
        """Evaluate the segment for every contact (the segments it refers to first) and write the
        difference with the current members as entries and exits. `only_if_due`: do nothing when
        another process has done it meanwhile (workers)."""
        now = self.clock.now()
        with self.db.write() as conn:
            target = self._get(conn, workspace_id, segment_id)
            if target.status is not SegmentStatus.ACTIVE:
                raise Conflict(f"segment {segment_id} is archived; reactivate it to compute its members")
            plan = SegmentPlan.of(store.all_segments(conn, workspace_id, active_only=True))
            graph = {s: frozenset(plan.refs[s].segment_ids) for s in plan.segments}
            chain = [s for s in dependency_order(graph) if s in with_dependencies(graph, {segment_id})]
            store.lock_segments(conn, workspace_id, chain)
            locked = store.get_segment(conn, workspace_id, segment_id)
            if only_if_due and (locked is None or locked.recomputed_at is not None):
                return RecomputeResult(0, 0, 0)
            result = RecomputeResult(0, 0, 0)
            for current_id in chain:
                result = self._recompute_one(conn, workspace_id, plan, current_id, now)
            return result

    def _recompute_one(
        self, conn: Connection, workspace_id: str, plan: SegmentPlan, segment_id: str, now: datetime
    ) -> RecomputeResult:
        segment = plan.segments[segment_id]
        writer = MembershipWriter(workspace_id, now, "recompute", {segment_id: segment.name})
        wanted = set(conn.execute(audience_ids(conn.dialect, workspace_id, segment.condition, now)).scalars())
        current = store.current_members(conn, workspace_id, segment_id)
        for contact_id in sorted(wanted - current):
            writer.enter(segment_id, contact_id)
        for contact_id in sorted(current - wanted):
            writer.exit(segment_id, contact_id)
        result = RecomputeResult(len(writer.entered), len(writer.exited), len(wanted))
        writer.flush(conn)
        queue.delete_segment_timers(conn, workspace_id, segment_id)
        if references(segment.condition).time_relative:
            scan_timers(conn, workspace_id, plan, segment_id, now)
        store.update_segment(conn, workspace_id, segment_id, {"recomputed_at": now})
        return result

    def preview(self, workspace_id: str, data: Any, *, sample: int = 10) -> Preview:
        """How many contacts a draft condition matches now, and a few of them."""
        sample = _limit(sample, MAX_SAMPLE)
        condition = parse_segment_condition(data)
        now = self.clock.now()
        with self.db.read() as conn:
            self._check_references(conn, workspace_id, None, condition)
            count = count_matching(conn, workspace_id, condition, now)
            ids = sample_matching(conn, workspace_id, condition, now, sample)
            found = contact_store.load_contacts(conn, workspace_id, ids)
        return Preview(count, [found[i] for i in ids if i in found])

    # helpers

    @staticmethod
    def _get(conn: Connection, workspace_id: str, segment_id: str) -> Segment:
        found = store.get_segment(conn, workspace_id, segment_id)
        if found is None:
            raise NotFound(f"no segment {segment_id} in this workspace")
        return found

    @staticmethod
    def _status(value: Any, path: str) -> SegmentStatus:
        try:
            return SegmentStatus(value)
        except ValueError:
            raise Invalid.one(path, "must be active or archived") from None

    @staticmethod
    def _check_name(conn: Connection, workspace_id: str, name: str, segment_id: str | None) -> None:
        if store.name_taken(conn, workspace_id, name, segment_id):
            raise Conflict(f"another segment is already named {name!r}")

    @staticmethod
    def _check_references(
        conn: Connection, workspace_id: str, segment_id: str | None, condition: Condition
    ) -> None:
        """What the condition reads must exist: attributes in the data catalog (with values of a type
        it compares with), and segments without cycles."""
        catalog.check(conn, workspace_id, condition, "condition")
        if next(segment_references(condition), None) is None:
            return
        stored = [s for s in store.all_segments(conn, workspace_id) if s.id != segment_id]
        others = {s.id: frozenset(t for _, t in segment_references(s.condition)) for s in stored}
        archived = frozenset(s.id for s in stored if s.status is SegmentStatus.ARCHIVED)
        check_segment_references(segment_id, condition, others, archived)

    @staticmethod
    def _check_unreferenced(conn: Connection, workspace_id: str, segment_id: str, action: str) -> None:
        """Deleting needs no segment to refer to this one; archiving, no active segment."""
        users = sorted(
            s.id
            for s in store.all_segments(conn, workspace_id, active_only=action == "archive")
            if s.id != segment_id and any(t == segment_id for _, t in segment_references(s.condition))
        )
        if users:
            raise Conflict(f"cannot {action} segment {segment_id}: segments {', '.join(users)} refer to it")

    @staticmethod
    def _contact(conn: Connection, workspace_id: str, contact_id: str) -> str:
        if contact_store.load_contacts(conn, workspace_id, [contact_id]):
            return contact_id
        into = contact_store.merged_into(conn, workspace_id, contact_id)
        if into is None:
            raise NotFound(f"no contact {contact_id} in this workspace")
        return into

    @staticmethod
    def _with_segments(
        conn: Connection, workspace_id: str, stays: builtins.list[Membership]
    ) -> builtins.list[ContactSegment]:
        segments = {s.id: s for s in store.all_segments(conn, workspace_id)}
        return [ContactSegment(segments[m.segment_id], m) for m in stays if m.segment_id in segments]
