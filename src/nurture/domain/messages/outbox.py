"""The outbox's vocabulary: statuses, sources, and the deterministic send id.

A send id is derived from where the message came from, so asking twice for the same message (a journey
step retried after a crash, a campaign resumed, an API client retrying with the same idempotency key)
names the same outbox row, and the primary key refuses the second one. The id is also the email
Message-ID's left part and the provider's idempotency key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True)
class OutboxMessage:
    """An outbox row as the dispatcher holds it after claiming it."""

    workspace_id: str
    id: str
    contact_id: str
    channel: str
    category: str
    topic: str | None
    template_id: str | None
    template_version: int | None
    sender_id: str | None
    source: Source
    source_key: str
    journey_id: str | None
    node_id: str | None
    campaign_id: str | None
    context: dict[str, Any]
    to_address: str | None  # set at enqueue for test sends; otherwise the contact's address
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Message:
    """An outbox row as the API shows it: where it came from and what became of it."""

    id: str
    contact_id: str
    channel: str
    category: str
    topic: str | None
    template_id: str | None
    template_version: int | None
    sender_id: str | None
    source: str
    journey_id: str | None
    node_id: str | None
    campaign_id: str | None
    to_address: str | None
    subject: str | None
    status: str
    reason: str | None
    detail: str | None
    attempts: int
    due_at: datetime
    provider_id: str | None
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime
    context: dict[str, Any]
