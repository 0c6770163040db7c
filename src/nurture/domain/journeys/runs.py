"""A run's state, what can happen to it (inputs), and what stepping it asks the world to do
(commands). Plain data: the engine stores the state as a row, the simulator keeps it in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from nurture.domain.contact_view import TrackedEvent


class RunStatus(StrEnum):
    ACTIVE = "active"  # ready to step now
    WAITING = "waiting"  # until `wake_at`, or an awaited event
    CALLING = "calling"  # a webhook call is out; its response is the next input
    COMPLETED = "completed"  # reached the end of a path
    EXITED = "exited"  # an exit node, exit criterion, goal or unsubscribe ended it
    FAILED = "failed"  # a step could not be carried out; `reason` says why


ENDED = frozenset({RunStatus.COMPLETED, RunStatus.EXITED, RunStatus.FAILED})


@dataclass
class RunState:
    run_id: str
    workspace_id: str
    contact_id: str
    entered_at: datetime
    node: str | None  # the node to run next, or the one the run waits at
    status: RunStatus = RunStatus.ACTIVE
    wake_at: datetime | None = None
    correlation: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # event (the trigger), webhook responses
    sends: dict[str, str] = field(default_factory=dict)  # node id → send id of its latest message
    visits: dict[str, int] = field(default_factory=dict)  # node id → times run (loop iterations)
    converted_at: datetime | None = None
    reason: str | None = None  # why it ended or failed

    @property
    def ended(self) -> bool:
        return self.status in ENDED


# ---- inputs ----


@dataclass(frozen=True)
class Start:
    """The run begins at the entry node; `event` is the triggering event (None: manual, schedule)."""

    event: TrackedEvent | None = None


@dataclass(frozen=True)
class Due:
    """The run's timer came due (`wake_at <= now`)."""


@dataclass(frozen=True)
class EventSeen:
    """The contact performed `event`: it may end a wait, meet the goal or an exit criterion."""

    event: TrackedEvent


@dataclass(frozen=True)
class ContactChanged:
    """The contact's profile, memberships or consent changed: exit conditions are checked again."""


@dataclass(frozen=True)
class WebhookAnswered:
    """The webhook the run called answered (`status` None: it could not be reached)."""

    status: int | None
    body: Any = None
    error: str | None = None


Input = Start | Due | EventSeen | ContactChanged | WebhookAnswered


# ---- commands ----


@dataclass(frozen=True)
class SendMessage:
    node: str
    channel: str
    template: str | None
    topic: str | None
    sender_id: str | None
    endpoint_id: str | None
    source_key: str  # run:node:visit: the outbox's send id derives from it
    send_id: str


@dataclass(frozen=True)
class UpdateProfile:
    node: str
    set: dict[str, Any]
    unset: list[str]
    add_tags: list[str]
    remove_tags: list[str]
    add_to_lists: list[str]
    remove_from_lists: list[str]
    lifecycle_stage: str | None
    unsubscribe: list[str] = field(default_factory=list)  # email topics


@dataclass(frozen=True)
class AddScore:
    node: str
    model_id: str
    points: float
    reason: str | None
    key: str  # run:node:visit: a retried step grants the points once


@dataclass(frozen=True)
class WebhookCall:
    node: str
    url: str
    method: str
    headers: dict[str, str]
    body: str | None
    timeout_seconds: float
    key: str  # run:node:visit, the call's idempotency key


@dataclass(frozen=True)
class NotifyTeam:
    node: str
    owner: bool
    emails: list[str]
    slack_url: str | None
    message: str
    key: str


@dataclass(frozen=True)
class EnrollIn:
    node: str
    journey: str


@dataclass(frozen=True)
class Converted:
    node: str | None  # the goal node, or None for the journey-level goal


@dataclass(frozen=True)
class Logged:
    """One line of the run's trace: what happened at `node` and why (explanations read these)."""

    at: datetime
    node: str | None
    action: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


Command = SendMessage | UpdateProfile | AddScore | WebhookCall | NotifyTeam | EnrollIn | Converted | Logged
