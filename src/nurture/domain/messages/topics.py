"""Subscription topics: what a contact can opt in to or out of on a channel (the newsletter, product
updates, offers). A topic's default applies to contacts who never chose: `subscribed` makes it opt-out,
`unsubscribed` opt-in. Double opt-in topics are opt-in by nature: joining one waits (`pending`) for a
click on a confirmation email."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.subscriptions import Status, Subscription, check_channel, check_topic

MAX_LABEL = 200
MAX_DESCRIPTION = 2000
DEFAULTS = (Status.SUBSCRIBED, Status.UNSUBSCRIBED)


@dataclass(frozen=True)
class Topic:
    channel: str
    name: str
    label: str
    description: str | None
    default_status: Status
    double_opt_in: bool
    created_at: datetime


@dataclass(frozen=True)
class TopicFields:
    """What a topic says about itself (everything but its channel and name, which identify it)."""

    label: str
    description: str | None
    default_status: Status
    double_opt_in: bool


def check_identity(channel: Any, name: Any) -> tuple[str, str]:
    errors: list[FieldError] = []
    try:
        channel = check_channel(channel)
    except Invalid as err:
        errors += err.errors
    try:
        checked = check_topic(name, "name")
        if checked is None:
            errors.append(FieldError("name", "a topic needs a name"))
    except Invalid as err:
        errors += err.errors
    if errors:
        raise Invalid(errors)
    return str(channel), str(name)


def check_fields(values: Mapping[str, Any]) -> TopicFields:
    errors: list[FieldError] = []
    label = values.get("label")
    if not isinstance(label, str) or not 0 < len(label.strip()) <= MAX_LABEL:
        errors.append(FieldError("label", f"must be text of 1 to {MAX_LABEL} characters"))
    description = values.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        errors.append(FieldError("description", f"must be text of at most {MAX_DESCRIPTION} characters"))
    default = values.get("default_status", Status.UNSUBSCRIBED.value)
    status = next((s for s in DEFAULTS if s.value == default), None)
    if status is None:
        errors.append(FieldError("default_status", "must be subscribed (opt-out) or unsubscribed (opt-in)"))
    double = values.get("double_opt_in", False)
    if not isinstance(double, bool):
        errors.append(FieldError("double_opt_in", "must be true or false"))
    elif double and status is Status.SUBSCRIBED:
        errors.append(
            FieldError("double_opt_in", "a double opt-in topic is opt-in: its default_status is unsubscribed")
        )
    if errors:
        raise Invalid(errors)
    assert isinstance(label, str)
    assert status is not None
    return TopicFields(label.strip(), description or None, status, double is True)


def effective_status(topic: Topic, chosen: Subscription | None) -> Status:
    """The contact's status for the topic: what it chose, else the topic's default."""
    return chosen.status if chosen is not None else topic.default_status
