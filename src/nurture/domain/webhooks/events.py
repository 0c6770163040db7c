"""What nurture posts to webhook endpoints: event types, and the JSON body of each event.

Bodies follow the Standard Webhooks shape, `{"type": …, "timestamp": …, "data": {…}}`. The event id
(the `webhook-id` header) is derived from what the event is about (`act_<activity id>`,
`mev_<message event id>`), so the same happening is the same id at every endpoint and on every attempt,
and a receiver dedupes by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nurture.domain.activities import Activity, ActivityKind
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.errors import FieldError, Invalid

CONTACT_PREFIX = "contact."
MESSAGE_PREFIX = "message."
TEST = "webhook.test"
ALERT = "alert"
JOURNEY_SEND = "journey.send"  # a journey's send node on the webhook channel, to one endpoint

ACTIVITY_TYPES = {kind: CONTACT_PREFIX + kind.value for kind in ActivityKind}
MESSAGE_TYPES = {kind: MESSAGE_PREFIX + kind.value for kind in MessageEventKind}
EVENT_TYPES: tuple[str, ...] = (*ACTIVITY_TYPES.values(), *MESSAGE_TYPES.values(), TEST, JOURNEY_SEND)
MAX_TYPES = 100

# The id an activity's subject gets in the event, by kind (the others carry it in their data).
_SUBJECT = {
    ActivityKind.SEGMENT_ENTERED: "segment_id",
    ActivityKind.SEGMENT_EXITED: "segment_id",
    ActivityKind.LIST_ADDED: "list_id",
    ActivityKind.LIST_REMOVED: "list_id",
    ActivityKind.SCORE_THRESHOLD_CROSSED: "model_id",
}


@dataclass(frozen=True)
class WebhookEvent:
    id: str  # the webhook-id header
    type: str
    occurred_at: datetime
    data: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "timestamp": iso(self.occurred_at), "data": self.data}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def activity_event(activity: Activity) -> WebhookEvent:
    """`contact.<kind>`: what nurture did to a contact (entered a segment, changed stage, …)."""
    data: dict[str, Any] = {"activity_id": activity.id, "contact_id": activity.contact_id}
    subject = _SUBJECT.get(activity.kind)
    if subject is not None and activity.subject_id is not None:
        data[subject] = activity.subject_id
    data.update(activity.data)
    return WebhookEvent(f"act_{activity.id}", ACTIVITY_TYPES[activity.kind], activity.occurred_at, data)


def message_event(
    event_id: str,
    kind: MessageEventKind,
    occurred_at: datetime,
    message: dict[str, Any],
    data: dict[str, Any],
) -> WebhookEvent:
    """`message.<kind>`: what happened to a message (`message` holds its ids: message_id,
    contact_id, channel, template, journey, campaign)."""
    body = {"message_event_id": event_id, **{k: v for k, v in message.items() if v is not None}, **data}
    return WebhookEvent(f"mev_{event_id}", MESSAGE_TYPES[kind], occurred_at, body)


def subscribed(patterns: Iterable[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to `patterns` (`*`, `message.*`, exact types) gets the type."""
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def check_event_types(values: Any, field: str = "event_types") -> list[str]:
    """A non-empty list of known types or patterns (`*`, `contact.*`, `message.*`), without repeats."""
    if not isinstance(values, list) or not values:
        raise Invalid.one(field, 'must be a non-empty list of event types, e.g. ["contact.*"] or ["*"]')
    if len(values) > MAX_TYPES:
        raise Invalid.one(field, f"at most {MAX_TYPES} event types")
    errors = []
    prefixes = {t.split(".", 1)[0] + ".*" for t in EVENT_TYPES}
    for index, value in enumerate(values):
        if not isinstance(value, str) or (
            value != "*" and value not in EVENT_TYPES and value not in prefixes
        ):
            known = ", ".join(("*", *sorted(prefixes), *EVENT_TYPES))
            errors.append(
                FieldError(f"{field}[{index}]", f"unknown event type {value!r}: use one of {known}")
            )
    if errors:
        raise Invalid(errors)
    return list(dict.fromkeys(values))


def matching(events: Sequence[WebhookEvent], patterns: Iterable[str]) -> list[WebhookEvent]:
    wanted = list(patterns)
    return [e for e in events if subscribed(wanted, e.type)]
