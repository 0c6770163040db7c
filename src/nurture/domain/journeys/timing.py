"""When time-based triggers fire: a date attribute coming round (a birthday every year at 09:00 in
the contact's zone, 7 days before `renewal_date`), and cron schedules in a zone."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, tzinfo

from croniter import croniter

from nurture.domain.conditions.matching import calendar_date
from nurture.domain.journeys.triggers import DateTrigger
from nurture.domain.journeys.windows import local_moment


def next_cron(expression: str, zone: tzinfo, after: datetime) -> datetime:
    """The first time strictly after `after` that the cron names on the wall clock of `zone` (UTC)."""
    local = after.astimezone(zone)
    following: datetime = croniter(expression, local).get_next(datetime)
    return following.astimezone(UTC)


def _on(day: date, year: int) -> date:
    """`day`'s anniversary in `year` (29 February falls on the 28th in other years)."""
    if (day.month, day.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def date_fire(trigger: DateTrigger, value: object, zone: tzinfo, after: datetime) -> datetime | None:
    """The first moment strictly after `after` that the trigger fires for a contact whose attribute
    holds `value`; None when the value is not a date or the one moment has passed."""
    day = calendar_date(value)
    if day is None:
        return None
    shift = timedelta(days=trigger.offset_days)
    if not trigger.every_year:
        moment = local_moment(day + shift, trigger.at, zone)
        return moment if moment > after else None
    this_year = after.astimezone(zone).year
    for year in range(max(this_year - 1, day.year), this_year + 2):
        moment = local_moment(_on(day, year) + shift, trigger.at, zone)
        if moment > after:
            return moment
    return None
