"""Which segments a change to a contact can affect: the live path re-evaluates only those."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nurture.domain.activities import ChangeKind
from nurture.domain.conditions.nodes import Condition
from nurture.domain.conditions.references import References, references
from nurture.domain.journeys.entry import JourneyPlan
from nurture.domain.scoring.definition import SCORED_EVENT_TYPES

# Storing an event also moves the contact's `last_seen_at`; ingest does not queue that separately.
EVENT_FIELDS = frozenset({"last_seen_at"})
# Fields whose change moves the contact's local day (anniversaries): every time-relative test may flip.
ZONE_FIELDS = frozenset({"timezone"})


@dataclass(frozen=True)
class Change:
    """One queued change (a row of `pending_changes`); see `ChangeKind` for what `name` holds.
    A `profile` change without a name means "anything may have changed" (e.g. a new contact)."""

    kind: ChangeKind | str
    name: str | None = None


def can_affect(refs: References, change: Change) -> bool:
    """Whether a condition with these references may answer differently after `change`."""
    kind, name = change.kind, change.name
    if kind == ChangeKind.EVENT:
        return name in refs.event_names or bool(EVENT_FIELDS & refs.fields)
    if kind == ChangeKind.PROFILE:
        return _profile(refs, name)
    if kind == ChangeKind.MEMBERSHIP:
        return _membership(refs, name)
    if kind == ChangeKind.SCORE:
        return name is None or name in refs.score_models
    if kind == ChangeKind.MESSAGE:
        return refs.message_events
    return True  # a merge, or a kind this code does not know: re-evaluate everything


def _profile(refs: References, name: str | None) -> bool:
    if name is None:
        return True
    if name == "lifecycle_stage":
        return refs.lifecycle_stage
    if name == "account" or name.startswith("account."):
        return bool(refs.account_fields)
    if name in ZONE_FIELDS and refs.time_relative:
        return True
    return name in refs.fields


def _membership(refs: References, name: str | None) -> bool:
    kind, _, value = (name or "").partition(":")
    if kind == "segment":
        return value in refs.segment_ids
    if kind == "list":
        return value in refs.list_ids
    if kind == "tag":
        return value in refs.tags
    if kind == "subscription":
        return value in refs.subscription_channels
    return True


@dataclass(frozen=True)
class Interest:
    """What a workspace's live consumers read: its active segments and its scoring models. Writers
    queue only the changes that `wants`; the rest cannot change any answer those consumers give.

    A consumer defined later sees earlier changes through its own first computation (a new segment's
    full recompute, a model's rescore), never through the queue.
    """

    reads: References = field(default_factory=References)  # segments' and condition rules' references
    readers: bool = False  # there is at least one segment or condition rule
    scored_events: frozenset[str] = frozenset()  # event names that scoring's event rules award points for
    journeys: JourneyPlan | None = None  # what the workspace's active journeys read

    @classmethod
    def of(
        cls,
        conditions: Iterable[Condition],
        scored_events: Iterable[str],
        journeys: JourneyPlan | None = None,
    ) -> Interest:
        """From the conditions of the active segments and of scoring's condition rules, and the
        names of the events scoring's event rules read."""
        reads = References()
        readers = False
        for condition in conditions:
            readers = True
            found = references(condition)
            for name in _SET_FIELDS:
                getattr(reads, name).update(getattr(found, name))
            reads.lifecycle_stage |= found.lifecycle_stage
            reads.message_events |= found.message_events
            reads.time_relative |= found.time_relative
        return cls(reads, readers, frozenset(scored_events), journeys)

    def wants(self, change: Change) -> bool:
        """Whether some consumer may answer differently after `change` (or a journey reads it)."""
        if self.journeys is not None and self.journeys.wants(str(change.kind), change.name):
            return True
        if change.kind == ChangeKind.MERGE:
            # the worker ends the merged-away contact's stays (only active segments have open ones)
            # and re-evaluates the survivor's segments and condition rules
            return self.readers
        if change.kind == ChangeKind.EVENT and change.name in self.scored_events:
            return True
        return self.readers and can_affect(self.reads, change)

    def wants_event(self, event_type: str, name: str | None) -> bool:
        """Whether a stored event matters: conditions read track events by name (and every event
        through `last_seen_at`); scoring rules read track, page and screen events by name."""
        if event_type in SCORED_EVENT_TYPES and name in self.scored_events:
            return True
        return self.wants(Change(ChangeKind.EVENT, name if event_type == "track" else None))


_SET_FIELDS = (
    "fields",
    "event_names",
    "account_fields",
    "segment_ids",
    "list_ids",
    "tags",
    "score_models",
    "subscription_channels",
)
