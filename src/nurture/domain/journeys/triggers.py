"""What starts a journey for a contact. Every trigger is a JSON object discriminated by `type`."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator

from nurture.domain.conditions.nodes import NameStr, PropertyFilter
from nurture.domain.conditions.values import Operator, Strict
from nurture.domain.journeys.times import LocalTime, ZoneChoice, check_cron

_DATE_FIELD = re.compile(r"^attributes\.[^.\s][^.]*$")
_CHANGE_FIELD = re.compile(r"^(?:email|phone|first_name|last_name|timezone|locale|attributes\.[^.\s][^.]*)$")


class EventTrigger(Strict):
    """The contact performs `event`, or one of several (its properties matching every filter of
    `where`): `event: [Product Added, Checkout Started]`."""

    type: Literal["event"] = "event"
    event: NameStr | Annotated[list[NameStr], Field(min_length=1, max_length=20)]
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.event,) if isinstance(self.event, str) else tuple(self.event)


class SegmentMove(StrEnum):
    ENTERED = "entered"
    EXITED = "exited"


class SegmentTrigger(Strict):
    type: Literal["segment"] = "segment"
    segment_id: NameStr  # a segment's id or name
    on: SegmentMove = SegmentMove.ENTERED


class AttributeChangeTrigger(Strict):
    """A profile field changes; with `to`, only when its new value passes that test."""

    type: Literal["attribute_changed"] = "attribute_changed"
    field: str
    to: Operator | None = None

    @field_validator("field")
    @classmethod
    def _known(cls, value: str) -> str:
        if not _CHANGE_FIELD.match(value):
            raise ValueError("must be a core field (email, phone, first_name, …) or attributes.NAME")
        return value


class StageTrigger(Strict):
    """The lifecycle stage changes (to `to`, and from `from_stage`, when given)."""

    type: Literal["lifecycle_stage"] = "lifecycle_stage"
    to: NameStr | None = None
    from_stage: NameStr | None = Field(default=None, alias="from")


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class ScoreTrigger(Strict):
    """A scoring model's score crosses `threshold`: upwards (from below it to at least it) by default,
    or downwards (from at least it to below it)."""

    type: Literal["score"] = "score"
    model_id: NameStr  # a scoring model's id or name
    threshold: float
    direction: Direction = Direction.UP

    def crossed(self, before: float, after: float) -> bool:
        if self.direction is Direction.UP:
            return before < self.threshold <= after
        return after < self.threshold <= before


class DateTrigger(Strict):
    """A date attribute comes round: `offset_days` before (negative) or after it, at `at` in the
    contact's time zone; `every_year` repeats it on each anniversary (birthdays)."""

    type: Literal["date"] = "date"
    field: str
    offset_days: int = Field(default=0, ge=-366, le=366)
    at: LocalTime = "09:00"
    every_year: bool = False

    @field_validator("field")
    @classmethod
    def _date_attribute(cls, value: str) -> str:
        if not _DATE_FIELD.match(value):
            raise ValueError("must be attributes.NAME holding a date (e.g. attributes.birthday)")
        return value


class ScheduleTrigger(Strict):
    """A recurring schedule (5-field cron) enrolling the members of a segment or list (neither: every
    contact; the entry condition still applies). The cron is read on the wall clock of `zone`: an IANA
    name, `workspace` (the `timezone` of the workspace's messaging settings) or `contact` (each
    contact's own zone: every contact is enrolled at that time where they live; contacts without a
    zone use the workspace's)."""

    type: Literal["schedule"] = "schedule"
    cron: str = Field(min_length=1, max_length=100)
    zone: ZoneChoice = "UTC"
    segment_id: NameStr | None = None  # a segment's id or name
    list_id: NameStr | None = None  # a list's id or name

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)


class ManualTrigger(Strict):
    """Contacts are enrolled by the API or the CLI: one contact, a list or a segment."""

    type: Literal["manual"] = "manual"


Trigger = Annotated[
    EventTrigger
    | SegmentTrigger
    | AttributeChangeTrigger
    | StageTrigger
    | ScoreTrigger
    | DateTrigger
    | ScheduleTrigger
    | ManualTrigger,
    Field(discriminator="type"),
]
