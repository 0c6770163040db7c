"""The audience worker: keeps segment memberships and lead scores current as contacts change and as
time passes.

Each batch, in one write transaction: recompute scores whose decay is due; claim queued changes and
due timers and group them per contact; score new events and changed profiles in the workspace's scoring
models (score changes are queued in turn); load each contact's view once; re-evaluate only the segments
the changes can affect (and those that refer to a segment whose membership changed); write entries,
exits, activities and next timers; and delete what was claimed. A failed batch rolls back whole and is
simply done again: answers are computed from the stored state, so a retry writes the same result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from nurture.domain.activities import ChangeKind
from nurture.domain.audience import Change, can_affect
from nurture.domain.errors import Conflict, NotFound
from nurture.services.background import PollingWorker
from nurture.services.clock import Clock
from nurture.services.journeys.active import ActiveJourneys
from nurture.services.journeys.inbox import note as note_for_journeys
from nurture.services.memberships import MembershipWriter, SegmentPlan, evaluate_contact
from nurture.services.scoring import decay_due, rescore_conditions, score_events, workspace_models
from nurture.services.segments import SegmentService
from nurture.store import audience_queue as queue
from nurture.store import events as event_store
from nurture.store import scoring as scoring_store
from nurture.store import segments as store
from nurture.store.contact_views import load_views, merged_into
from nurture.store.db import Database
from nurture.store.wakeups import AUDIENCE_CHANNEL

BATCH = 500
POLL_SECONDS = 0.15
# Events of a queued change are found by their arrival: a change row is written in the transaction
# that stored its events, with that transaction's time; requests grouped into it arrived a little
# earlier. Scoring dedupes by event, so looking further back costs reads, never double points.
ARRIVAL_SLACK = timedelta(minutes=10)


@dataclass
class WorkerStats:
    changes: int = 0
    timers: int = 0
    contacts: int = 0
    evaluated: int = 0  # (segment, contact) answers computed
    entered: int = 0
    exited: int = 0
    recomputed: int = 0
    scored: int = 0  # contacts whose events or profile were scored
    decayed: int = 0  # scores recomputed because their decay was due
    noted: int = 0  # changes passed on to the journey worker

    def add(self, other: WorkerStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def idle(self) -> bool:
        return not (self.changes or self.timers or self.recomputed or self.decayed)


class AudienceWorker(PollingWorker):
    name = "audience"
    channel = AUDIENCE_CHANNEL

    def __init__(
        self,
        db: Database,
        clock: Clock,
        segments: SegmentService,
        *,
        batch: int = BATCH,
        poll: float = POLL_SECONDS,
        journeys: ActiveJourneys | None = None,
        on_journeys: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(poll, db.url)
        self.journeys = journeys
        self.on_journeys = on_journeys
        self.db = db
        self.clock = clock
        self.segments = segments
        self.batch = batch

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
            try:
                result = self.segments.recompute(workspace_id, segment_id, only_if_due=True)
            except (NotFound, Conflict):
                continue  # deleted or archived meanwhile
            stats.recomputed += 1
            stats.entered += result.entered
            stats.exited += result.exited
        now = self.clock.now()
        with self.db.read() as conn:
            if not queue.has_work(conn, now) and not scoring_store.any_due(conn, now):
                return stats  # an idle poll never takes the write lock
        with self.db.write() as conn:
            stats.decayed = decay_due(conn, now, self.batch)
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
                plan = SegmentPlan.of(store.all_segments(conn, workspace_id, active_only=True))
                if not store.try_share_segments(conn, workspace_id, plan.segments):
                    continue  # a recompute holds a segment: this work stays queued for the next batch
                stats.add(self._workspace(conn, workspace_id, plan, ws_changes, ws_timers, now))
        if stats.noted and self.on_journeys is not None:
            self.on_journeys()  # committed: the journey worker can see them now
        return stats

    # one workspace of a batch

    def _workspace(
        self,
        conn: Connection,
        workspace_id: str,
        plan: SegmentPlan,
        changes: list[queue.QueuedChange],
        timers: list[queue.DueTimer],
        now: datetime,
    ) -> WorkerStats:
        """Evaluate one workspace's share of the batch and delete the rows it dealt with. Work for a
        contact another transaction holds stays queued: workers never wait for each other."""
        # ids merged away since their rows were queued: the work is the survivor's
        owners = merged_into(
            conn, workspace_id, {c.contact_id for c in changes} | {t.contact_id for t in timers}
        )

        def owner(contact_id: str) -> str:
            return owners.get(contact_id, contact_id)

        merge_names = {c.name for c in changes if c.kind == ChangeKind.MERGE and c.name}
        wanted = {owner(c.contact_id) for c in changes} | {owner(t.contact_id) for t in timers}
        locked = store.try_lock_contacts(conn, workspace_id, wanted | set(owners) | merge_names)
        changes = [
            c
            for c in changes
            if owner(c.contact_id) in locked and (c.kind != ChangeKind.MERGE or c.name in locked)
        ]
        timers = [t for t in timers if owner(t.contact_id) in locked]
        queue.delete_timers(conn, timers)  # before evaluating, which sets the next ones
        scored = self._score(conn, workspace_id, changes, owner, now)
        everything = set(plan.segments)
        todo: dict[str, set[str]] = defaultdict(set)
        for item in changes:
            if item.kind == ChangeKind.MERGE or item.contact_id in owners:
                todo[owner(item.contact_id)] = set(everything)  # what the merged profile held is new here
            else:
                change = Change(item.kind, item.name)
                todo[item.contact_id] |= {s for s in everything if can_affect(plan.refs[s], change)}
        for timer in timers:
            if timer.contact_id in owners:
                todo[owner(timer.contact_id)] = set(everything)
            else:
                todo[timer.contact_id].add(timer.segment_id)
        todo = {contact_id: wanted for contact_id, wanted in todo.items() if wanted}  # nothing reads it
        needed = set().union(*todo.values()) if todo else set()
        views = load_views(conn, workspace_id, todo, plan.needs(needed))
        gone = {m for m in owners if m in locked} | {
            c.name for c in changes if c.kind == ChangeKind.MERGE and c.name
        }
        gone |= set(todo) - set(views)
        if gone:
            # ids that no longer exist (merged away or erased) leave every segment, without activities:
            # a survivor is evaluated below and enters what it belongs to
            store.close_contacts(conn, workspace_id, sorted(gone), now)
            queue.forget_contacts(conn, workspace_id, sorted(gone), changes=False)
        reason = "live" if changes else "time"
        writer = MembershipWriter(workspace_id, now, reason, {s.id: s.name for s in plan.segments.values()})
        for contact_id in sorted(views):
            evaluate_contact(views[contact_id], todo[contact_id], plan, now, writer)
        stats = WorkerStats(
            changes=len(changes),
            timers=len(timers),
            contacts=len(views),
            evaluated=len(writer.timers),
            entered=len(writer.entered),
            exited=len(writer.exited),
            scored=scored,
        )
        entered, exited = list(writer.entered), list(writer.exited)  # the flush empties the writer
        writer.flush(conn)
        if self.journeys is not None:
            stats.noted = note_for_journeys(
                conn, workspace_id, self.journeys, changes, entered, exited, now, owner
            )
        queue.delete_changes(conn, changes)
        return stats

    @staticmethod
    def _score(
        conn: Connection,
        workspace_id: str,
        changes: list[queue.QueuedChange],
        owner: Callable[[str], str],
        now: datetime,
    ) -> int:
        """Score the contacts' new events, and re-evaluate condition rules after other changes, in
        every scoring model of the workspace; score changes queue SCORE changes for the segments that
        read them. Returns how many contacts were scored."""
        models = workspace_models(conn, workspace_id) if changes else []
        if not models:
            return 0
        arrived: dict[str, datetime] = {}
        touched: set[str] = set()
        for change in changes:
            contact_id = owner(change.contact_id)
            if change.kind == ChangeKind.EVENT:
                first = arrived.get(contact_id, change.created_at)
                arrived[contact_id] = min(first, change.created_at)
            else:
                touched.add(contact_id)
        if arrived:
            since = min(arrived.values()) - ARRIVAL_SLACK
            found = event_store.received_since(conn, workspace_id, arrived, since)
            for contact_id, first in sorted(arrived.items()):
                new = [e for e in found.get(contact_id, []) if e.received_at >= first - ARRIVAL_SLACK]
                score_events(conn, workspace_id, contact_id, new, now, models)
        for contact_id in sorted(touched):
            rescore_conditions(conn, workspace_id, contact_id, now, models)
        return len(arrived.keys() | touched)
