"""A token bucket: at most `rate` sends per second, `burst` at once after a pause.

Pure: the caller passes the time (any monotonic clock, in seconds) and waits itself, so a test can
drive it with a counter. Reservations may run ahead of the tokens (the balance goes negative): the
n-th of many concurrent callers learns at once that it may send n/rate seconds later, so callers are
served in order and the long-run rate is exact.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if not rate > 0:
            raise ValueError("rate must be above 0")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._stamp: float | None = None

    def reserve(self, now: float) -> float:
        """Take one token at `now`; the time from which it may be used (`now` when one is free)."""
        if self._stamp is None or now > self._stamp:
            if self._stamp is not None:
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return now
        return self._stamp + -self._tokens / self.rate
