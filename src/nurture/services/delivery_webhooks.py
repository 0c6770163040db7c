"""Delivery-event webhooks per workspace and provider: configuration (a secret path token, shown once,
plus what the provider signs with) and receiving a request."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from nurture.domain.bounces.webhooks import check_config, check_provider, read
from nurture.domain.errors import NotFound, Unauthorized
from nurture.domain.keys import hash_key
from nurture.services.clock import Clock
from nurture.services.deliveries import Applied, DeliveryService
from nurture.store import deliveries as store
from nurture.store.db import Database

log = structlog.get_logger("nurture.deliveries")
PATH = "/api/v1/delivery-reports"
TOKEN_PREFIX = "nd_"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True)
class Configured:
    provider: str
    token: str  # shown once; the webhook URL's last path segment
    path: str


@dataclass(frozen=True)
class WebhookInfo:
    provider: str
    path_prefix: str  # the token itself is never shown again
    settings: list[str]  # names of the configured settings (values are secret)
    created_at: datetime


@dataclass(frozen=True)
class Receipt:
    applied: Applied
    subscribe_url: str | None = None


class DeliveryWebhooks:
    def __init__(self, db: Database, clock: Clock, deliveries: DeliveryService) -> None:
        self.db = db
        self.clock = clock
        self.deliveries = deliveries

    def configure(self, workspace_id: str, provider: str, body: Any) -> Configured:
        """Set (or replace) a provider's settings; a new token replaces the old one."""
        config = check_config(provider, body)
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        with self.db.write() as conn:
            store.put_webhook(conn, workspace_id, provider, hash_key(token), config, self.clock.now())
        return Configured(provider, token, f"{PATH}/{provider}/{token}")

    def list(self, workspace_id: str) -> list[WebhookInfo]:
        with self.db.read() as conn:
            found = store.webhooks(conn, workspace_id)
        return [
            WebhookInfo(w.provider, f"{PATH}/{w.provider}/", sorted(w.config), w.created_at) for w in found
        ]

    def remove(self, workspace_id: str, provider: str) -> None:
        check_provider(provider)
        with self.db.write() as conn:
            if not store.delete_webhook(conn, workspace_id, provider):
                raise NotFound(f"no {provider} delivery webhook is configured")

    def receive(self, provider: str, token: str, body: bytes, headers: dict[str, str]) -> Receipt:
        """Find the workspace by token, verify the provider's signature, apply the reports."""
        check_provider(provider)
        with self.db.read() as conn:
            webhook = store.webhook_by_token(conn, provider, hash_key(token))
        if webhook is None:
            raise Unauthorized(f"unknown {provider} delivery webhook token")
        received = read(provider, webhook.config, body, headers, self.clock.now())
        if received.subscribe_url:
            log.warning(
                "SNS subscription to confirm: open the SubscribeURL once",
                workspace_id=webhook.workspace_id,
                subscribe_url=received.subscribe_url,
            )
            return Receipt(Applied(), received.subscribe_url)
        return Receipt(self.deliveries.apply(webhook.workspace_id, received.reports))
