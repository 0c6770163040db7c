"""Applying segment answers: entries and exits become history rows, activities and queued changes, and
every evaluated (segment, contact) gets its next re-evaluation time. Shared by the live worker and
full recomputes; everything is written in bulk, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.conditions.references import References, references
from nurture.domain.contact_view import ContactView
from nurture.domain.evaluate import evaluate
from nurture.domain.next_change import next_change_time
from nurture.domain.segments import Segment, dependency_order, dependents
from nurture.store import activities as activity_store
from nurture.store import audience_queue as queue
from nurture.store import segments as store


@dataclass
class SegmentPlan:
    """A workspace's active segments, ready to evaluate: references, and an order in which every
    segment comes after the segments it refers to."""

    segments: dict[str, Segment]
    refs: dict[str, References]
    order: list[str]
    dependents: dict[str, set[str]]

    @classmethod
    def of(cls, segments: Iterable[Segment]) -> SegmentPlan:
        by_id = {s.id: s for s in segments}
        refs = {s.id: references(s.condition) for s in by_id.values()}
        graph = {s: frozenset(r.segment_ids & by_id.keys()) for s, r in refs.items()}
        return cls(by_id, refs, dependency_order(graph), dependents(graph))

    def closure(self, segment_ids: Iterable[str]) -> set[str]:
        """The segments and every segment that refers to them, directly or not."""
        found: set[str] = set()
        stack = [s for s in segment_ids if s in self.segments]
        while stack:
            node = stack.pop()
            if node not in found:
                found.add(node)
                stack.extend(self.dependents.get(node, ()))
        return found

    def needs(self, segment_ids: Iterable[str]) -> References:
        """Everything the given segments (and those that refer to them) read."""
        total = References()
        for segment_id in self.closure(segment_ids):
            r = self.refs[segment_id]
            total.fields |= r.fields
            total.event_names |= r.event_names
            total.account_fields |= r.account_fields
            total.segment_ids |= r.segment_ids
            total.list_ids |= r.list_ids
            total.tags |= r.tags
            total.score_models |= r.score_models
            total.subscription_channels |= r.subscription_channels
            total.lifecycle_stage |= r.lifecycle_stage
            total.message_events |= r.message_events
            total.time_relative |= r.time_relative
        return total


@dataclass
class MembershipWriter:
    """Collects the consequences of evaluating segments in one workspace at one instant."""

    workspace_id: str
    now: datetime
    reason: str  # live | time | recompute: why the answer was computed (in the activity's data)
    names: Mapping[str, str]  # segment id → name, for activities
    entered: list[tuple[str, str]] = field(default_factory=list)
    exited: list[tuple[str, str]] = field(default_factory=list)
    timers: list[tuple[str, str, datetime | None]] = field(default_factory=list)

    def enter(self, segment_id: str, contact_id: str) -> None:
        self.entered.append((segment_id, contact_id))

    def exit(self, segment_id: str, contact_id: str) -> None:
        self.exited.append((segment_id, contact_id))

    def timer(self, segment_id: str, contact_id: str, due: datetime | None) -> None:
        self.timers.append((segment_id, contact_id, due))

    def flush(self, conn: Connection) -> None:
        ws, now = self.workspace_id, self.now
        store.exit_(conn, ws, self.exited, now)
        store.enter(conn, ws, self.entered, now)
        moves = [(ActivityKind.SEGMENT_EXITED, p) for p in self.exited]
        moves += [(ActivityKind.SEGMENT_ENTERED, p) for p in self.entered]
        activity_store.record_many(
            conn,
            [
                activity_store.activity_row(
                    ws, c, kind, now, s, {"segment_name": self.names.get(s), "reason": self.reason}
                )
                for kind, (s, c) in moves
            ],
        )
        # segments (and scoring rules, journeys) that read these memberships look again
        activity_store.enqueue_changes(
            conn,
            [
                activity_store.change_row(ws, c, ChangeKind.MEMBERSHIP, now, f"segment:{s}")
                for _, (s, c) in moves
            ],
        )
        queue.set_timers(conn, ws, self.timers)
        self.entered, self.exited, self.timers = [], [], []


def evaluate_contact(
    view: ContactView, todo: set[str], plan: SegmentPlan, now: datetime, writer: MembershipWriter
) -> ContactView:
    """Evaluate the segments in `todo` for one contact, referenced segments first; a membership that
    changes puts the segments referring to it on the list too. Returns the view with its new
    memberships. (Per-contact steps that read the same view, such as scoring, belong beside this.)"""
    pending = {s for s in todo if s in plan.segments}
    current = set(view.segment_ids)
    contact_id = view.contact.id
    for segment_id in plan.order:
        if segment_id not in pending:
            continue
        condition = plan.segments[segment_id].condition
        member = evaluate(condition, view, now)
        if member != (segment_id in current):
            if member:
                current.add(segment_id)
                writer.enter(segment_id, contact_id)
            else:
                current.discard(segment_id)
                writer.exit(segment_id, contact_id)
            view = replace(view, segment_ids=frozenset(current))
            pending |= plan.dependents.get(segment_id, set())
        writer.timer(segment_id, contact_id, next_change_time(condition, view, now))
    return view
