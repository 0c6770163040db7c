"""Dates written as strings, and anniversaries, in SQL with exactly the meaning of `parse_date` and
`is_anniversary` (`nurture.domain.conditions`).

A string is a date when it has the shape of `DATE_PATTERN` (PostgreSQL: the same regular expression
with ASCII digits; SQLite, which has no regular expressions: GLOB character classes on each part) and
names a real moment: year 1 or later, month 1-12, a day the month has (29 February only in leap years),
hour < 24, minute < 60, second < 60, an offset of at most 23:59 with minutes < 60, and a UTC instant
inside years 1-9999. PostgreSQL evaluates the parts of an AND in any order, so every integer cast sits
behind a CASE that has checked the shape first.

The instant is then built without the database's own time-zone parsing (SQLite only knows offsets up
to 14 hours): the written date and time as UTC, minus the offset in minutes, with the fraction of the
second carried over to microseconds. On SQLite it is text in the stored form of `UTCDateTime`
(`YYYY-MM-DD HH:MM:SS.ffffff`), so it compares with stored times and bound times as text.

Anniversaries need the contact's local date at `now`. Neither database is asked: nurture computes, for
`now`, the local date of every zone it knows (`known_zones()`, with Python's tz database, as the
in-memory evaluator does), groups the zones whose date differs from UTC's by that date (there are at most
two such groups) and binds them as lists in a CASE; any other zone, none or an unknown one, is UTC.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, and_, any_, case, cast, false, func, or_, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from nurture.domain.conditions.values import DATE_PATTERN
from nurture.domain.profile import known_zones
from nurture.store.audience_json import once, param
from nurture.store.types import UTCDateTime

_PG_DATE_PATTERN = DATE_PATTERN.replace(r"\d", "[0-9]")
_D2 = "[0-9][0-9]"


def _int(text: ColumnElement[str], start: Any, length: int) -> ColumnElement[int]:
    return cast(func.substr(text, start, length), Integer)


class _Parts:
    """Positions in a string of `DATE_PATTERN` shape (meaningful only once the shape is checked)."""

    def __init__(self, text: ColumnElement[str]) -> None:
        self.text = text
        self.length = func.length(text)
        self.zone_length = case(
            (func.substr(text, self.length, 1) == param("Z"), 1),
            (and_(self.length > 16, func.substr(text, self.length - 5, 1).in_([param("+"), param("-")])), 6),
            else_=0,
        )
        self.core = self.length - self.zone_length  # without the offset

    def shape(self, dialect: str) -> ColumnElement[bool]:
        text = self.text
        if dialect == "postgresql":
            return text.op("~")(param(_PG_DATE_PATTERN))
        fraction = func.substr(text, 21, self.core - 20)
        return and_(
            self._glob(func.substr(text, 1, 10), f"{_D2}{_D2}-{_D2}-{_D2}"),
            or_(
                self.length == 10,
                and_(
                    func.substr(text, 11, 1).in_([param("T"), param(" ")]),
                    self._glob(func.substr(text, 12, 5), f"{_D2}:{_D2}"),
                    or_(
                        self.core == 16,
                        and_(self.core == 19, self._glob(func.substr(text, 17, 3), f":{_D2}")),
                        and_(
                            self.core.between(21, 26),
                            self._glob(func.substr(text, 17, 4), f":{_D2}."),
                            fraction.op("NOT GLOB")(param("*[^0-9]*")),
                        ),
                    ),
                    or_(
                        self.zone_length < 6,
                        self._glob(func.substr(text, self.length - 4, 5), f"{_D2}:{_D2}"),
                    ),
                ),
            ),
        )

    @staticmethod
    def _glob(part: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
        return part.op("GLOB", is_comparison=True)(param(pattern))

    def offset_minutes(self) -> ColumnElement[int]:
        """The signed offset in minutes (east of UTC positive); 0 without one."""
        minutes = _int(self.text, self.length - 4, 2) * 60 + _int(self.text, self.length - 1, 2)
        sign = case((func.substr(self.text, self.length - 5, 1) == param("-"), -1), else_=1)
        return case((self.zone_length == 6, sign * minutes), else_=0)

    def day_minutes(self) -> ColumnElement[int]:
        return _int(self.text, 12, 2) * 60 + _int(self.text, 15, 2)

    def checks(self) -> ColumnElement[bool]:
        """The calendar and clock checks, for a string of the right shape."""
        text = self.text
        year, month, day = _int(text, 1, 4), _int(text, 6, 2), _int(text, 9, 2)
        leap = or_(and_(year % 4 == 0, year % 100 != 0), year % 400 == 0)
        month_days = case(
            (month == 2, case((leap, 29), else_=28)),
            (month.in_([4, 6, 9, 11]), 30),
            else_=31,
        )
        day_of = func.substr(text, 1, 10)
        offset = self.offset_minutes()
        clock = and_(
            _int(text, 12, 2) < 24,
            _int(text, 15, 2) < 60,
            case((self.core >= 19, _int(text, 18, 2) < 60), else_=true()),
            case((self.zone_length == 6, _int(text, self.length - 1, 2) < 60), else_=true()),
            case((self.zone_length == 6, _int(text, self.length - 4, 2) < 24), else_=true()),
            # the UTC instant must stay inside years 1-9999
            or_(day_of != param("0001-01-01"), self.day_minutes() >= offset),
            or_(day_of != param("9999-12-31"), self.day_minutes() - offset < 1440),
        )
        calendar_day = and_(year >= 1, month.between(1, 12), day >= 1, day <= month_days)
        return case((calendar_day, case((self.length == 10, true()), else_=clock)), else_=false())


def _is_date(text: ColumnElement[str], dialect: str) -> ColumnElement[bool]:
    parts = _Parts(text)
    return case((parts.shape(dialect), parts.checks()), else_=false())


def written_date(text: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """The first ten characters (`YYYY-MM-DD`) of a date string `parse_date` accepts; NULL otherwise."""
    return once(lambda x: case((_is_date(x, dialect), func.substr(x, 1, 10))), text)  # type: ignore[no-any-return]


def date_instant(text: ColumnElement[str], dialect: str) -> ColumnElement[Any]:
    """The UTC instant a date string names (comparable with a bound `UTCDateTime`), NULL if not a date."""
    return once(lambda x: _instant(x, dialect), text)  # type: ignore[no-any-return]


def _instant(text: ColumnElement[str], dialect: str) -> ColumnElement[Any]:
    parts = _Parts(text)
    clock = case((parts.length == 10, param("00:00")), else_=func.substr(text, 12, 5))
    seconds = case((parts.core >= 19, func.substr(text, 18, 2)), else_=param("00"))
    fraction = case(
        (parts.core >= 21, func.substr(func.substr(text, 21, parts.core - 20) + param("000000"), 1, 6)),
        else_=param("000000"),
    )
    written = func.substr(text, 1, 10) + param(" ") + clock + param(":") + seconds
    shift = -parts.offset_minutes()
    if dialect == "postgresql":
        moment: ColumnElement[Any] = cast(
            written + param(".") + fraction + param("+00:00"), UTCDateTime()
        ) + func.make_interval(0, 0, 0, 0, 0, shift)
    else:
        shifted = func.strftime(param("%Y-%m-%d %H:%M:%S"), written, cast(shift, String) + param(" minutes"))
        moment = shifted + param(".") + fraction
    return case((_is_date(text, dialect), moment))


@lru_cache(maxsize=8)
def _local_dates(now: datetime) -> tuple[date, tuple[tuple[date, tuple[str, ...]], ...]]:
    """UTC's date at `now`, and the zones whose local date differs from it, grouped by that date."""
    utc_day = now.astimezone(UTC).date()
    groups: dict[date, list[str]] = defaultdict(list)
    for name in sorted(known_zones()):
        local = now.astimezone(ZoneInfo(name)).date()
        if local != utc_day:
            groups[local].append(name)
    return utc_day, tuple((day, tuple(names)) for day, names in sorted(groups.items()))


def _on(written: ColumnElement[str], today: date) -> ColumnElement[bool]:
    """`written` (YYYY-MM-DD) has its anniversary on `today`: same month and day (29 February: 28
    February in years without one), in an earlier year."""
    days = [f"{today.month:02d}-{today.day:02d}"]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append("02-29")
    return and_(
        func.substr(written, 6, 5).in_([param(d) for d in days]),
        _int(written, 1, 4) < today.year,
    )


def anniversary(written: ColumnElement[str], now: datetime, zone: ColumnElement[Any], dialect: str) -> Any:
    """`anniversary_today` for a written date, in the time zone named by the column `zone`."""
    return once(lambda x, z: _anniversary(x, now, z, dialect), written, zone)


def _anniversary(written: ColumnElement[str], now: datetime, zone: ColumnElement[Any], dialect: str) -> Any:
    utc_day, groups = _local_dates(now)
    whens = []
    for day, names in groups:
        if dialect == "postgresql":
            member = zone == any_(param(list(names), ARRAY(String())))
        else:
            member = zone.in_([param(n) for n in names])
        whens.append((member, _on(written, day)))
    return case(*whens, else_=_on(written, utc_day)) if whens else _on(written, utc_day)
