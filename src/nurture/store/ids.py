"""Identifiers: ULIDs (time-ordered, 26 characters), so ids sort by creation and page well."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# every 10-bit value as its two characters: 13 lookups encode an id (26 single ones took 3x as long)
_PAIRS = [first + second for first in _ALPHABET for second in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))
_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A ULID: 48 bits of milliseconds since the epoch, then 80 random bits, in Crockford base 32.

    Monotonic within a process: an id made in the same millisecond as the last one is that one plus 1,
    so ids sort in the order they were made and an id cursor never skips a row added behind it."""
    global _last
    candidate = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    with _lock:
        value = _last = max(candidate, _last + 1)
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])
