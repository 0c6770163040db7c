"""The audience worker: keeps segment memberships current as contacts change and as time passes.

Each batch, in one write transaction: claim queued changes and due timers, group them per contact,
load each contact's view once, re-evaluate only the segments the changes can affect (and those that
refer to a segment whose membership changed), write entries, exits, activities and next timers, and
delete what was claimed. A failed batch rolls back whole and is simply done again: answers are
computed from the stored state, so a retry writes the same result.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Connection

from nurture.domain.activities import ChangeKind
from nurture.domain.audience import Change, can_affect
from nurture.services.clock import Clock
from nurture.services.memberships import MembershipWriter, SegmentPlan, evaluate_contact
from nurture.services.segments import SegmentService
from nurture.store import audience_queue as queue
from nurture.store import segments as store
from nurture.store.contact_views import load_views, merged_into
from nurture.store.db import Database

log = structlog.get_logger("nurture.audience")

BATCH = 500
POLL_SECONDS = 0.15


@dataclass
class WorkerStats:
    changes: int = 0
    timers: int = 0
    contacts: int = 0
    evaluated: int = 0  # (segment, contact) answers computed
    entered: int = 0
    exited: int = 0
    recomputed: int = 0

    def add(self, other: WorkerStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def idle(self) -> bool:
        return not (self.changes or self.timers or self.recomputed)


class AudienceWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        segments: SegmentService,
        *,
        batch: int = BATCH,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.segments = segments
        self.batch = batch
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # running

    def run_once(self) -> WorkerStats:
        """Process everything that is due now (queued changes, due timers, segments waiting for their
        first full evaluation) and return; for `nurture worker --once`, cron and tests."""
        total = WorkerStats()
        while True:
            stats = self.step()
            total.add(stats)
            if stats.idle:
                return total

    def step(self) -> WorkerStats:
        """One batch."""
        stats = WorkerStats()
        for workspace_id, segment_id in self.segments.due_for_recompute(limit=1):
            result = self.segments.recompute(workspace_id, segment_id)
            stats.recomputed += 1
            stats.entered += result.entered
            stats.exited += result.exited
        now = self.clock.now()
        with self.db.write() as conn:
            changes = queue.claim_changes(conn, self.batch)
            timers = queue.claim_due_timers(conn, now, self.batch)
            if not changes and not timers:
                return stats
            by_workspace: dict[str, tuple[list[queue.QueuedChange], list[queue.DueTimer]]] = defaultdict(
                lambda: ([], [])
            )
            for change in changes:
                by_workspace[change.workspace_id][0].append(change)
            for timer in timers:
                by_workspace[timer.workspace_id][1].append(timer)
            for workspace_id in sorted(by_workspace):
                ws_changes, ws_timers = by_workspace[workspace_id]
                stats.add(self._workspace(conn, workspace_id, ws_changes, ws_timers, now))
            queue.delete_changes(conn, changes)
            queue.delete_timers(conn, timers)
        stats.changes, stats.timers = len(changes), len(timers)
        return stats

    def start(self) -> None:
        """Run in a background thread until `stop()` (the embedded worker of `nurture serve`)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="nurture-audience", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask `run_forever` to return after the batch in progress (signal handlers call this)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_forever(self) -> None:
        """Poll every `poll` seconds while idle; keep going without pause while there is work."""
        log.info("audience worker started", poll_seconds=self.poll, batch=self.batch)
        while not self._stop.is_set():
            try:
                stats = self.step()
            except Exception:
                log.exception("audience batch failed; it will be retried")
                self._stop.wait(max(self.poll, 1.0))
                continue
            if stats.idle:
                self._stop.wait(self.poll)
            else:
                log.debug("audience batch", **stats.__dict__)
        log.info("audience worker stopped")

    # one workspace of a batch

    def _workspace(
        self,
        conn: Connection,
        workspace_id: str,
        changes: list[queue.QueuedChange],
        timers: list[queue.DueTimer],
        now: datetime,
    ) -> WorkerStats:
        plan = SegmentPlan.of(store.all_segments(conn, workspace_id, active_only=True))
        everything = set(plan.segments)
        todo: dict[str, set[str]] = defaultdict(set)
        merged_away: dict[str, set[str]] = defaultdict(set)  # survivor → ids merged into it
        for item in changes:
            change = Change(item.kind, item.name)
            if item.kind == ChangeKind.MERGE and item.name:
                merged_away[item.contact_id].add(item.name)
            todo[item.contact_id] |= {s for s in everything if can_affect(plan.refs[s], change)}
        for timer in timers:
            todo[timer.contact_id].add(timer.segment_id)
        gone = self._follow_merges(conn, workspace_id, todo, merged_away, everything)
        store.lock_contacts(conn, workspace_id, [*todo, *gone])
        store.lock_segments(conn, workspace_id, everything, shared=True)
        needed = set().union(*todo.values()) if todo else set()
        views = load_views(conn, workspace_id, todo, plan.needs(needed))
        gone |= set(todo) - set(views)
        if gone:
            # ids that no longer exist (merged away or erased) leave every segment, without activities:
            # a survivor is evaluated below and enters what it belongs to
            store.close_contacts(conn, workspace_id, sorted(gone), now)
            queue.delete_contact_timers(conn, workspace_id, sorted(gone))
        reason = "live" if changes else "time"
        writer = MembershipWriter(workspace_id, now, reason, {s.id: s.name for s in plan.segments.values()})
        for contact_id in sorted(views):
            evaluate_contact(views[contact_id], todo[contact_id], plan, now, writer)
        stats = WorkerStats(
            contacts=len(views),
            evaluated=len(writer.timers),
            entered=len(writer.entered),
            exited=len(writer.exited),
        )
        writer.flush(conn)
        return stats

    @staticmethod
    def _follow_merges(
        conn: Connection,
        workspace_id: str,
        todo: dict[str, set[str]],
        merged_away: dict[str, set[str]],
        everything: set[str],
    ) -> set[str]:
        """Move work for contacts that were merged away to their survivor (re-evaluated in full); returns
        every id that no longer exists as itself."""
        gone = {merged for group in merged_away.values() for merged in group}
        survivors = merged_into(conn, workspace_id, todo)
        for merged, into in survivors.items():
            todo.pop(merged, None)
            todo[into] = set(everything)
            gone.add(merged)
        for survivor in merged_away:
            todo[survivor] = set(everything)
        return gone
