"""What nurture itself does to a contact, recorded as activities that journeys trigger on and CRM sync
reads (in id order, with a cursor)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ActivityKind(StrEnum):
    SEGMENT_ENTERED = "segment_entered"
    SEGMENT_EXITED = "segment_exited"
    LIST_ADDED = "list_added"
    LIST_REMOVED = "list_removed"
    TAG_ADDED = "tag_added"
    TAG_REMOVED = "tag_removed"
    LIFECYCLE_CHANGED = "lifecycle_changed"  # data: from, to, reason
    OWNER_ASSIGNED = "owner_assigned"  # data: from, to, rule
    SCORE_THRESHOLD_CROSSED = "score_threshold_crossed"  # data: model, threshold, score, direction
    SUBSCRIPTION_CHANGED = "subscription_changed"  # data: channel, topic, from, to
    # data: bounce (hard|soft), reason, status, reply_code, diagnostic, provider, address, suppressed,
    # and for soft bounces soft_bounces / soft_bounce_limit / soft_bounce_days
    EMAIL_BOUNCED = "email_bounced"
    EMAIL_COMPLAINED = "email_complained"  # data: feedback_type, provider, address, suppressed


@dataclass(frozen=True)
class Activity:
    id: str
    contact_id: str
    kind: ActivityKind
    subject_id: str | None
    data: dict[str, Any]
    occurred_at: datetime


class ChangeKind(StrEnum):
    """What changed about a contact, for the audience worker (rows of `pending_changes`)."""

    EVENT = "event"  # name: the event name; event_id set
    PROFILE = "profile"  # name: the field (`email`, `attributes.plan`, `lifecycle_stage`, `owner_id`)
    MEMBERSHIP = "membership"  # name: `list:ID`, `tag:TAG`, `segment:ID`, `subscription:CHANNEL`
    SCORE = "score"  # name: the model id
    MERGE = "merge"  # name: the contact id merged into this one
    MESSAGE = "message"  # name: the message event kind
