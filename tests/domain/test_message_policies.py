"""The dispatcher's decisions as pure functions: policy order, quiet hours across DST, frequency cap,
retries, the crash policy, and the checks of settings and senders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nurture.domain.errors import Invalid
from nurture.domain.messages.delivery import DeliveryResult, Outcome
from nurture.domain.messages.outbox import OutboxMessage, Source, Status
from nurture.domain.messages.policies import (
    Action,
    Reason,
    Recipient,
    after_lease_expiry,
    after_result,
    cap_decision,
    decide,
    quiet_allows,
    quiet_until,
    retry_delay,
)
from nurture.domain.messages.senders import MASK, check_sender, check_smtp_url, masked_url
from nurture.domain.messages.settings import (
    FrequencyCap,
    MessagingSettings,
    QuietHours,
    RetryPolicy,
    parse_settings,
)
from nurture.domain.subscriptions import Status as Consent

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday; 15:00 in Berlin
MESSAGE = OutboxMessage(
    workspace_id="w",
    id="m",
    contact_id="c",
    channel="email",
    category="marketing",
    topic=None,
    template_id="t",
    template_version=None,
    sender_id=None,
    source=Source.JOURNEY,
    source_key="run:node:0",
    journey_id=None,
    node_id=None,
    campaign_id=None,
    context={},
    to_address=None,
    attempts=1,
    created_at=NOW,
)
OK = Recipient("ann@example.com", "Europe/Berlin", None, None, None)
TOPICS = {("email", "news"): Consent.SUBSCRIBED, ("email", "beta"): Consent.UNSUBSCRIBED}
CAPPED = MessagingSettings(frequency_cap=FrequencyCap(max_messages=1, window_hours=24))
QUIET = MessagingSettings(quiet_hours=QuietHours(start=time(13), end=time(16)))  # 15:00 Berlin is quiet
BOTH = MessagingSettings(
    frequency_cap=FrequencyCap(max_messages=1, window_hours=24, over_cap="skip"),
    quiet_hours=QuietHours(start=time(13), end=time(16)),
)
SENT_EARLIER = (NOW - timedelta(hours=1),)

# (case, message changes, recipient (None: no contact), settings, expected action, expected reason)
CASES = [
    ("plain marketing", {}, OK, MessagingSettings(), Action.SEND, None),
    ("no contact", {}, None, MessagingSettings(), Action.SKIP, Reason.NO_CONTACT),
    ("no address", {}, replace(OK, address=None), MessagingSettings(), Action.SKIP, Reason.NO_ADDRESS),
    (
        "suppression before consent",
        {},
        replace(OK, suppressed="hard_bounce", channel_consent=Consent.UNSUBSCRIBED),
        MessagingSettings(),
        Action.SKIP,
        Reason.SUPPRESSED,
    ),
    (
        "suppression stops transactional too",
        {"category": "transactional"},
        replace(OK, suppressed="complaint"),
        MessagingSettings(),
        Action.SKIP,
        Reason.SUPPRESSED,
    ),
    (
        "suppression stops test sends too",
        {"source": Source.TEST},
        replace(OK, suppressed="erased"),
        MessagingSettings(),
        Action.SKIP,
        Reason.SUPPRESSED,
    ),
    (
        "channel unsubscribed",
        {},
        replace(OK, channel_consent=Consent.UNSUBSCRIBED),
        MessagingSettings(),
        Action.SKIP,
        Reason.UNSUBSCRIBED,
    ),
    (
        "channel pending (double opt-in unconfirmed)",
        {},
        replace(OK, channel_consent=Consent.PENDING),
        MessagingSettings(),
        Action.SKIP,
        Reason.NO_CONSENT,
    ),
    (
        "transactional ignores opt-outs",
        {"category": "transactional", "topic": "news"},
        replace(OK, channel_consent=Consent.UNSUBSCRIBED, topic_consent=Consent.UNSUBSCRIBED),
        BOTH,
        Action.SEND,
        None,
    ),
    ("opt-out topic without a row", {"topic": "news"}, OK, MessagingSettings(), Action.SEND, None),
    (
        "opt-in topic without a row",
        {"topic": "beta"},
        OK,
        MessagingSettings(),
        Action.SKIP,
        Reason.NO_CONSENT,
    ),
    (
        "opt-in topic subscribed",
        {"topic": "beta"},
        replace(OK, topic_consent=Consent.SUBSCRIBED),
        MessagingSettings(),
        Action.SEND,
        None,
    ),
    (
        "topic unsubscribed",
        {"topic": "news"},
        replace(OK, topic_consent=Consent.UNSUBSCRIBED),
        MessagingSettings(),
        Action.SKIP,
        Reason.UNSUBSCRIBED,
    ),
    ("unknown topic", {"topic": "gone"}, OK, MessagingSettings(), Action.SKIP, Reason.UNKNOWN_TOPIC),
    ("sms needs an opt-in", {"channel": "sms"}, OK, MessagingSettings(), Action.SKIP, Reason.NO_CONSENT),
    (
        "sms with an opt-in",
        {"channel": "sms"},
        replace(OK, channel_consent=Consent.SUBSCRIBED),
        MessagingSettings(),
        Action.SEND,
        None,
    ),
    (
        "consent before the cap",
        {"topic": "beta"},
        replace(OK, recent=SENT_EARLIER),
        CAPPED,
        Action.SKIP,
        Reason.NO_CONSENT,
    ),
    ("over the cap: defer", {}, replace(OK, recent=SENT_EARLIER), CAPPED, Action.DEFER, Reason.FREQUENCY_CAP),
    (
        "the cap before quiet hours",
        {},
        replace(OK, recent=SENT_EARLIER),
        BOTH,
        Action.SKIP,
        Reason.FREQUENCY_CAP,
    ),
    ("quiet hours", {}, OK, QUIET, Action.DEFER, Reason.QUIET_HOURS),
    ("quiet hours use the contact's zone", {}, replace(OK, timezone="Asia/Tokyo"), QUIET, Action.SEND, None),
    (
        "test sends skip consent, cap and quiet hours",
        {"source": Source.TEST},
        replace(OK, channel_consent=Consent.UNSUBSCRIBED, recent=SENT_EARLIER),
        BOTH,
        Action.SEND,
        None,
    ),
]


@pytest.mark.parametrize(
    ("changes", "recipient", "settings", "action", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_policies_in_order(
    changes: dict[str, object],
    recipient: Recipient | None,
    settings: MessagingSettings,
    action: Action,
    reason: Reason | None,
) -> None:
    decision = decide(replace(MESSAGE, **changes), recipient, TOPICS, settings, NOW)  # type: ignore[arg-type]
    assert (decision.action, decision.reason) == (action, reason)


NIGHT = QuietHours(start=time(21), end=time(8), fallback_timezone="Europe/Berlin")


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # 23:30 on the Saturday before Berlin springs forward (02:00 → 03:00): 08:00 CEST = 06:00 UTC
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "Europe/Berlin", datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        # the night Berlin falls back (03:00 → 02:00): 08:00 CET = 07:00 UTC
        (
            datetime(2026, 10, 24, 22, 30, tzinfo=UTC),
            "Europe/Berlin",
            datetime(2026, 10, 25, 7, 0, tzinfo=UTC),
        ),
        # New York springs forward on 8 March 2026: 08:00 EDT = 12:00 UTC
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), "America/New_York", datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # no zone: the fallback (Berlin)
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), None, datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        # an unknown zone name also falls back
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "Mars/Olympus", datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        # allowed now
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/Berlin", None),
    ],
)
def test_quiet_hours_end_at_local_morning_across_dst(
    now: datetime, zone: str | None, expected: datetime
) -> None:
    assert quiet_until(now, zone, NIGHT) == expected


def test_a_quiet_end_the_clocks_skip_is_read_after_the_gap() -> None:
    # quiet 01:00 to 02:30; on 29 March 2026 Berlin has no 02:30: sending resumes at 03:30 CEST (01:30 UTC)
    quiet = QuietHours(start=time(1), end=time(2, 30))
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET
    assert quiet_until(now, "Europe/Berlin", quiet) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_days_without_sending_defer_to_the_next_allowed_day() -> None:
    weekdays = QuietHours(start=time(20), end=time(9), days=("mon", "tue", "wed", "thu", "fri"))
    friday_night = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
    assert quiet_until(friday_night, "UTC", weekdays) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Santiago",
    "UTC",
]


@given(
    moment=st.datetimes(  # hypothesis takes naive bounds and adds the zone
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001
        max_value=datetime(2028, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from(ZONES),
    start=st.times(),
    end=st.times(),
    days=st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1),
)
def test_a_deferred_message_is_never_sent_in_quiet_hours_nor_later_than_needed(
    moment: datetime, zone: str, start: time, end: time, days: set[str]
) -> None:
    if start == end:
        return
    quiet = QuietHours(start=start, end=end, days=tuple(days))  # type: ignore[arg-type]
    until = quiet_until(moment, zone, quiet)
    local = ZoneInfo(zone)
    if until is None:
        assert quiet_allows(moment.astimezone(local), quiet)
        return
    assert until > moment
    assert quiet_allows(until.astimezone(local), quiet)
    # no allowed minute between now and then (checked at minute steps, at most a week)
    probe = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while probe < until - timedelta(minutes=1):
        assert not quiet_allows(probe.astimezone(local), quiet), probe
        probe += timedelta(minutes=17)


def test_the_cap_defers_until_enough_messages_have_left_the_window() -> None:
    cap = FrequencyCap(max_messages=2, window_hours=10)
    sent = [NOW - timedelta(hours=h) for h in (9, 5, 1, 11)]  # the 11-hour-old one is outside
    decision = cap_decision(sent, cap, NOW)
    assert decision is not None
    assert (decision.action, decision.until) == (Action.DEFER, NOW + timedelta(hours=5))
    assert cap_decision(sent[2:], cap, NOW) is None
    skip = cap_decision(sent, cap.model_copy(update={"over_cap": "skip"}), NOW)
    assert skip is not None
    assert (skip.action, skip.reason) == (Action.SKIP, Reason.FREQUENCY_CAP)


def test_retries_back_off_exponentially_up_to_the_cap_then_fail() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_seconds=30, max_backoff_seconds=100)
    assert [retry_delay(n, policy).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    retry = DeliveryResult(Outcome.RETRY, 421)
    settled = after_result(2, retry, policy, NOW)
    assert (settled.status, settled.reason, settled.due_at) == (
        Status.PENDING,
        Reason.RETRY,
        NOW + timedelta(seconds=60),
    )
    assert after_result(4, retry, policy, NOW).reason is Reason.RETRIES_EXHAUSTED
    bounce = after_result(1, DeliveryResult(Outcome.HARD_BOUNCE, 550, "5.1.1"), policy, NOW)
    assert (bounce.status, bounce.reason, bounce.suppress) == (Status.FAILED, Reason.HARD_BOUNCE, True)
    refused = after_result(1, DeliveryResult(Outcome.FAILED, 554, "5.7.1"), policy, NOW)
    assert (refused.status, refused.suppress) == (Status.FAILED, False)
    assert after_result(1, DeliveryResult(Outcome.ACCEPTED, 250), policy, NOW).status is Status.SENT


def test_after_a_crash_marketing_is_unknown_and_transactional_resent_unless_disabled() -> None:
    assert after_lease_expiry("marketing", MessagingSettings()) is Status.UNKNOWN
    assert after_lease_expiry("transactional", MessagingSettings()) is Status.PENDING
    no_resend = MessagingSettings(resend_unknown_transactional=False)
    assert after_lease_expiry("transactional", no_resend) is Status.UNKNOWN


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"frequency_cap": {"max_messages": 0, "window_hours": 24}}, "frequency_cap.max_messages"),
        ({"frequency_cap": {"max_messages": 2}}, "frequency_cap.window_hours"),
        (
            {"frequency_cap": {"max_messages": 2, "window_hours": 1, "over_cap": "drop"}},
            "frequency_cap.over_cap",
        ),
        ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"start": "08:00", "end": "08:00"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "21:00", "end": "08:00", "days": []}}, "quiet_hours.days"),
        ({"quiet_hours": {"start": "21:00", "end": "08:00", "days": ["someday"]}}, "quiet_hours.days[0]"),
        (
            {"quiet_hours": {"start": "21:00", "end": "08:00", "fallback_timezone": "Mars/Base"}},
            "quiet_hours.fallback_timezone",
        ),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"lease_seconds": 5}, "lease_seconds"),
        ({"postal_address": "x" * 501}, "postal_address"),
        ({"opt_in_channels": ["fax"]}, "opt_in_channels[0]"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_settings_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_settings(body)
    assert field in [e.field for e in caught.value.errors], caught.value.errors


def test_settings_round_trip_as_a_document() -> None:
    body = {
        "postal_address": " 1 Main St ",
        "frequency_cap": {"max_messages": 3, "window_hours": 168},
        "quiet_hours": {"start": "21:00", "end": "08:00", "days": ["sun", "mon"]},
    }
    settings = parse_settings(body)
    assert settings.postal_address == "1 Main St"
    assert settings.quiet_hours is not None
    assert settings.quiet_hours.days == ("mon", "sun")
    assert parse_settings(settings.document()) == settings


SENDER = {"name": "Main", "from_name": "Acme", "from_email": "News@Acme.example.com"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"from_email": "not an address"}, "from_email"),
        ({"reply_to": "nope@"}, "reply_to"),
        ({"smtp_url": "http://mail.example.com"}, "smtp_url"),
        ({"smtp_url": "smtp://"}, "smtp_url"),
        ({"smtp_url": "smtp://u:****@mail.example.com"}, "smtp_url"),
        ({"smtp_url": "smtp://mail.example.com?pool=9"}, "smtp_url"),
        ({"smtp_url": "smtps://mail.example.com?starttls=true"}, "smtp_url"),
        ({"rate_per_second": 0}, "rate_per_second"),
        ({"dkim_domain": "exa mple.com", "dkim_selector": "s1", "dkim_key": "x"}, "dkim_domain"),
        ({"dkim_domain": "example.com", "dkim_selector": "s1"}, "dkim_domain"),
        ({"dkim_domain": "example.com", "dkim_selector": "s 1", "dkim_key": "x"}, "dkim_selector"),
        ({"dkim_domain": "example.com", "dkim_selector": "s1", "dkim_key": "not a key"}, "dkim_key"),
    ],
)
def test_bad_senders_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_sender({**SENDER, **changes})
    assert field in [e.field for e in caught.value.errors], caught.value.errors


def test_smtp_passwords_are_masked_and_a_masked_url_keeps_the_stored_password() -> None:
    stored = "smtps://mailer:s3cret@smtp.example.com:465"
    shown = masked_url(stored)
    assert shown == f"smtps://mailer:{MASK}@smtp.example.com:465"
    assert check_smtp_url(shown or "", stored) == stored
    assert check_smtp_url("smtp://smtp.example.com:587") == "smtp://smtp.example.com:587"
    # every URL the SMTP channel reads is a sender's URL too
    for url in ("smtp+starttls://u:p@smtp.example.com", "smtp://relay.local?starttls=false&connections=8"):
        assert check_smtp_url(url) == url
    assert masked_url("smtp://smtp.example.com") == "smtp://smtp.example.com"
    checked = check_sender(SENDER)
    assert (checked.from_email, checked.is_default) == ("news@acme.example.com", False)
