"""Local-time windows: the next moment inside "these weekdays, between HH:MM and HH:MM" in a zone.

DST-correct: wall-clock times are turned into instants with zoneinfo, so "09:00 Europe/Berlin" is 08:00
UTC in winter and 07:00 UTC in summer; a wall-clock time that does not exist (the hour skipped in
spring) falls on the instant zoneinfo gives it (an hour later on the wall).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from nurture.domain.journeys.times import Weekday, minutes, weekday_index


def _at(day: date, hhmm: str, zone: tzinfo) -> datetime:
    total = minutes(hhmm)
    local = datetime.combine(day, time(total // 60, total % 60), tzinfo=zone)
    return local.astimezone(UTC)


def next_allowed(now: datetime, days: Iterable[Weekday], start: str, end: str, zone: tzinfo) -> datetime:
    """`now` when it lies inside the window, else the window's next opening. A window whose end is not
    after its start runs past midnight (22:00-06:00 opens on each listed day at 22:00)."""
    allowed = {weekday_index(d) for d in days}
    overnight = minutes(end) <= minutes(start)
    today = now.astimezone(zone).date()
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        opens = _at(day, start, zone)
        closes = _at(day + timedelta(days=1) if overnight else day, end, zone)
        if opens <= now < closes:
            return now
        if now < opens:
            return opens
    raise ValueError("a window needs at least one weekday")  # unreachable: days is never empty


def local_moment(day: date, hhmm: str, zone: tzinfo) -> datetime:
    """The UTC instant of `hhmm` wall-clock time on `day` in `zone`."""
    return _at(day, hhmm, zone)
