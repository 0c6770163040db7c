"""Time-based triggers: dates coming round in the contact's zone, and cron schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from nurture.domain.journeys.timing import date_fire, next_cron
from nurture.domain.journeys.triggers import DateTrigger, ScheduleTrigger

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_birthday_fires_every_year_at_nine_in_the_contacts_zone() -> None:
    trigger = DateTrigger(field="attributes.birthday", every_year=True)
    after = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert date_fire(trigger, "1990-12-03", BERLIN, after) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert date_fire(trigger, "1990-06-01", BERLIN, after) == datetime(
        2027, 6, 1, 7, 0, tzinfo=UTC
    )  # summer time
    fired = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert date_fire(trigger, "1990-12-03", BERLIN, fired) == datetime(2027, 12, 3, 8, 0, tzinfo=UTC)


def test_a_leap_day_birthday_falls_on_the_28th_in_other_years() -> None:
    trigger = DateTrigger(field="attributes.birthday", every_year=True, at="10:00")
    after = datetime(2027, 1, 1, tzinfo=UTC)
    assert date_fire(trigger, "2000-02-29", UTC, after) == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


def test_days_before_a_date_fire_once() -> None:
    trigger = DateTrigger(field="attributes.renewal_date", offset_days=-7, at="09:30")
    after = datetime(2026, 11, 26, tzinfo=UTC)
    assert date_fire(trigger, "2026-12-31", UTC, after) == datetime(2026, 12, 24, 9, 30, tzinfo=UTC)
    assert date_fire(trigger, "2026-11-30", UTC, after) is None  # seven days before has passed
    assert date_fire(trigger, "not a date", UTC, after) is None
    assert date_fire(trigger, 17, UTC, after) is None


def test_cron_reads_the_wall_clock_of_its_zone() -> None:
    after = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # a Friday; Berlin moves to summer time on Sunday
    assert next_cron("0 9 * * mon", BERLIN, after) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert next_cron("30 8 * * *", UTC, after) == datetime(2026, 3, 28, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("cron", ["every monday", "0 9 * *", "0 25 * * *", "0 9 * * mon *"])
def test_bad_cron_is_refused(cron: str) -> None:
    with pytest.raises(ValidationError, match="5-field cron"):
        ScheduleTrigger(cron=cron)
