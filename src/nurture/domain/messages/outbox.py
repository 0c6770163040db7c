"""The outbox's vocabulary: statuses, sources, and the deterministic send id.

A send id is derived from where the message came from, so asking twice for the same message (a journey
step retried after a crash, a campaign resumed, an API client retrying with the same idempotency key)
names the same outbox row, and the primary key refuses the second one. The id is also the email
Message-ID's left part and the provider's idempotency key.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"  # waiting for dispatch (also when deferred: `due_at` moved, `reason` says why)
    SENDING = "sending"  # claimed by a dispatcher under a lease
    SENT = "sent"  # the provider accepted it
    FAILED = "failed"  # will not be sent: permanent provider error, render error, retries exhausted
    SKIPPED = "skipped"  # a policy stopped it: suppression, consent, frequency cap
    UNKNOWN = "unknown"  # a lease expired while sending: the provider may or may not have it


class Source(StrEnum):
    JOURNEY = "journey"  # key: run id, node id, iteration
    CAMPAIGN = "campaign"  # key: campaign id, contact id
    API = "api"  # key: the request's idempotency key
    TEST = "test"  # key: a test send's own id
    SYSTEM = "system"  # key: e.g. a double opt-in confirmation's id


def send_id(workspace_id: str, source: Source, source_key: str) -> str:
    """26 lowercase base32 characters (130 bits of SHA-256) naming the message from `source_key`."""
    digest = hashlib.sha256(f"{workspace_id}\x1f{source.value}\x1f{source_key}".encode()).digest()
    return base64.b32encode(digest).decode("ascii")[:26].lower()
