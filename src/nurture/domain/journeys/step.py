"""The engine: one pure function, `step(definition, state, input, view, now)`.

It reads the journey, the run's state, what just happened and what is known about the contact (a
`ContactView`, fetched once by the caller), and returns the new state and the commands for the world
(send, update the contact, call a webhook, …) with a trace line for every decision. No I/O and no
clock: production, simulation and replay run the very same code, and explanations read its trace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from nurture.domain.conditions.matching import MISSING, passes
from nurture.domain.conditions.nodes import PropertyFilter, SubscriptionStatus
from nurture.domain.contact_view import ContactView, MessageEventKind, TrackedEvent
from nurture.domain.evaluate import contact_zone, evaluate, field_value, property_value
from nurture.domain.journeys.definition import Category, Journey
from nurture.domain.journeys.describe import describe, describe_outcome
from nurture.domain.journeys.graph import Graph
from nurture.domain.journeys.nodes import (
    Branch,
    CallWebhook,
    ChangeScore,
    Delay,
    Enroll,
    Exit,
    Goal,
    Node,
    Notify,
    RandomSplit,
    Send,
    Split,
    UpdateContact,
    WaitForEvent,
    WaitUntil,
)
from nurture.domain.journeys.runs import (
    AddScore,
    Command,
    ContactChanged,
    Converted,
    Due,
    EnrollIn,
    EventSeen,
    Input,
    Logged,
    NotifyTeam,
    RunState,
    RunStatus,
    SendMessage,
    Start,
    UpdateProfile,
    WebhookAnswered,
    WebhookCall,
)
from nurture.domain.journeys.triggers import EventTrigger
from nurture.domain.journeys.windows import next_allowed
from nurture.domain.messages.outbox import Source, send_id

MAX_NODES_PER_STEP = 200  # loops pass through a wait, so a step never needs this many


@dataclass(frozen=True)
class Definition:
    journey: Journey
    graph: Graph
    journey_id: str
    version: int


@dataclass(frozen=True)
class Stepped:
    state: RunState
    commands: list[Command]


def step(definition: Definition, state: RunState, event: Input, view: ContactView, now: datetime) -> Stepped:
    """Advance one run by one input. An ended run stays ended and asks for nothing."""
    run = _Run(definition, replace(state, context=dict(state.context), sends=dict(state.sends)), view, now)
    run.state.visits = dict(state.visits)
    if state.ended:
        return Stepped(state, [])
    run.handle(event)
    return Stepped(run.state, run.commands)


class _Run:
    def __init__(self, definition: Definition, state: RunState, view: ContactView, now: datetime) -> None:
        self.d = definition
        self.journey = definition.journey
        self.state = state
        self.view = view
        self.now = now
        self.commands: list[Command] = []

    # ---- inputs ----

    def handle(self, event: Input) -> None:
        if isinstance(event, Start):
            self._start(event)
        elif isinstance(event, EventSeen):
            if self._goal_event(event.event) or self._exit_event(event.event):
                return
            self._triggered_again(event.event)
            self._awaited(event.event)
        elif isinstance(event, Due):
            self._due()
        elif isinstance(event, WebhookAnswered):
            self._answered(event)
        elif isinstance(event, ContactChanged) and self._standing_exits():
            return
        if self.state.status is RunStatus.ACTIVE:
            self._advance()

    def _start(self, start: Start) -> None:
        if start.event is not None:
            self.state.context["event"] = _event_context(start.event)
        self.log(None, "entered", "trigger " + describe(self.journey.trigger))
        self.state.status = RunStatus.ACTIVE
        self._standing_exits()

    def _triggered_again(self, event: TrackedEvent) -> None:
        """The trigger's event again, for this run (its correlation key: the same cart): templates
        see the latest one, so a reminder lists the cart as it is now."""
        trigger = self.journey.trigger
        if not isinstance(trigger, EventTrigger) or event.name not in trigger.names or self.state.ended:
            return
        if "event" not in self.state.context or not self._matches(event, trigger.where, correlate=True):
            return
        self.state.context["event"] = _event_context(event)
        self.log(None, "event", f"{event.name} at {_when(event.timestamp)}: the run's event is now this one")

    def _due(self) -> None:
        if self.state.status is not RunStatus.WAITING or self.state.wake_at is None:
            return
        if self.state.wake_at > self.now:
            return
        node = self._current()
        self.state.wake_at = None
        if isinstance(node, WaitForEvent):
            self.log(node.id, "timed_out", f"no {_event_words(node.event, node.where)} within {node.timeout}")
            self._go(node, "timeout")
        else:
            self.log(node.id, "woke", "the wait is over")
            self._go(node, "next")
        self._standing_exits()

    def _awaited(self, event: TrackedEvent) -> None:
        if self.state.status is not RunStatus.WAITING:
            return
        node = self._current()
        if not isinstance(node, WaitForEvent) or event.name != node.event:
            return
        if not self._matches(event, node.where, node.match_correlation):
            return
        self.state.wake_at = None
        self.log(node.id, "event", f"{event.name} at {_when(event.timestamp)}")
        self._go(node, "matched")

    def _answered(self, answer: WebhookAnswered) -> None:
        if self.state.status is not RunStatus.CALLING:
            return
        node = self._current()
        assert isinstance(node, CallWebhook)
        response = {"status": answer.status, "body": answer.body, "error": answer.error}
        if node.save_as:
            self.state.context.setdefault("webhook", {})[node.save_as] = response
        outcome = f"answered {answer.status}" if answer.status is not None else f"failed: {answer.error}"
        self.log(node.id, "webhook", outcome)
        self.state.status = RunStatus.ACTIVE
        self._go(node, "next")

    # ---- journey-level rules ----

    def _goal_event(self, event: TrackedEvent) -> bool:
        goal = self.journey.goal
        if goal is None or goal.event is None or self.state.converted_at is not None:
            return False
        if event.name != goal.event or not self._matches(event, goal.where, correlate=True):
            return False
        if event.timestamp - self.state.entered_at > goal.within:
            return False
        return self._convert(f"{event.name} at {_when(event.timestamp)}", goal.exit_on_goal)

    def _exit_event(self, event: TrackedEvent) -> bool:
        for criterion in self.journey.exit:
            if criterion.event != event.name:
                continue
            if self._matches(event, criterion.where, criterion.match_correlation):
                self.end(RunStatus.EXITED, None, f"exit criterion: {event.name} at {_when(event.timestamp)}")
                return True
        return False

    def _standing_exits(self) -> bool:
        """Conditions that end a run whenever they hold: exit conditions, a condition goal, and for
        marketing journeys an unsubscribe from every channel the journey sends on."""
        goal = self.journey.goal
        if goal is not None and goal.condition is not None and self.state.converted_at is None:
            in_time = self.now - self.state.entered_at <= goal.within
            held = in_time and evaluate(goal.condition, self.view, self.now)
            if held and self._convert("goal condition holds: " + describe(goal.condition), goal.exit_on_goal):
                return True
        for criterion in self.journey.exit:
            if criterion.condition is not None and evaluate(criterion.condition, self.view, self.now):
                self.end(RunStatus.EXITED, None, "exit criterion holds: " + describe(criterion.condition))
                return True
        if self.journey.category is Category.MARKETING:
            channels = {n.channel.value for n in self.journey.nodes if isinstance(n, Send)} - {"webhook"}
            gone = [c for c in channels if _unsubscribed(self.view, c)]
            if channels and len(gone) == len(channels):
                self.end(RunStatus.EXITED, None, f"unsubscribed from {', '.join(sorted(gone))}")
                return True
        return False

    def _convert(self, why: str, exit_on_goal: bool) -> bool:
        self.state.converted_at = self.now
        self.commands.append(Converted(None))
        self.log(None, "converted", why)
        if exit_on_goal:
            self.end(RunStatus.EXITED, None, "goal reached")
            return True
        return False

    # ---- walking the graph ----

    def _advance(self) -> None:
        for _ in range(MAX_NODES_PER_STEP):
            if self.state.status is not RunStatus.ACTIVE:
                return
            if self.state.node is None:
                self.end(RunStatus.COMPLETED, None, "reached the end of its path")
                return
            self._run(self._current())
        self.end(RunStatus.FAILED, self.state.node, f"ran {MAX_NODES_PER_STEP} nodes without waiting")

    def _run(self, node: Node) -> None:
        visit = self.state.visits.get(node.id, 0) + 1
        self.state.visits[node.id] = visit
        key = f"{self.state.run_id}:{node.id}:{visit}"
        if isinstance(node, Delay):
            self._wait(node, self.now + node.duration, f"delay {node.duration}")
        elif isinstance(node, WaitUntil):
            self._wait_until(node)
        elif isinstance(node, WaitForEvent):
            self._wait(node, self.now + node.timeout, f"waiting for {_event_words(node.event, node.where)}")
        elif isinstance(node, Branch):
            self._branch(node)
        elif isinstance(node, Split):
            self._split(node)
        elif isinstance(node, RandomSplit):
            self._random(node)
        elif isinstance(node, Send):
            self._send(node, key)
        elif isinstance(node, UpdateContact):
            self.commands.append(
                UpdateProfile(
                    node.id,
                    dict(node.set),
                    list(node.unset),
                    list(node.add_tags),
                    list(node.remove_tags),
                    list(node.add_to_lists),
                    list(node.remove_from_lists),
                    node.lifecycle_stage,
                    list(node.unsubscribe),
                )
            )
            self.log(node.id, "updated", "contact updated")
            self._go(node, "next")
        elif isinstance(node, ChangeScore):
            self.commands.append(AddScore(node.id, node.model_id, node.points, node.reason, key))
            self.log(node.id, "scored", f"{node.points:+g} points on model {node.model_id}")
            self._go(node, "next")
        elif isinstance(node, CallWebhook):
            self.commands.append(
                WebhookCall(
                    node.id,
                    node.url,
                    node.method.value,
                    dict(node.headers),
                    node.body,
                    node.timeout.total_seconds(),
                    key,
                )
            )
            self.state.status = RunStatus.CALLING
            self.log(node.id, "calling", f"{node.method.value} {node.url}")
        elif isinstance(node, Notify):
            self.commands.append(
                NotifyTeam(node.id, node.owner, list(node.emails), node.slack_url, node.message, key)
            )
            self.log(node.id, "notified", "internal alert")
            self._go(node, "next")
        elif isinstance(node, Enroll):
            self.commands.append(EnrollIn(node.id, node.journey))
            self.log(node.id, "enrolled", f"into journey {node.journey!r}")
            self._go(node, "next")
        elif isinstance(node, Goal):
            if self.state.converted_at is None:
                self.state.converted_at = self.now
                self.commands.append(Converted(node.id))
            self.log(node.id, "converted", "reached the goal node")
            self._go(node, "next")
        elif isinstance(node, Exit):
            self.end(RunStatus.EXITED, node.id, "exit node")

    def _wait(self, node: Node, until: datetime, why: str) -> None:
        if until <= self.now:
            self.log(node.id, "passed", why + ": already due")
            self._go(node, "next" if not isinstance(node, WaitForEvent) else "timeout")
            return
        self.state.status = RunStatus.WAITING
        self.state.wake_at = until
        self.log(node.id, "waiting", f"{why}, until {_when(until)}")

    def _wait_until(self, node: WaitUntil) -> None:
        if node.at is not None:
            self._wait(node, node.at, f"wait until {_when(node.at)}")
            return
        assert node.window is not None
        zone = self._zone(node.fallback_zone)
        window = node.window
        opens = next_allowed(self.now, window.days, window.start, window.end, zone)
        days = ",".join(d.value for d in window.days)
        words = f"window {days} {window.start}-{window.end} {getattr(zone, 'key', 'UTC')}"
        if opens <= self.now:
            self.log(node.id, "passed", f"inside the {words}")
            self._go(node, "next")
            return
        self._wait(node, opens, f"held for the {words}")

    def _branch(self, node: Branch) -> None:
        reasons: list[str] = []
        answer = True
        if node.condition is not None:
            held = evaluate(node.condition, self.view, self.now)
            reasons.append(describe_outcome(node.condition, held))
            answer = answer and held
        if node.message is not None:
            held = self._engaged(node.message.node, node.message.action.value)
            action = node.message.action.value
            sent = f"the message sent by node {node.message.node!r}"
            reasons.append(f"{sent} was {action}" if held else f"{sent} was not {action}")
            answer = answer and held
        for test in node.context:
            value = _context_value(self.state.context, test.path.split("."))
            held = value is not MISSING and passes(test.operator, value, self.now, self._zone("UTC"))
            reasons.append(f"context {test.path} = {value if value is not MISSING else 'missing'!r}")
            answer = answer and held
        port = "yes" if answer else "no"
        self.log(node.id, "branch", f"{_label(node)} → {port}: " + "; ".join(reasons))
        self._go(node, port)

    def _split(self, node: Split) -> None:
        contact = self.view.contact
        value = (
            self.view.lifecycle_stage if node.field == "lifecycle_stage" else field_value(contact, node.field)
        )
        zone = contact_zone(contact)
        for branch in node.branches:
            if value is not MISSING and passes(branch.operator, value, self.now, zone):
                self.log(node.id, "split", f"{node.field} = {value!r} → {branch.name}")
                self._go(node, branch.name)
                return
        shown = "missing" if value is MISSING or value is None else repr(value)
        self.log(node.id, "split", f"{node.field} = {shown} → other")
        self._go(node, "other")

    def _random(self, node: RandomSplit) -> None:
        seed = f"{self.d.journey_id}\x1f{node.id}\x1f{self.state.contact_id}".encode()
        point = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") / 2**64 * 100
        edge = 0.0
        chosen = node.variants[-1]
        for variant in node.variants:
            edge += variant.percent
            if point < edge:
                chosen = variant
                break
        self.log(node.id, "split", f"variant {chosen.name} ({chosen.percent:g}%)")
        self._go(node, chosen.name)

    def _send(self, node: Send, key: str) -> None:
        message_id = send_id(self.state.workspace_id, Source.JOURNEY, key)
        self.state.sends[node.id] = message_id
        self.commands.append(
            SendMessage(
                node.id,
                node.channel.value,
                node.template,
                node.topic,
                node.sender_id,
                node.endpoint_id,
                key,
                message_id,
            )
        )
        target = node.template or node.endpoint_id
        self.log(node.id, "send", f"{node.channel.value} {target!r}", {"send_id": message_id})
        self._go(node, "next")

    # ---- helpers ----

    def _current(self) -> Node:
        assert self.state.node is not None
        return self.journey.node(self.state.node)

    def _go(self, node: Node, port: str) -> None:
        self.state.node = self.d.graph.follow(node.id, port)
        self.state.status = RunStatus.ACTIVE

    def end(self, status: RunStatus, node: str | None, why: str) -> None:
        self.state.status = status
        self.state.wake_at = None
        self.state.reason = why
        self.log(node, status.value, why)

    def log(self, node: str | None, action: str, reason: str, data: dict[str, Any] | None = None) -> None:
        self.commands.append(Logged(self.now, node, action, reason, data or {}))

    def _matches(self, event: TrackedEvent, where: Sequence[PropertyFilter], correlate: bool) -> bool:
        zone = contact_zone(self.view.contact)
        for test in where:
            if not passes(test.operator, property_value(event.properties, test.path()), self.now, zone):
                return False
        key = self.journey.entry.correlation_key
        if correlate and key is not None and self.state.correlation is not None:
            found = property_value(event.properties, key.split(".")[1:])
            return found is not MISSING and str(found) == self.state.correlation
        return True

    def _engaged(self, node_id: str, action: str) -> bool:
        message_id = self.state.sends.get(node_id)
        if message_id is None:
            return False
        kinds = {MessageEventKind(action)}
        if action == "opened":
            kinds.add(MessageEventKind.CLICKED)  # a click proves an open the pixel may have missed
        return any(e.message_id == message_id and e.kind in kinds for e in self.view.message_events)

    def _zone(self, fallback: str) -> tzinfo:
        if self.view.contact.timezone:
            return contact_zone(self.view.contact)
        return ZoneInfo(fallback)


def correlation_of(journey: Journey, event: TrackedEvent | None) -> str | None:
    """The run's correlation value from its trigger event (None: one run per contact)."""
    key = journey.entry.correlation_key
    if key is None or event is None:
        return None
    found = property_value(event.properties, key.split(".")[1:])
    return None if found is MISSING or found is None else str(found)


def _unsubscribed(view: ContactView, channel: str) -> bool:
    return view.subscriptions.get((channel, None)) is SubscriptionStatus.UNSUBSCRIBED


def _label(node: Node) -> str:
    return f"{node.name!r}" if node.name else f"{node.id!r}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _event_words(name: str, where: Sequence[PropertyFilter]) -> str:
    if not where:
        return f"'{name}'"
    return f"'{name}' with " + ", ".join(f.property.removeprefix("properties.") for f in where)


def _event_context(event: TrackedEvent) -> dict[str, Any]:
    """The trigger event as templates and branches read it (`event.properties.products`)."""
    return {
        "name": event.name,
        "properties": dict(event.properties),
        "timestamp": event.timestamp.isoformat(),
    }


def _context_value(context: Mapping[str, Any], path: Sequence[str]) -> Any:
    """A value of the run context; a number in the path indexes a list (`event.properties.products.0`)."""
    current: Any = context
    for key in path:
        if isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        elif isinstance(current, Mapping) and key in current:
            current = current[key]
        else:
            return MISSING
    return current
