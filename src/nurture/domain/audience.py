"""Which segments a change to a contact can affect: the live path re-evaluates only those."""

from __future__ import annotations

from dataclasses import dataclass

from nurture.domain.activities import ChangeKind
from nurture.domain.conditions.references import References

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
