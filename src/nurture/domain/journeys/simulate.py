"""Simulation: a journey run on a virtual clock over a stream of what contacts did, with no side
effects at all. The same `step` as production decides every move; this module only plays the world:
it keeps each contact's view current as events arrive, starts runs when the trigger fires, wakes
runs when their timers come due, and records what would have been sent and when.

Webhook calls are not made (they answer "not called in a simulation"), messages are never opened,
and contacts see no other journeys: say so when you read a simulation.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import ContactView, TrackedEvent
from nurture.domain.contacts import Contact
from nurture.domain.journeys.entry import Happening, HappeningKind, may_enter, triggered
from nurture.domain.journeys.runs import (
    AddScore,
    Command,
    ContactChanged,
    Converted,
    Due,
    EventSeen,
    Input,
    Logged,
    RunState,
    SendMessage,
    Start,
    UpdateProfile,
    WebhookAnswered,
    WebhookCall,
)
from nurture.domain.journeys.step import Definition, correlation_of, step
from nurture.domain.messages.policies import cap_decision, quiet_until
from nurture.domain.messages.settings import MessagingSettings
from nurture.domain.profile import TraitUpdate, apply_attributes, parse_traits

DEFAULT_HORIZON = timedelta(days=30)


@dataclass(frozen=True)
class SimEvent:
    """One thing a contact did: `kind` identify (traits) or track (name, properties)."""

    contact: str  # the contact's key in the stream (user id, anonymous id or stored contact id)
    kind: str
    timestamp: datetime
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SimStep:
    at: datetime
    run: int  # which of the contact's runs (1, 2, …)
    node: str | None
    action: str
    reason: str
    channel: str | None = None
    template: str | None = None


@dataclass(frozen=True)
class SimMessage:
    at: datetime
    node: str
    channel: str
    template: str | None
    held_until: datetime | None = None  # moved by a policy (quiet hours)


@dataclass
class SimContact:
    key: str
    steps: list[SimStep] = field(default_factory=list)
    messages: list[SimMessage] = field(default_factory=list)
    runs: int = 0


@dataclass
class SimResult:
    contacts: dict[str, SimContact]
    started: datetime | None
    ended: datetime | None
    entered: int = 0
    completed: int = 0
    exited: int = 0
    failed: int = 0
    converted: int = 0
    still_waiting: int = 0
    funnel: dict[str, int] = field(default_factory=dict)  # node → runs that reached it
    messages_per_contact: dict[int, int] = field(default_factory=dict)  # messages → contacts
    stopped: dict[str, int] = field(default_factory=dict)  # policy reason → sends stopped


# A send policy: (contact view, channel, category, topic, when) → (send at, or None: stopped; reason).
Policy = Callable[[ContactView, str, str, str | None, datetime], tuple[datetime | None, str | None]]


def simulate(
    definition: Definition,
    events: Iterable[SimEvent],
    *,
    start_views: dict[str, ContactView] | None = None,
    horizon: timedelta = DEFAULT_HORIZON,
    policy: Policy | None = None,
) -> SimResult:
    return _World(definition, start_views or {}, policy).run(
        sorted(events, key=lambda e: e.timestamp), horizon
    )


class _World:
    def __init__(self, definition: Definition, views: dict[str, ContactView], policy: Policy | None) -> None:
        self.d = definition
        self.views = dict(views)
        self.policy = policy
        self.contacts: dict[str, SimContact] = {}
        self.runs: dict[str, tuple[str, int, RunState]] = {}  # run id → (contact, number, state)
        self.last_entry: dict[str, datetime] = {}
        self.timers: list[tuple[datetime, int, str]] = []
        self.sequence = 0
        self.reached: dict[str, set[str]] = defaultdict(set)
        self.converted: set[str] = set()
        self.stopped: Counter[str] = Counter()

    def run(self, events: Sequence[SimEvent], horizon: timedelta) -> SimResult:
        if not events:
            return SimResult({}, None, None)
        until = events[-1].timestamp + horizon
        for event in events:
            self._timers_until(event.timestamp)
            self._happen(event)
        self._timers_until(until)
        return self._result(events[0].timestamp, until)

    # ---- the world ----

    def _view(self, key: str, at: datetime) -> ContactView:
        found = self.views.get(key)
        if found is None:
            contact = Contact(key, None, None, None, None, None, None, {}, at, at, None, user_id=key)
            found = self.views[key] = ContactView(contact=contact)
        return found

    def _happen(self, event: SimEvent) -> None:
        view = self._view(event.contact, event.timestamp)
        happenings: list[Happening] = []
        if event.kind == "identify" and event.traits:
            update = parse_traits(event.traits)
            view = self.views[event.contact] = replace(view, contact=_with_traits(view.contact, update))
            for name in [*update.core, *(f"attributes.{k}" for k in update.attributes)]:
                happenings.append(Happening(HappeningKind.CHANGE, name))
        tracked: TrackedEvent | None = None
        if event.kind == "track" and event.name:
            tracked = TrackedEvent(event.name, event.properties, event.timestamp)
            view = self.views[event.contact] = replace(view, events=[*view.events, tracked])
            happenings.append(Happening(HappeningKind.EVENT, event.name, tracked))
        for happening in happenings:
            for run_id in self._live(event.contact):
                self._step(run_id, EventSeen(tracked) if tracked else ContactChanged(), event.timestamp)
            if triggered(
                self.d.journey, self.d.journey_id, happening, self.views[event.contact], event.timestamp
            ):
                self._enter(event.contact, tracked, event.timestamp)

    def _live(self, key: str) -> list[str]:
        return [
            run_id for run_id, (contact, _, state) in self.runs.items() if contact == key and not state.ended
        ]

    def _enter(self, key: str, event: TrackedEvent | None, now: datetime) -> None:
        view = self.views[key]
        if may_enter(self.d.journey, view, self.last_entry.get(key), now) is not None:
            return
        correlation = correlation_of(self.d.journey, event)
        for run_id in self._live(key):
            if self.runs[run_id][2].correlation == correlation:
                return  # one live run per contact and correlation key
        sim = self.contacts.setdefault(key, SimContact(key))
        sim.runs += 1
        self.sequence += 1
        run_id = f"sim-{self.sequence}"
        state = RunState(run_id, "simulation", key, now, self.d.journey.nodes[0].id, correlation=correlation)
        self.runs[run_id] = (key, sim.runs, state)
        self.last_entry[key] = now
        self._step(run_id, Start(event), now)

    def _timers_until(self, moment: datetime) -> None:
        while self.timers and self.timers[0][0] <= moment:
            at, _, run_id = heapq.heappop(self.timers)
            state = self.runs[run_id][2]
            if state.wake_at == at and not state.ended:
                self._step(run_id, Due(), at)

    def _step(self, run_id: str, given: Input, now: datetime) -> None:
        key, number, state = self.runs[run_id]
        result = step(self.d, state, given, self.views[key], now)
        state = result.state
        self.runs[run_id] = (key, number, state)
        self._apply(key, number, run_id, result.commands, now)
        if state.status.value == "calling":
            self._step(run_id, WebhookAnswered(None, error="not called in a simulation"), now)
            return
        if state.wake_at is not None and not state.ended:
            self.sequence += 1
            heapq.heappush(self.timers, (state.wake_at, self.sequence, run_id))

    def _apply(self, key: str, number: int, run_id: str, commands: Sequence[Command], now: datetime) -> None:
        sim = self.contacts.setdefault(key, SimContact(key))
        sends = {c.node: c for c in commands if isinstance(c, SendMessage)}
        for command in commands:
            if isinstance(command, Logged):
                send = sends.get(command.node or "") if command.action == "send" else None
                sim.steps.append(
                    SimStep(
                        command.at,
                        number,
                        command.node,
                        command.action,
                        command.reason,
                        send.channel if send else None,
                        send.template if send else None,
                    )
                )
                if command.node is not None:
                    self.reached[command.node].add(run_id)
            elif isinstance(command, SendMessage):
                self._send(sim, key, command, now)
            elif isinstance(command, UpdateProfile):
                self._update(key, command)
            elif isinstance(command, AddScore):
                view = self.views[key]
                scores = {
                    **view.scores,
                    command.model_id: view.scores.get(command.model_id, 0.0) + command.points,
                }
                self.views[key] = replace(view, scores=scores)
            elif isinstance(command, Converted):
                self.converted.add(run_id)
            elif isinstance(command, WebhookCall):
                continue

    def _send(self, sim: SimContact, key: str, command: SendMessage, now: datetime) -> None:
        held: datetime | None = None
        if self.policy is not None and command.channel != "webhook":
            category = self.d.journey.category.value
            when, reason = self.policy(self.views[key], command.channel, category, command.topic, now)
            if when is None:
                self.stopped[reason or "stopped"] += 1
                sim.steps.append(
                    SimStep(now, sim.runs, command.node, "not_sent", reason or "stopped by a policy")
                )
                return
            if when > now:
                held = when
                self.stopped[f"deferred: {reason}"] += 1
        sim.messages.append(SimMessage(now, command.node, command.channel, command.template, held))

    def _update(self, key: str, command: UpdateProfile) -> None:
        view = self.views[key]
        tags = (set(view.tags) | set(command.add_tags)) - set(command.remove_tags)
        lists = (set(view.list_ids) | set(command.add_to_lists)) - set(command.remove_from_lists)
        changes = {**command.set, **dict.fromkeys(command.unset)}
        contact = view.contact
        if changes:
            contact = _with_traits(contact, parse_traits(changes, path="set"))
        stage = command.lifecycle_stage or view.lifecycle_stage
        self.views[key] = replace(
            view, contact=contact, tags=frozenset(tags), list_ids=frozenset(lists), lifecycle_stage=stage
        )

    def _result(self, started: datetime, ended: datetime) -> SimResult:
        result = SimResult(self.contacts, started, ended)
        for _, _, state in self.runs.values():
            result.entered += 1
            status = state.status.value
            if status == "completed":
                result.completed += 1
            elif status == "exited":
                result.exited += 1
            elif status == "failed":
                result.failed += 1
            else:
                result.still_waiting += 1
        result.converted = len(self.converted)
        order = [node.id for node in self.d.journey.nodes]
        result.funnel = {node: len(self.reached.get(node, ())) for node in order}
        counts = Counter(len(c.messages) for c in self.contacts.values())
        result.messages_per_contact = dict(sorted(counts.items()))
        result.stopped = dict(self.stopped)
        return result


def _with_traits(contact: Contact, update: TraitUpdate) -> Contact:
    """A copy of the contact with the traits applied (a null unsets), as ingest would apply them."""
    changed = replace(contact, attributes=apply_attributes(contact.attributes, update.attributes))
    for name, value in update.core.items():
        if name in ("email", "phone", "first_name", "last_name", "timezone", "locale"):
            setattr(changed, name, value)
    return changed


def message_policy(settings: MessagingSettings) -> Policy:
    """The dispatcher's policies for a simulation, on the simulated contacts: consent for the channel
    and topic, the frequency cap (counting the simulation's own sends) and quiet hours in the
    contact's zone. Transactional messages pass, as they do in production."""
    sent: dict[str, list[datetime]] = defaultdict(list)

    def apply(
        view: ContactView, channel: str, category: str, topic: str | None, at: datetime
    ) -> tuple[datetime | None, str | None]:
        if category != "marketing":
            return at, None
        subscriptions = view.subscriptions
        if subscriptions.get((channel, None)) is SubscriptionStatus.UNSUBSCRIBED:
            return None, f"unsubscribed from {channel}"
        if topic and subscriptions.get((channel, topic)) is SubscriptionStatus.UNSUBSCRIBED:
            return None, f"unsubscribed from topic {topic!r}"
        when, reason = at, None
        recent = sent[view.contact.id]
        if settings.frequency_cap is not None:
            capped = cap_decision(recent, settings.frequency_cap, when)
            if capped is not None:
                if capped.until is None:
                    return None, "frequency cap"
                when, reason = capped.until, "frequency cap"
        if settings.quiet_hours is not None:
            until = quiet_until(when, view.contact.timezone, settings.quiet_hours)
            if until is not None:
                when, reason = until, "quiet hours"
        recent.append(when)
        return when, reason

    return apply
