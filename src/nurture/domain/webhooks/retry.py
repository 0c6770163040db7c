"""When a failed delivery is tried again: exponential backoff with jitter, for 24 hours.

After attempt n fails, the next one waits between half and all of `FIRST_DELAY · 2^(n-1)` (at most
`MAX_DELAY`); the random part spreads the retries of many deliveries that failed together (an endpoint
coming back up is not hit by all of them in the same second). The last attempt is made at
`retry_until` itself; when that one fails too, the delivery is dead (dead-lettered: kept in the log and
redeliverable by hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from nurture.domain.webhooks.endpoints import DeliveryStatus

RETRY_FOR = timedelta(hours=24)
FIRST_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=2)


def backoff(attempts: int) -> timedelta:
    """The full delay after `attempts` failed attempts (1, 2, …), before jitter."""
    if attempts < 1:
        return timedelta(0)
    if attempts > 20:  # 10 s · 2^19 is far beyond the cap already
        return MAX_DELAY
    delay: timedelta = FIRST_DELAY * 2 ** (attempts - 1)
    return min(delay, MAX_DELAY)


def next_attempt(attempts: int, now: datetime, retry_until: datetime, jitter: float) -> datetime | None:
    """When to try again after the `attempts`-th attempt failed at `now`, or None when the delivery is
    dead. `jitter` in [0, 1) picks where in the second half of the backoff the retry lands."""
    if now >= retry_until:
        return None
    delay = backoff(attempts) * (0.5 + min(max(jitter, 0.0), 1.0) / 2)
    return min(now + delay, retry_until)


@dataclass(frozen=True)
class AttemptOutcome:
    status: DeliveryStatus
    next_attempt_at: datetime | None
    endpoint_gone: bool = False  # the receiver answered 410 Gone: disable the endpoint


def after_attempt(
    attempts: int, status_code: int | None, now: datetime, retry_until: datetime, jitter: float
) -> AttemptOutcome:
    """What the `attempts`-th attempt (1, 2, …) answering `status_code` (None: no answer) leads to.
    2xx delivers. 410 Gone means the receiver wants no more: the delivery is dead and the endpoint is
    disabled. Anything else (other 4xx included: a receiver misconfigured for an hour should still get
    its events once fixed) is retried until `retry_until`."""
    if status_code is not None and 200 <= status_code < 300:
        return AttemptOutcome(DeliveryStatus.DELIVERED, None)
    if status_code == 410:
        return AttemptOutcome(DeliveryStatus.DEAD, None, endpoint_gone=True)
    again = next_attempt(attempts, now, retry_until, jitter)
    return AttemptOutcome(DeliveryStatus.FAILED if again else DeliveryStatus.DEAD, again)
