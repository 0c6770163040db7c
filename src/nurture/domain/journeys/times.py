"""Local times of day, weekdays and time-zone choices in journey documents."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator, Field

_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$", re.ASCII)


def _local_time(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("must be a time of day as HH:MM (24-hour), e.g. 09:00")
    return value


def check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin") from None
    return value


def _zone_choice(value: str) -> str:
    return value if value in ("workspace", "contact") else check_zone(value)


def minutes(value: str) -> int:
    """Minutes since midnight of an `HH:MM` string."""
    hours, mins = value.split(":")
    return int(hours) * 60 + int(mins)


LocalTime = Annotated[str, AfterValidator(_local_time), Field(examples=["09:00"])]
Zone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(check_zone)]
ZoneChoice = Annotated[
    str,
    Field(min_length=1, max_length=64, description="workspace, contact, or an IANA zone name"),
    AfterValidator(_zone_choice),
]


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)


def weekday_index(day: Any) -> int:
    return WEEKDAYS.index(Weekday(day))


def check_cron(expression: str) -> str:
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(
            "must be a 5-field cron expression (minute hour day month weekday), e.g. '0 9 * * mon'"
        )
    return expression
