"""Webhook endpoints: what a workspace subscribes, and the rules for their fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from nurture.domain.errors import Invalid
from nurture.domain.webhooks.signing import secret_key

MAX_URL = 2000
MAX_DESCRIPTION = 2000


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not tried yet
    FAILED = "failed"  # the last attempt failed; the next one is scheduled
    DELIVERED = "delivered"  # the endpoint answered 2xx
    DEAD = "dead"  # retries ran out (24 hours), or the endpoint is gone: redeliver by hand


class Format(StrEnum):
    STANDARD = "standard"  # the event body, signed as Standard Webhooks
    SLACK = "slack"  # a Slack message body ({"text", "blocks"}), unsigned: the URL is the secret


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    description: str | None
    event_types: list[str]
    secret: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Delivery:
    workspace_id: str
    id: str
    endpoint_id: str | None
    url: str | None
    format: Format
    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    retry_until: datetime
    last_attempt_at: datetime | None
    response_code: int | None
    response_body: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime


def check_url(value: Any, field: str = "url") -> str:
    """An absolute http(s) URL. Plain http is allowed (internal receivers, tests on loopback); the
    signature, not the transport, is what proves the sender."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise Invalid.one(field, f"must be an http or https URL of at most {MAX_URL} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid.one(field, "must be an absolute http or https URL, e.g. https://example.com/hooks")
    if parts.username or parts.password:
        raise Invalid.one(field, "must not carry a user name or password; the signature authenticates")
    return value


def check_secret(value: Any, field: str = "secret") -> str:
    if not isinstance(value, str):
        raise Invalid.one(field, "must be a string: whsec_ followed by base64")
    try:
        secret_key(value)
    except ValueError as exc:
        raise Invalid.one(field, str(exc)) from None
    return value


def check_description(value: Any, field: str = "description") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise Invalid.one(field, f"must be text of at most {MAX_DESCRIPTION} characters")
    return value
