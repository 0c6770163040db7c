"""The token bucket, driven by a counter for a clock: the achieved rate is within 5% of the set rate
(here it is exact), whatever the number of concurrent senders, and a pause never banks more than the
burst."""

from __future__ import annotations

import heapq

import pytest

from nurture.channels.rate import TokenBucket


def simulate(bucket: TokenBucket, senders: int, messages: int, send_seconds: float) -> list[float]:
    """`senders` workers (connections), each reserving a token, waiting for it, then taking
    `send_seconds` to send; returns the times sends started, in order."""
    free_at = [(0.0, n) for n in range(senders)]
    started: list[float] = []
    for _ in range(messages):
        now, worker = heapq.heappop(free_at)
        start = max(now, bucket.reserve(now))
        started.append(start)
        heapq.heappush(free_at, (start + send_seconds, worker))
    return sorted(started)


@pytest.mark.parametrize(
    ("rate", "senders", "send_seconds"),
    [(50.0, 1, 0.001), (50.0, 8, 0.001), (7.5, 4, 0.05), (1000.0, 16, 0.0004), (0.5, 2, 0.01)],
)
def test_achieved_rate_within_five_percent(rate: float, senders: int, send_seconds: float) -> None:
    started = simulate(TokenBucket(rate), senders, 500, send_seconds)
    achieved = (len(started) - 1) / (started[-1] - started[0])
    assert achieved == pytest.approx(rate, rel=0.05)
    # and never more than rate + burst in any one-second window
    for first, at in enumerate(started):
        window = [t for t in started[first:] if t < at + 1.0]
        assert len(window) <= rate + 1


def test_slow_senders_are_never_held_back() -> None:
    started = simulate(TokenBucket(100.0), 2, 200, 0.05)  # 2 connections at 20/s each: 40/s < 100/s
    assert (len(started) - 1) / (started[-1] - started[0]) == pytest.approx(40.0, rel=0.05)


def test_a_pause_banks_at_most_the_burst() -> None:
    bucket = TokenBucket(10.0, burst=5)
    assert [bucket.reserve(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.reserve(0.0) == pytest.approx(0.1)
    # an hour later: five tokens at once, the sixth after a tenth of a second
    later = [bucket.reserve(3600.0) for _ in range(6)]
    assert later[:5] == [3600.0] * 5
    assert later[5] == pytest.approx(3600.1)


def test_reservations_ahead_are_served_in_order() -> None:
    bucket = TokenBucket(4.0)
    times = [bucket.reserve(10.0) for _ in range(5)]
    assert times == pytest.approx([10.0, 10.25, 10.5, 10.75, 11.0])
    # a caller arriving while those wait queues behind them
    assert bucket.reserve(10.5) == pytest.approx(11.25)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)
