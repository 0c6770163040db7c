"""Durations as people write them in journey documents: `90s`, `30m`, `2h`, `3d`, `1w`, or several
parts together (`1d12h`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d{1,6})\s*(w|d|h|m|s)", re.ASCII)
_WHOLE = re.compile(r"^\s*(?:\d{1,6}\s*[wdhms]\s*)+$", re.ASCII)
_UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
MAX = timedelta(days=3660)
PATTERN = r"^\s*(?:\d{1,6}\s*[wdhms]\s*)+$"


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str) or not _WHOLE.match(value):
        raise ValueError("must be a duration such as 30m, 2h, 3d or 1w (parts may combine: 1d12h)")
    seconds = sum(int(n) * _UNIT[unit] for n, unit in _PART.findall(value))
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    if seconds > MAX.total_seconds():
        raise ValueError("must be at most 3660 days")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNIT.items():
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": PATTERN, "examples": ["30m", "2h", "3d", "1d12h"]}),
]
