"""The journey worker: starts runs when their trigger fires and steps runs when their timer comes due
or something they wait for happens.

Each batch, in one write transaction: claim inbox rows (contact changes the audience worker passed on,
enrolments) and due runs; per workspace, load each contact's view once; for every happening, start
the journeys it triggers (entry condition, re-entry policy, one live run per contact and correlation
key) and step the contact's live runs (`EventSeen`, `ContactChanged`); step due runs (`Due`). Every
step's effects, new state and trace lines are written in that transaction; a run whose effects fail
is rolled back to a savepoint and marked failed with the reason, never blocking the others.
Webhook calls happen outside any transaction (`_calls`), under a lease on the run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection

from nurture.domain.conditions.references import References
from nurture.domain.contact_view import ContactView, TrackedEvent
from nurture.domain.journeys.entry import Happening, HappeningKind, may_enter, triggered
from nurture.domain.journeys.nodes import CallWebhook
from nurture.domain.journeys.runs import (
    ContactChanged,
    Due,
    EventSeen,
    Input,
    Logged,
    RunState,
    RunStatus,
    Start,
    WebhookAnswered,
    WebhookCall,
)
from nurture.domain.journeys.step import Definition, Stepped, correlation_of, step
from nurture.services.background import PollingWorker
from nurture.services.clock import Clock
from nurture.services.journeys import schedules
from nurture.services.journeys.active import ActiveJourneys
from nurture.services.journeys.effects import EffectFailed, Effects
from nurture.services.journeys.inbox import JOURNEYS_CHANNEL
from nurture.services.outbox import NewMessage, enqueue
from nurture.store import contacts as contact_store
from nurture.store import events as event_store
from nurture.store import journeys as store
from nurture.store.contact_views import load_views
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.journeys import InboxItem, RunRow

log = structlog.get_logger("nurture.journeys")

BATCH = 200
POLL_SECONDS = 0.2
CALL_LEASE_SLACK = timedelta(seconds=30)
CALL_ATTEMPTS = 5  # a webhook call down or busy is tried this often, 30 s · 4^n apart, then the run fails
CALL_BACKOFF = timedelta(seconds=30)


@dataclass
class JourneyStats:
    happenings: int = 0
    due: int = 0
    started: int = 0
    stepped: int = 0
    failed: int = 0
    sent: int = 0
    calls: int = 0
    scheduled: int = 0  # enrolments queued by date timers and schedules

    @property
    def idle(self) -> bool:
        return not (self.happenings or self.due or self.calls or self.scheduled)


Caller = Callable[[WebhookCall, dict[str, Any]], WebhookAnswered]


class JourneyWorker(PollingWorker):
    name = "journeys"
    channel = JOURNEYS_CHANNEL

    def __init__(
        self,
        db: Database,
        clock: Clock,
        journeys: ActiveJourneys,
        *,
        caller: Caller | None = None,
        on_sent: Callable[[], None] | None = None,
        batch: int = BATCH,
        poll: float = POLL_SECONDS,
    ) -> None:
        super().__init__(poll, db.url)
        self.db = db
        self.clock = clock
        self.journeys = journeys
        self.caller = caller
        self.on_sent = on_sent
        self.batch = batch
        self._full = False  # the last batch claimed as many as it could

    def run_once(self) -> JourneyStats:
        """Everything due now, until idle (tests, `nurture worker --once`)."""
        total = JourneyStats()
        while True:
            stats = self.step()
            for name in total.__dataclass_fields__:
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            if stats.idle:
                return total

    def step(self) -> JourneyStats:
        now = self.clock.now()
        stats = JourneyStats()
        if not self._full:  # after a full batch there is more to do: no need to look first
            with self.db.read() as conn:
                idle = not store.has_inbox(conn) and not store.has_due_runs(conn, now)
                if idle and not store.has_due_timers(conn, now):
                    return stats
        stats.calls = self._calls(now)
        with self.db.write() as conn:
            stats.scheduled = schedules.fire_due(conn, self.journeys, now, self.batch)
            items = store.claim_inbox(conn, self.batch)
            due = store.claim_due_runs(conn, now, self.batch, RunStatus.WAITING)
            by_workspace: dict[str, tuple[list[InboxItem], list[RunRow]]] = defaultdict(lambda: ([], []))
            for item in items:
                by_workspace[item.workspace_id][0].append(item)
            for run in due:
                by_workspace[run.state.workspace_id][1].append(run)
            for workspace_id in sorted(by_workspace):
                ws_items, ws_due = by_workspace[workspace_id]
                batch = _Batch(self, conn, workspace_id, now, stats)
                batch.run(ws_items, ws_due)
                batch.flush()
            store.delete_inbox(conn, items)
        stats.happenings, stats.due = len(items), len(due)
        self._full = self.batch in (len(items), len(due))
        if stats.sent and self.on_sent is not None:
            self.on_sent()
        return stats

    # ---- webhook calls, outside any transaction ----

    def _calls(self, now: datetime) -> int:
        with self.db.write() as conn:
            claimed = store.claim_due_runs(conn, now, self.batch, RunStatus.CALLING)
            calls: list[tuple[RunRow, WebhookCall]] = []
            for run in claimed:
                definition = self.journeys.definition(
                    conn, run.state.workspace_id, run.journey_id, run.version
                )
                call = _pending_call(definition, run)
                if call is not None:
                    calls.append((run, call))
            longest = max((c.timeout_seconds for _, c in calls), default=0.0)
            store.lease_calls(
                conn, [r for r, _ in calls], now + timedelta(seconds=longest) + CALL_LEASE_SLACK
            )
        if not calls:
            return 0
        answers = []
        for run, call in calls:
            if self.caller is None:
                answers.append(
                    WebhookAnswered(None, error="no HTTP client is configured for journey webhooks")
                )
            else:
                answers.append(self.caller(call, run.state.context))
        with self.db.write() as conn:
            stats = JourneyStats()
            answered = sorted(zip(calls, answers, strict=True), key=lambda pair: pair[0][0].state.contact_id)
            for (run, call), answer in answered:  # contacts in id order, as every writer takes them
                fresh = store.live_runs(conn, run.state.workspace_id, [run.state.contact_id])
                current = next((r for r in fresh if r.state.run_id == run.state.run_id), None)
                if current is None or current.state.status is not RunStatus.CALLING:
                    continue  # exited meanwhile, or another worker got there first
                batch = _Batch(self, conn, run.state.workspace_id, self.clock.now(), stats)
                if _transient(answer) and current.attempts + 1 < CALL_ATTEMPTS:
                    batch.retry_call(current, answer)  # down or busy: again later, with backoff
                elif _transient(answer):
                    why = f"webhook {call.url} failed {CALL_ATTEMPTS} times: {_said(answer)}"
                    batch.fail(current, call.node, why)
                else:
                    batch.step_runs([current], answer)
                batch.flush()
        return len(calls)


def _still_due(run: RunRow, now: datetime) -> bool:
    state = run.state
    return state.status is RunStatus.WAITING and state.wake_at is not None and state.wake_at <= now


def _transient(answer: WebhookAnswered) -> bool:
    """No answer, 429 or 5xx: worth trying again; any other answer is the run's to branch on."""
    return answer.status is None or answer.status == 429 or answer.status >= 500


def _said(answer: WebhookAnswered) -> str:
    return f"answered {answer.status}" if answer.status is not None else (answer.error or "no answer")


def _pending_call(definition: Definition | None, run: RunRow) -> WebhookCall | None:
    """The call a calling run waits for, rebuilt from its node (the step that made it is past)."""
    if definition is None or run.state.node is None:
        return None
    node = definition.journey.node(run.state.node)
    if not isinstance(node, CallWebhook):
        return None
    visit = run.state.visits.get(node.id, 1)
    return WebhookCall(
        node.id,
        node.url,
        node.method.value,
        dict(node.headers),
        node.body,
        node.timeout.total_seconds(),
        f"{run.state.run_id}:{node.id}:{visit}",
    )


class _Batch:
    """One workspace's share of a batch."""

    def __init__(
        self, worker: JourneyWorker, conn: Connection, workspace_id: str, now: datetime, stats: JourneyStats
    ) -> None:
        self.worker = worker
        self.conn = conn
        self.workspace_id = workspace_id
        self.now = now
        self.stats = stats
        self.active = worker.journeys.active(conn, workspace_id)
        self.views: dict[str, ContactView] = {}
        # written once at the end of the batch: outbox rows, trace lines, run states
        self.templates: dict[str, tuple[str, str, str] | None] = {}
        self.messages: list[NewMessage] = []
        self.trace: list[dict[str, Any]] = []
        self.saved: dict[str, RunRow] = {}
        self.entries: dict[str, dict[str, datetime]] = {}  # journey → contact → last entry
        self.enrolling: dict[str, Definition | None] = {}  # enrolments' journeys, by id or name
        # contacts with one happening in this batch: their new runs are inserted together, then stepped
        self.alone: set[str] = set()
        self.live: dict[str, list[RunRow]] = defaultdict(list)  # the live runs of its contacts
        self.entering: list[tuple[Definition, RunRow, TrackedEvent | None, list[RunRow]]] = []

    def flush(self) -> None:
        """Write what the batch decided: its messages, its runs' trace lines and states."""
        if self.messages:
            self.stats.sent += enqueue(self.conn, self.workspace_id, self.messages, self.now).new
        store.insert_steps(self.conn, self.trace)
        store.save_runs(self.conn, self.workspace_id, list(self.saved.values()), self.now)
        self.messages, self.trace, self.saved = [], [], {}

    def run(self, items: Sequence[InboxItem], due: Sequence[RunRow]) -> None:
        contacts = {i.contact_id for i in items} | {r.state.contact_id for r in due}
        # the steps below may write these contacts in any order; taking them now, in id order (as
        # ingest does), means this batch and a concurrent ingest never wait for each other in a cycle
        contact_store.lock_in_order(self.conn, self.workspace_id, contacts)
        self._load(contacts)
        events = event_store.tracked_by_ids(
            self.conn, self.workspace_id, [i.event_id for i in items if i.event_id]
        )
        live = self.live
        for run in store.live_runs(self.conn, self.workspace_id, sorted({i.contact_id for i in items})):
            live[run.state.contact_id].append(run)
        changed: dict[str, set[str]] = defaultdict(set)
        for item in items:
            if item.kind == HappeningKind.CHANGE.value and item.name:
                changed[item.contact_id].add(item.name)
        if changed:
            schedules.fields_changed(self.conn, self.workspace_id, self.active.definitions, changed, self.now)
        happenings = Counter(i.contact_id for i in items)
        self.alone = {contact_id for contact_id, n in happenings.items() if n == 1}
        for item in sorted(items, key=lambda i: (i.contact_id, i.created_at, i.id)):
            event = events.get(item.event_id) if item.event_id else None
            if item.kind == HappeningKind.EVENT.value and event is None:
                continue  # erased meanwhile
            happening = Happening(HappeningKind(item.kind), item.name, event, item.data)
            self._happened(item.contact_id, happening, live[item.contact_id])
        self._enter_together()
        # a due run its contact's happenings stepped already is taken as it is now: still waiting
        # and due (the happening did not concern it), or not (it moved on; its timer is past)
        stepped = {r.state.run_id: r for runs in live.values() for r in runs}
        current = [stepped.get(r.state.run_id, r) for r in due]
        self.step_runs([r for r in current if _still_due(r, self.now)], Due())

    def _load(self, contacts: set[str]) -> None:
        refs = References()
        plan = self.active.plan
        for name in (
            "event_names",
            "fields",
            "segment_ids",
            "list_ids",
            "tags",
            "score_models",
            "subscription_channels",
        ):
            getattr(refs, name).update(getattr(plan.refs, name))
            getattr(refs, name).update(getattr(plan.standing, name))
        refs.subscription_channels |= {"email", "sms"}
        refs.message_events = plan.refs.message_events or plan.standing.message_events
        refs.account_fields = plan.refs.account_fields | plan.standing.account_fields
        self.views.update(load_views(self.conn, self.workspace_id, contacts, refs))

    def _happened(self, contact_id: str, happening: Happening, live: list[RunRow]) -> None:
        view = self.views.get(contact_id)
        if view is None:
            return
        # runs already under way react first, so a goal event does not also re-enter them
        if happening.event is not None:
            self.step_runs(live, EventSeen(happening.event))
        elif happening.kind is not HappeningKind.ENROLL:
            self.step_runs(live, ContactChanged())
        for definition in self._candidates(happening):
            if triggered(definition.journey, definition.journey_id, happening, view, self.now):
                run = self._enter(definition, view, happening.event)
                if run is not None:
                    live.append(run)

    def _candidates(self, happening: Happening) -> list[Definition]:
        if happening.kind is HappeningKind.ENROLL and happening.name is not None:
            if happening.name not in self.enrolling:  # one lookup per journey and batch
                row = store.find_journey(self.conn, self.workspace_id, happening.name)
                found = None
                if row is not None and row.status == "active":
                    found = self.worker.journeys.definition(self.conn, self.workspace_id, row.id, row.version)
                self.enrolling[happening.name] = found
            target = self.enrolling[happening.name]
            return [target] if target is not None else []
        return self.active.definitions

    def _enter(self, definition: Definition, view: ContactView, event: TrackedEvent | None) -> RunRow | None:
        contact_id = view.contact.id
        last = self._last_entries(definition.journey_id).get(contact_id)
        refused = may_enter(definition.journey, view, last, self.now)
        if refused is not None:
            log.debug("entry refused", journey=definition.journey_id, contact=contact_id, reason=refused)
            return None
        state = RunState(
            run_id=new_id(),
            workspace_id=self.workspace_id,
            contact_id=contact_id,
            entered_at=self.now,
            node=definition.journey.nodes[0].id,
            correlation=correlation_of(definition.journey, event),
        )
        run = RunRow(state, definition.journey_id, definition.version, 0, 0, None)
        if contact_id in self.alone:  # nothing else happens to the contact in this batch
            self.entering.append((definition, run, event, self.live[contact_id]))
            return None
        if not store.insert_run(self.conn, self.workspace_id, run, self.now):
            return None  # a live run for this contact (and correlation key) exists
        self._last_entries(definition.journey_id)[contact_id] = self.now
        self.stats.started += 1
        return self._advance(definition, run, Start(event))

    def _enter_together(self) -> None:
        """Insert the runs of contacts that had one happening in the batch with one statement, then
        take each written one's first step; a run the partial unique index refuses (a live run for
        the contact and correlation key exists, maybe entered by another worker) is not stepped."""
        if not self.entering:
            return
        written = store.insert_runs(self.conn, self.workspace_id, [e[1] for e in self.entering], self.now)
        for definition, run, event, live in self.entering:
            if run.state.run_id not in written:
                continue
            self._last_entries(definition.journey_id)[run.state.contact_id] = self.now
            self.stats.started += 1
            live.append(self._advance(definition, run, Start(event)))
        self.entering = []

    def step_runs(self, runs: Sequence[RunRow], given: Input) -> None:
        for index, run in enumerate(list(runs)):
            if run.state.ended:
                continue
            definition = self.worker.journeys.definition(
                self.conn, self.workspace_id, run.journey_id, run.version
            )
            if definition is None:
                continue
            stepped = self._advance(definition, run, given)
            if isinstance(runs, list):
                runs[index] = stepped

    def _advance(self, definition: Definition, run: RunRow, given: Input) -> RunRow:
        view = self.views.get(run.state.contact_id)
        if view is None:
            loaded = load_views(self.conn, self.workspace_id, [run.state.contact_id])
            view = loaded.get(run.state.contact_id)
            if view is None:
                state = replace(
                    run.state, status=RunStatus.EXITED, wake_at=None, reason="the contact no longer exists"
                )
                return self._save(run, Stepped(state, [Logged(self.now, None, "exited", state.reason or "")]))
            self.views[run.state.contact_id] = view
        result = step(definition, run.state, given, view, self.now)
        if not result.commands and result.state == run.state:
            return run
        self.stats.stepped += 1
        effects = Effects(
            self.conn, self.workspace_id, definition.journey_id, definition.journey, self.now, self.templates
        )
        # only steps that write more than outbox rows need a savepoint to undo them on failure
        savepoint = self.conn.begin_nested() if Effects.writes(result.commands) else None
        try:
            effects.apply(result.state, result.commands)
        except EffectFailed as failed:
            if savepoint is not None:
                savepoint.rollback()
            self.stats.failed += 1
            state = replace(result.state, status=RunStatus.FAILED, wake_at=None, reason=failed.reason)
            trace = [c for c in result.commands if isinstance(c, Logged)]
            trace.append(Logged(self.now, failed.node, "failed", failed.reason))
            return self._save(run, Stepped(state, list(trace)))
        if savepoint is not None:
            savepoint.commit()
        self.messages.extend(effects.messages)
        return self._save(run, result)

    def retry_call(self, run: RunRow, answer: WebhookAnswered) -> None:
        delay = CALL_BACKOFF * 4**run.attempts
        state = replace(run.state, wake_at=self.now + delay)
        line = Logged(self.now, state.node, "retry", f"webhook {_said(answer)}; trying again in {delay}")
        saved = self._save(run, Stepped(state, [line]))
        self.saved[state.run_id] = replace(saved, attempts=run.attempts + 1)

    def fail(self, run: RunRow, node: str, why: str) -> None:
        state = replace(run.state, status=RunStatus.FAILED, wake_at=None, reason=why)
        self.stats.failed += 1
        self._save(run, Stepped(state, [Logged(self.now, node, "failed", why)]))

    def _last_entries(self, journey_id: str) -> dict[str, datetime]:
        """When each contact of the batch last entered the journey (one query per journey and batch;
        entries made in this batch are added as they happen)."""
        if journey_id not in self.entries:
            self.entries[journey_id] = store.last_entries(
                self.conn, self.workspace_id, journey_id, sorted(self.views)
            )
        return self.entries[journey_id]

    def _save(self, run: RunRow, result: Stepped) -> RunRow:
        lines = [c for c in result.commands if isinstance(c, Logged)]
        self.trace.extend(
            {
                "workspace_id": self.workspace_id,
                "run_id": run.state.run_id,
                "seq": run.steps + n + 1,
                "at": line.at,
                "node": line.node,
                "action": line.action,
                "reason": line.reason,
                "data": line.data,
            }
            for n, line in enumerate(lines)
        )
        state = result.state
        if state.status is RunStatus.CALLING and (state.wake_at is None or state.wake_at < self.now):
            state = replace(state, wake_at=self.now)  # a new call: due at once
        attempts = run.attempts if state.status is RunStatus.CALLING else 0  # failed tries of the call
        ended_at = self.now if state.ended else None
        saved = RunRow(state, run.journey_id, run.version, run.steps + len(lines), attempts, ended_at)
        self.saved[state.run_id] = saved
        return saved
