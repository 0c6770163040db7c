"""The steps of a journey. Every node is a JSON object with an `id` and a `type`; its outgoing edges
leave from named ports (`next`, `yes`/`no`, `matched`/`timeout`, a split's branch names)."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from nurture.domain.conditions.nodes import Condition, IdStr, NameStr, PropertyFilter
from nurture.domain.conditions.values import Operator, Strict
from nurture.domain.journeys.durations import Duration
from nurture.domain.journeys.times import LocalTime, Weekday, Zone

NODE_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_ATTRIBUTE = re.compile(r"^attributes\.[^.\s][^.]*$")
_CONTEXT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*$")
PortName = Annotated[str, Field(pattern=NODE_ID)]
NodeId = Annotated[str, Field(pattern=NODE_ID, description="letters, digits, '_' and '-'")]


class Base(Strict):
    id: NodeId
    name: str | None = Field(default=None, max_length=200)


class Delay(Base):
    type: Literal["delay"] = "delay"
    duration: Duration


class Window(Strict):
    """Allowed sending window: these weekdays, between `start` and `end` local time."""

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1, max_length=7)
    start: LocalTime = "09:00"
    end: LocalTime = "17:00"


class WaitUntil(Base):
    """Wait until a moment (`at`), or until the next time inside `window` in the contact's zone
    (`fallback_zone` when the contact has none)."""

    type: Literal["wait_until"] = "wait_until"
    at: AwareDatetime | None = None
    window: Window | None = None
    fallback_zone: Zone = "UTC"

    @model_validator(mode="after")
    def _one(self) -> WaitUntil:
        if (self.at is None) == (self.window is None):
            raise ValueError("give either at (a moment) or window (days and hours), not both")
        return self


class WaitForEvent(Base):
    """Wait for the contact's `event` (matching `where`; with `match_correlation`, carrying the run's
    correlation key) for at most `timeout`. Ports: `matched`, `timeout`."""

    type: Literal["wait_for_event"] = "wait_for_event"
    event: NameStr
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    match_correlation: bool = True
    timeout: Duration


class Engagement(StrEnum):
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"


class MessageTest(Strict):
    """Whether the contact opened / clicked the message this run sent at node `node`."""

    node: NodeId
    action: Engagement = Engagement.OPENED


class ContextTest(Strict):
    """A test on the run's context, e.g. `webhook.check.status` equals 200."""

    path: str = Field(max_length=200)
    operator: Operator

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _CONTEXT_PATH.match(value):
            raise ValueError("must be a dotted path into the run context, e.g. webhook.check.status")
        return value


class Branch(Base):
    """Yes or no: every test given must pass (a condition on the contact, a message engagement, the
    run context). Ports: `yes`, `no`."""

    type: Literal["condition"] = "condition"
    condition: Condition | None = None
    message: MessageTest | None = None
    context: list[ContextTest] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _something(self) -> Branch:
        if self.condition is None and self.message is None and not self.context:
            raise ValueError("give a condition, a message test or context tests")
        return self


class SplitBranch(Strict):
    name: PortName
    operator: Operator


class Split(Base):
    """Multi-way on one attribute: the first branch whose test passes, else `other`."""

    type: Literal["split"] = "split"
    field: str
    branches: list[SplitBranch] = Field(min_length=1, max_length=20)

    @field_validator("field")
    @classmethod
    def _field(cls, value: str) -> str:
        if value in ("lifecycle_stage", "email", "phone", "timezone", "locale") or _ATTRIBUTE.match(value):
            return value
        raise ValueError("must be attributes.NAME, lifecycle_stage, email, phone, timezone or locale")


class Variant(Strict):
    name: PortName
    percent: float = Field(gt=0, le=100)


class RandomSplit(Base):
    """A/B: each contact lands in one variant, deterministically (the same contact always lands in
    the same variant of this node)."""

    type: Literal["random_split"] = "random_split"
    variants: list[Variant] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _sum(self) -> RandomSplit:
        total = sum(v.percent for v in self.variants)
        if abs(total - 100) > 1e-6:
            raise ValueError(f"variants' percents must add up to 100, not {total:g}")
        return self


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class Send(Base):
    """Send a message through the outbox: a template by email or SMS, or an event to a webhook
    endpoint. The trigger event and the run context are in the template's context."""

    type: Literal["send"] = "send"
    channel: Channel = Channel.EMAIL
    template: NameStr | None = Field(default=None, description="a template's name or id")
    topic: str | None = Field(default=None, max_length=200)
    sender_id: IdStr | None = None
    endpoint_id: IdStr | None = None

    @model_validator(mode="after")
    def _target(self) -> Send:
        if self.channel is Channel.WEBHOOK:
            if self.endpoint_id is None:
                raise ValueError("a webhook send needs endpoint_id")
        elif self.template is None:
            raise ValueError(f"an {self.channel.value} send needs template (its name or id)")
        return self


class UpdateContact(Base):
    type: Literal["update_contact"] = "update_contact"
    set: dict[str, Any] = Field(default_factory=dict, max_length=50)
    unset: list[str] = Field(default_factory=list, max_length=50)
    add_tags: list[str] = Field(default_factory=list, max_length=20)
    remove_tags: list[str] = Field(default_factory=list, max_length=20)
    add_to_lists: list[IdStr] = Field(default_factory=list, max_length=20)
    remove_from_lists: list[IdStr] = Field(default_factory=list, max_length=20)
    lifecycle_stage: str | None = Field(default=None, max_length=64)
    unsubscribe: list[NameStr] = Field(
        default_factory=list,
        max_length=20,
        description="email topics to unsubscribe the contact from (recorded in the consent ledger)",
    )

    @model_validator(mode="after")
    def _something(self) -> UpdateContact:
        changes = (self.set, self.unset, self.add_tags, self.remove_tags, self.add_to_lists)
        if not any((*changes, self.remove_from_lists, self.unsubscribe)) and self.lifecycle_stage is None:
            raise ValueError(
                "give at least one change (set, unset, tags, lists, lifecycle_stage, unsubscribe)"
            )
        return self


class ChangeScore(Base):
    type: Literal["score"] = "score"
    model_id: IdStr
    points: float = Field(ge=-1_000_000, le=1_000_000)
    reason: str | None = Field(default=None, max_length=200)


class Method(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class CallWebhook(Base):
    """Call an HTTP endpoint and keep its response (status, JSON body) in the run context under
    `webhook.<save_as>` for later branches. `body` is Liquid rendered with the run's context."""

    type: Literal["webhook"] = "webhook"
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    method: Method = Method.POST
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)
    body: str | None = Field(default=None, max_length=20000)
    save_as: PortName | None = None
    timeout: Duration = timedelta(seconds=10)


class Notify(Base):
    """Tell people inside the company: the contact's owner, fixed addresses, or a Slack webhook."""

    type: Literal["notify"] = "notify"
    owner: bool = False
    emails: list[Annotated[str, Field(max_length=320)]] = Field(default_factory=list, max_length=20)
    slack_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    message: str = Field(min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _someone(self) -> Notify:
        if not (self.owner or self.emails or self.slack_url):
            raise ValueError("give owner: true, emails or slack_url")
        return self


class Enroll(Base):
    type: Literal["enroll"] = "enroll"
    journey: NameStr  # another journey's name or id


class Goal(Base):
    """A milestone: reaching it counts as a conversion of the run; the run goes on at `next`."""

    type: Literal["goal"] = "goal"


class Exit(Base):
    type: Literal["exit"] = "exit"


Node = Annotated[
    Delay
    | WaitUntil
    | WaitForEvent
    | Branch
    | Split
    | RandomSplit
    | Send
    | UpdateContact
    | ChangeScore
    | CallWebhook
    | Notify
    | Enroll
    | Goal
    | Exit,
    Field(discriminator="type"),
]

WAITS = (Delay, WaitUntil, WaitForEvent)


def ports(node: Any) -> tuple[str, ...]:
    """The named exits of a node."""
    if isinstance(node, Exit):
        return ()
    if isinstance(node, Branch):
        return ("yes", "no")
    if isinstance(node, WaitForEvent):
        return ("matched", "timeout")
    if isinstance(node, Split):
        return (*(b.name for b in node.branches), "other")
    if isinstance(node, RandomSplit):
        return tuple(v.name for v in node.variants)
    return ("next",)
