"""API keys: a write key only ingests events; a secret key administers one workspace."""

from __future__ import annotations

import hashlib
from enum import StrEnum


class KeyKind(StrEnum):
    WRITE = "write"
    SECRET = "secret"  # noqa: S105 - a key kind, not a password


PREFIXES = {KeyKind.WRITE: "nw_", KeyKind.SECRET: "ns_"}


def hash_key(token: str) -> str:
    """Keys carry 192 random bits, so a plain SHA-256 is enough to store them safely (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """The part of a key that may be shown in listings to tell keys apart."""
    return token[:10]
