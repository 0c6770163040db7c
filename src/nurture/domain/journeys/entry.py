"""Who enters a journey: whether a happening fires its trigger, whether the contact may enter
(entry condition, re-entry policy), and which changes to contacts any active journey reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from nurture.domain.conditions.matching import MISSING, passes
from nurture.domain.conditions.nodes import Condition
from nurture.domain.conditions.references import References, references
from nurture.domain.contact_view import ContactView, TrackedEvent
from nurture.domain.evaluate import contact_zone, evaluate, field_value, property_value
from nurture.domain.journeys.definition import Journey, Reentry
from nurture.domain.journeys.describe import describe_outcome
from nurture.domain.journeys.nodes import Branch, Send, WaitForEvent
from nurture.domain.journeys.triggers import (
    AttributeChangeTrigger,
    DateTrigger,
    EventTrigger,
    ScheduleTrigger,
    ScoreTrigger,
    SegmentMove,
    SegmentTrigger,
    StageTrigger,
)


class HappeningKind(StrEnum):
    EVENT = "event"  # name: the event name
    SEGMENT_ENTERED = "segment_entered"  # name: the segment id
    SEGMENT_EXITED = "segment_exited"
    CHANGE = "change"  # name: the profile field (`attributes.plan`, `lifecycle_stage`, …); data from/to
    ENROLL = "enroll"  # name: the journey id; data: event (optional), source


@dataclass(frozen=True)
class Happening:
    kind: HappeningKind
    name: str | None
    event: TrackedEvent | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def triggered(
    journey: Journey, journey_id: str, happening: Happening, view: ContactView, now: datetime
) -> bool:
    """Whether `happening` fires the journey's trigger (an enrolment names the journey itself)."""
    kind, trigger = happening.kind, journey.trigger
    if kind is HappeningKind.ENROLL:
        return happening.name == journey_id
    if isinstance(trigger, EventTrigger):
        event = happening.event
        if kind is not HappeningKind.EVENT or event is None or event.name not in trigger.names:
            return False
        zone = contact_zone(view.contact)
        return all(
            passes(f.operator, property_value(event.properties, f.path()), now, zone) for f in trigger.where
        )
    if isinstance(trigger, SegmentTrigger):
        wanted = (
            HappeningKind.SEGMENT_ENTERED
            if trigger.on is SegmentMove.ENTERED
            else HappeningKind.SEGMENT_EXITED
        )
        return kind is wanted and happening.name == trigger.segment_id
    if isinstance(trigger, AttributeChangeTrigger):
        if kind is not HappeningKind.CHANGE or happening.name != trigger.field:
            return False
        if trigger.to is None:
            return True
        value = field_value(view.contact, trigger.field)
        return value is not MISSING and passes(trigger.to, value, now, contact_zone(view.contact))
    if isinstance(trigger, ScoreTrigger):
        if kind is not HappeningKind.CHANGE or happening.name != f"score:{trigger.model_id}":
            return False
        before, after = happening.data.get("from"), happening.data.get("to")
        if not isinstance(before, int | float) or not isinstance(after, int | float):
            return False
        return trigger.crossed(float(before), float(after))
    if isinstance(trigger, StageTrigger):
        if kind is not HappeningKind.CHANGE or happening.name != "lifecycle_stage":
            return False
        before = happening.data.get("from")
        return (trigger.to is None or view.lifecycle_stage == trigger.to) and (
            trigger.from_stage is None or before == trigger.from_stage
        )
    return False


def may_enter(journey: Journey, view: ContactView, last_entry: datetime | None, now: datetime) -> str | None:
    """None when the contact may enter now; else why not (for the trace of skipped entries)."""
    entry = journey.entry
    if last_entry is not None:
        if entry.reentry is Reentry.ONCE:
            return f"entered once already, at {last_entry:%Y-%m-%d %H:%M} UTC (re-entry: once)"
        if entry.reentry is Reentry.AFTER and entry.reentry_after and now - last_entry < entry.reentry_after:
            return f"entered at {last_entry:%Y-%m-%d %H:%M} UTC; may enter again after {entry.reentry_after}"
    if entry.condition is not None and not evaluate(entry.condition, view, now):
        return "entry condition: " + describe_outcome(entry.condition, False)
    return None


def conditions(journey: Journey) -> Iterable[Condition]:
    """Every condition the journey evaluates: entry, branches, exit criteria and goal."""
    if journey.entry.condition is not None:
        yield journey.entry.condition
    for node in journey.nodes:
        if isinstance(node, Branch) and node.condition is not None:
            yield node.condition
    for criterion in journey.exit:
        if criterion.condition is not None:
            yield criterion.condition
    if journey.goal is not None and journey.goal.condition is not None:
        yield journey.goal.condition


@dataclass
class JourneyPlan:
    """What a workspace's active journeys read: which happenings the audience worker must pass on,
    and what to load into contact views for them."""

    refs: References = field(default_factory=References)
    event_names: set[str] = field(default_factory=set)  # triggers, waits, exits, goals
    segment_ids: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    stage: bool = False
    score_models: set[str] = field(default_factory=set)  # models of score triggers
    standing: References = field(default_factory=References)  # exit and goal conditions

    @classmethod
    def of(cls, journeys: Iterable[Journey]) -> JourneyPlan:
        plan = cls()
        for journey in journeys:
            trigger = journey.trigger
            if isinstance(trigger, EventTrigger):
                plan.event_names.update(trigger.names)
            elif isinstance(trigger, SegmentTrigger):
                plan.segment_ids.add(trigger.segment_id)
            elif isinstance(trigger, AttributeChangeTrigger):
                plan.fields.add(trigger.field)
            elif isinstance(trigger, StageTrigger):
                plan.stage = True
            elif isinstance(trigger, ScoreTrigger):
                plan.score_models.add(trigger.model_id)
            elif isinstance(trigger, DateTrigger):
                plan.fields |= {trigger.field, "timezone"}  # either moves the contact's timer
            elif isinstance(trigger, ScheduleTrigger) and trigger.zone == "contact":
                plan.fields.add("timezone")  # a contact in a new zone gives the schedule that zone
            for node in journey.nodes:
                if isinstance(node, WaitForEvent):
                    plan.event_names.add(node.event)
                if isinstance(node, Branch) and node.message is not None:
                    plan.refs.message_events = True
                if isinstance(node, Send):
                    plan.refs.subscription_channels.add(node.channel.value)
            for criterion in journey.exit:
                if criterion.event:
                    plan.event_names.add(criterion.event)
            if journey.goal is not None and journey.goal.event:
                plan.event_names.add(journey.goal.event)
            for condition in conditions(journey):
                _merge(plan.refs, references(condition))
            for condition in _standing(journey):
                _merge(plan.standing, references(condition))
        return plan

    def wants(self, kind: str, name: str | None) -> bool:
        """Whether a queued change of `kind` ("event", "profile", "membership", "score") and `name`
        may start a run or end one."""
        standing = self.standing
        if kind == "event":
            return name in self.event_names or name in standing.event_names
        if kind == "profile":
            if name == "lifecycle_stage":
                return self.stage or standing.lifecycle_stage
            if name is None:  # a new contact: anything may be set
                return bool(self.fields or standing.fields or self.stage or standing.lifecycle_stage)
            return name in self.fields or name in standing.fields
        if kind == "membership":
            what, _, value = (name or "").partition(":")
            if what == "segment":
                return value in self.segment_ids or value in standing.segment_ids
            if what == "tag":
                return value in standing.tags
            if what == "list":
                return value in standing.list_ids
            # unsubscribing ends the runs of journeys that send on that channel
            return what == "subscription" and value in self.refs.subscription_channels
        if kind == "score":
            return name in standing.score_models
        if kind == "message":
            return standing.message_events
        return False  # a merge: runs stay with the id they started on (see docs/architecture.md)


def _standing(journey: Journey) -> Iterable[Condition]:
    for criterion in journey.exit:
        if criterion.condition is not None:
            yield criterion.condition
    if journey.goal is not None and journey.goal.condition is not None:
        yield journey.goal.condition


def _merge(into: References, other: References) -> None:
    for name, value in other.__dict__.items():
        current = getattr(into, name)
        if isinstance(current, set):
            current |= value
        elif value:
            setattr(into, name, True)
