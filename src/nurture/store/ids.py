"""Identifiers: ULIDs (time-ordered, 26 characters), so ids sort by creation and page well."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
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
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
