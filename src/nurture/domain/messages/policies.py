"""What the dispatcher decides for each message, as pure functions of what it loaded and `now`.

Checked in this order, the first that stops a message wins:

1. the contact still exists and has an address on the message's channel;
2. suppression: the address is on the workspace's suppression list (every message, transactional too);
3. consent (marketing only): the channel is not unsubscribed, the topic is subscribed (or, without a
   row, its default says so), and channels that need an opt-in have one;
4. frequency cap (marketing only): fewer than N marketing messages in the window, across everything;
5. quiet hours (marketing only): now is an allowed time in the contact's zone.

Test sends (a marketer's own address) check only the first two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nurture.domain.messages.delivery import DeliveryResult, Outcome
from nurture.domain.messages.outbox import OutboxMessage, Source, Status
from nurture.domain.messages.settings import (
    WEEKDAYS,
    FrequencyCap,
    MessagingSettings,
    QuietHours,
    RetryPolicy,
)
from nurture.domain.subscriptions import Status as Consent

MARKETING = "marketing"


class Reason(StrEnum):
    """Why a message was skipped, deferred, failed or left unknown (`messages.reason`)."""

    NO_CONTACT = "no_contact"  # erased before dispatch
    NO_ADDRESS = "no_address"  # no email / phone for the channel
    SUPPRESSED = "suppressed"  # on the suppression list (detail: bounce, complaint, erased, …)
    UNSUBSCRIBED = "unsubscribed"  # the contact opted out of the channel or topic
    NO_CONSENT = "no_consent"  # an opt-in topic or channel without a subscribe (or still pending)
    UNKNOWN_TOPIC = "unknown_topic"  # the message names a topic the workspace does not have
    FREQUENCY_CAP = "frequency_cap"
    QUIET_HOURS = "quiet_hours"
    RENDER_ERROR = "render_error"  # detail: the field and its error
    NO_SENDER = "no_sender"  # no from address: no sender configured and none in the template
    NO_TRANSPORT = "no_transport"  # the channel has no transport in this server
    REJECTED = "rejected"  # the provider refused it permanently (not the address's fault)
    HARD_BOUNCE = "hard_bounce"  # the address does not exist; it is now suppressed
    RETRY = "retry"  # the provider asked to try later; due_at is the next attempt
    RETRIES_EXHAUSTED = "retries_exhausted"
    LEASE_EXPIRED = "lease_expired"  # a dispatcher died while sending: unknown, or resent


class Action(StrEnum):
    SEND = "send"
    SKIP = "skip"
    DEFER = "defer"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason | None = None
    until: datetime | None = None  # DEFER: the next moment to try
    detail: str | None = None


SEND = Decision(Action.SEND)


def skip(reason: Reason, detail: str | None = None) -> Decision:
    return Decision(Action.SKIP, reason, detail=detail)


@dataclass(frozen=True)
class Recipient:
    """What the policies read about the message's contact."""

    address: str | None  # the email or phone the message would go to
    timezone: str | None
    suppressed: str | None  # the suppression's reason when the address is suppressed
    channel_consent: Consent | None  # the contact's status for the channel as a whole
    topic_consent: Consent | None  # … for the message's topic
    recent: Sequence[datetime] = ()  # when marketing messages went (or are going) to the contact


def decide(
    message: OutboxMessage,
    recipient: Recipient | None,
    topics: Mapping[tuple[str, str], Consent],
    settings: MessagingSettings,
    now: datetime,
) -> Decision:
    """Send, skip or defer `message` (see the module's order). `topics` maps (channel, topic) to the
    topic's default status for contacts without a row."""
    if recipient is None:
        return skip(Reason.NO_CONTACT)
    if not recipient.address:
        return skip(Reason.NO_ADDRESS)
    if recipient.suppressed is not None:
        return skip(Reason.SUPPRESSED, recipient.suppressed)
    if message.source is Source.TEST or message.category != MARKETING:
        return SEND
    refused = consent(message, recipient, topics, settings)
    if refused is not None:
        return refused
    if settings.frequency_cap is not None:
        capped = cap_decision(recipient.recent, settings.frequency_cap, now)
        if capped is not None:
            return capped
    if settings.quiet_hours is not None:
        until = quiet_until(now, recipient.timezone, settings.quiet_hours)
        if until is not None:
            return Decision(Action.DEFER, Reason.QUIET_HOURS, until)
    return SEND


def consent(
    message: OutboxMessage,
    recipient: Recipient,
    topics: Mapping[tuple[str, str], Consent],
    settings: MessagingSettings,
) -> Decision | None:
    """Why a marketing message may not go to this contact, or None when it may."""
    channel = recipient.channel_consent
    if channel is Consent.UNSUBSCRIBED:
        return skip(Reason.UNSUBSCRIBED, f"unsubscribed from {message.channel}")
    if channel is Consent.PENDING:
        return skip(Reason.NO_CONSENT, f"{message.channel} subscription not confirmed")
    explicit = channel is Consent.SUBSCRIBED
    if message.topic:
        default = topics.get((message.channel, message.topic))
        if default is None:
            return skip(Reason.UNKNOWN_TOPIC, f"no {message.channel} topic {message.topic!r}")
        status = recipient.topic_consent or default
        if status is Consent.UNSUBSCRIBED:
            if recipient.topic_consent is None:
                return skip(Reason.NO_CONSENT, f"topic {message.topic!r} is opt-in")
            return skip(Reason.UNSUBSCRIBED, f"unsubscribed from topic {message.topic!r}")
        if status is Consent.PENDING:
            return skip(Reason.NO_CONSENT, f"topic {message.topic!r} subscription not confirmed")
        explicit = explicit or recipient.topic_consent is Consent.SUBSCRIBED
    if message.channel in settings.opt_in_channels and not explicit:
        return skip(Reason.NO_CONSENT, f"marketing {message.channel} needs an opt-in")
    return None


def cap_decision(recent: Sequence[datetime], cap: FrequencyCap, now: datetime) -> Decision | None:
    """None when one more marketing message fits in the window ending now; else skip, or defer to the
    moment enough of the counted messages have left the window."""
    window = timedelta(hours=cap.window_hours)
    inside = sorted(t for t in recent if t > now - window)
    if len(inside) < cap.max_messages:
        return None
    detail = f"{len(inside)} marketing messages in {cap.window_hours:g} h (cap {cap.max_messages})"
    if cap.over_cap == "skip":
        return skip(Reason.FREQUENCY_CAP, detail)
    until = inside[len(inside) - cap.max_messages] + window
    return Decision(Action.DEFER, Reason.FREQUENCY_CAP, until, detail)


def zone_of(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_allows(local: datetime, quiet: QuietHours) -> bool:
    """Whether a local wall-clock moment is outside quiet hours on an allowed day."""
    if WEEKDAYS[local.weekday()] not in quiet.days:
        return False
    moment = local.time()
    if quiet.start < quiet.end:
        return not quiet.start <= moment < quiet.end
    return quiet.end <= moment < quiet.start


def quiet_until(now: datetime, timezone: str | None, quiet: QuietHours) -> datetime | None:
    """None when `now` is allowed in the zone; else the first allowed moment after it (UTC).

    Allowed time begins at a quiet window's end or at the start of an allowed day, so those local times
    are the candidates. A wall time the clocks skip (spring forward) is read with the offset before the
    gap, as RFC 5545 does (02:30 on a day that jumps from 02:00 to 03:00 is 03:30), so a message is
    never early; a repeated one (fall back) is its first occurrence.
    """
    zone = zone_of(timezone, quiet.fallback_timezone)
    if quiet_allows(now.astimezone(zone), quiet):
        return None
    today = now.astimezone(zone).date()
    for offset in range(9):
        day = today + timedelta(days=offset)
        for wall in (time(0), quiet.end):
            candidate = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
            if candidate > now and quiet_allows(candidate.astimezone(zone), quiet):
                return candidate
    raise AssertionError("quiet hours leave no allowed time in a week")  # `days` is never empty


def retry_delay(attempts: int, policy: RetryPolicy) -> timedelta:
    """The wait before attempt `attempts + 1`: exponential from `backoff_seconds`, capped."""
    exponent = min(max(attempts - 1, 0), 60)
    return timedelta(seconds=min(policy.backoff_seconds * 2**exponent, policy.max_backoff_seconds))


@dataclass(frozen=True)
class Settled:
    """A message's row after its delivery result."""

    status: Status
    reason: Reason | None
    due_at: datetime | None = None  # RETRY: when to try again
    suppress: bool = False  # put the address on the suppression list (hard bounce)


def after_result(attempts: int, result: DeliveryResult, policy: RetryPolicy, now: datetime) -> Settled:
    """What a delivery result makes of a message that has now been tried `attempts` times."""
    if result.outcome is Outcome.ACCEPTED:
        return Settled(Status.SENT, None)
    if result.outcome is Outcome.HARD_BOUNCE:
        return Settled(Status.FAILED, Reason.HARD_BOUNCE, suppress=True)
    if result.outcome is Outcome.FAILED:
        return Settled(Status.FAILED, Reason.REJECTED)
    if attempts >= policy.max_attempts:
        return Settled(Status.FAILED, Reason.RETRIES_EXHAUSTED)
    return Settled(Status.PENDING, Reason.RETRY, now + retry_delay(attempts, policy))


def after_lease_expiry(category: str, settings: MessagingSettings) -> Status:
    """A message whose dispatcher died while sending it: the provider may or may not have it.

    Marketing stays `unknown` and is never resent: its Message-ID is its send id, and a second copy of
    a promotion is worse than a missing one. Transactional messages (a receipt, a password link) are sent
    again with the same Message-ID when the workspace allows it (the default), which mailbox providers
    that dedupe on Message-ID show once."""
    if category != MARKETING and settings.resend_unknown_transactional:
        return Status.PENDING
    return Status.UNKNOWN
