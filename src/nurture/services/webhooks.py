"""Outbound webhooks: publishing events into the delivery log (in the caller's transaction), and the
endpoints, log and redelivery behind the admin API.

`publish` is the outbox pattern: the delivery rows commit together with whatever the caller changed, or
not at all, and the webhook worker posts them after commit. Activities (segment entered, stage
changed, …) are published by the worker itself from the activity feed (`webhook_worker.py`); message
events by `message_events.record`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from nurture.channels.http import HttpRequest
from nurture.domain.contacts import Page
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.domain.webhooks import signing
from nurture.domain.webhooks.endpoints import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    Format,
    check_description,
    check_secret,
    check_url,
)
from nurture.domain.webhooks.events import EVENT_TYPES, TEST, WebhookEvent, check_event_types, subscribed
from nurture.domain.webhooks.retry import RETRY_FOR
from nurture.services.clock import Clock
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.store import activities as activity_store
from nurture.store import webhooks as store
from nurture.store.db import Database
from nurture.store.ids import new_id

MAX_ENDPOINTS = 50
MAX_PAGE = 500
EDITABLE = ("url", "description", "event_types", "secret", "enabled")


def publish(
    conn: Connection,
    workspace_id: str,
    event_type: str,
    payload: Mapping[str, Any],
    now: datetime,
    *,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> int:
    """Queue one event for every enabled endpoint of the workspace subscribed to `event_type`, in the
    caller's transaction. `event_id` (the `webhook-id`) defaults to a new one; give a stable one when
    the same happening may be published twice. Returns the deliveries written."""
    event = WebhookEvent(event_id or f"evt_{new_id()}", event_type, occurred_at or now, dict(payload))
    return publish_events(conn, workspace_id, [event], now)


def publish_events(
    conn: Connection,
    workspace_id: str,
    events: Sequence[WebhookEvent],
    now: datetime,
    *,
    endpoints: Sequence[Endpoint] | None = None,
    since_endpoint_created: bool = False,
) -> int:
    """Fan `events` out to the subscribed endpoints. An event an endpoint already has is skipped.
    With `since_endpoint_created`, an endpoint gets only events that happened after it was made."""
    unknown = {e.type for e in events} - set(EVENT_TYPES)
    if unknown:
        raise ValueError(f"unknown webhook event types {sorted(unknown)}: add them to EVENT_TYPES")
    if endpoints is None:
        endpoints = store.endpoints(conn, workspace_id, enabled_only=True)
    rows = [
        delivery_row(workspace_id, event, now, endpoint_id=endpoint.id)
        for endpoint in endpoints
        for event in events
        if subscribed(endpoint.event_types, event.type)
        and not (since_endpoint_created and event.occurred_at < endpoint.created_at)
    ]
    return store.insert_deliveries(conn, rows) if rows else 0


def delivery_row(
    workspace_id: str,
    event: WebhookEvent,
    now: datetime,
    *,
    endpoint_id: str | None = None,
    url: str | None = None,
    format: Format = Format.STANDARD,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new delivery, due now, retried for 24 hours."""
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "endpoint_id": endpoint_id,
        "url": url,
        "format": format.value,
        "event_id": event.id,
        "event_type": event.type,
        "payload": event.body() if body is None else body,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "retry_until": now + RETRY_FOR,
        "last_attempt_at": None,
        "response_code": None,
        "response_body": None,
        "error": None,
        "created_at": now,
        "updated_at": now,
    }


def signed_request(
    url: str, secret: str, event_id: str, body: Mapping[str, Any], at: datetime
) -> HttpRequest:
    """A Standard Webhooks request for one attempt: JSON body, signed at `at`. Also what a journey's
    webhook action sends when it wants its call signed (send it with `HttpCaller.call`)."""
    content = orjson.dumps(dict(body))
    headers = {"content-type": "application/json", **signing.headers(secret, event_id, at, content)}
    return HttpRequest(url, content, headers)


def new_secret() -> str:
    return signing.secret_from_bytes(secrets.token_bytes(32))


def follow_activities(conn: Connection, workspace_id: str, now: datetime) -> None:
    """Start the activity publisher at the feed's end (called when a workspace's first enabled endpoint
    appears), so a new endpoint is not sent the workspace's history."""
    newest = activity_store.newest_id(conn, workspace_id) or ""
    store.put_cursor(
        conn,
        workspace_id,
        {"position": newest, "recheck_from": newest, "recheck_to": newest, "recheck_at": now},
    )


class WebhookService:
    """Endpoints, the delivery log and redelivery, for the admin API."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, workspace_id: str, body: Mapping[str, Any]) -> Endpoint:
        values = {
            "url": check_url(body.get("url")),
            "description": check_description(body.get("description")),
            "event_types": check_event_types(body.get("event_types")),
            "secret": check_secret(body["secret"]) if body.get("secret") is not None else new_secret(),
            "enabled": _check_enabled(body.get("enabled", True)),
        }
        now = self.clock.now()
        endpoint_id = new_id()
        with self.db.write() as conn:
            if store.count_endpoints(conn, workspace_id) >= MAX_ENDPOINTS:
                raise Conflict(f"a workspace has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
            if values["enabled"] and not store.endpoints(conn, workspace_id, enabled_only=True):
                follow_activities(conn, workspace_id, now)
            store.insert_endpoint(
                conn,
                workspace_id,
                {"id": endpoint_id, **values, "disabled_reason": None, "created_at": now, "updated_at": now},
            )
            return self._get(conn, workspace_id, endpoint_id)

    def list(self, workspace_id: str) -> list[Endpoint]:
        with self.db.read() as conn:
            return store.endpoints(conn, workspace_id)

    def get(self, workspace_id: str, endpoint_id: str) -> Endpoint:
        with self.db.read() as conn:
            return self._get(conn, workspace_id, endpoint_id)

    def change(self, workspace_id: str, endpoint_id: str, changes: Mapping[str, Any]) -> Endpoint:
        """Change the fields given; enabling an endpoint clears why it was disabled."""
        checks: dict[str, Callable[[Any], Any]] = {
            "url": check_url,
            "description": check_description,
            "event_types": check_event_types,
            "secret": check_secret,
            "enabled": _check_enabled,
        }
        values = {name: checks[name](changes[name]) for name in EDITABLE if name in changes}
        now = self.clock.now()
        with self.db.write() as conn:
            current = self._get(conn, workspace_id, endpoint_id)
            if values.get("enabled") and not current.enabled:
                values["disabled_reason"] = None
                if not store.endpoints(conn, workspace_id, enabled_only=True):
                    follow_activities(conn, workspace_id, now)
            if values.get("enabled") is False and current.enabled:
                values["disabled_reason"] = "disabled through the API"
                store.kill_pending(conn, workspace_id, endpoint_id, "the endpoint was disabled", now)
            store.update_endpoint(conn, workspace_id, endpoint_id, {**values, "updated_at": now})
            return self._get(conn, workspace_id, endpoint_id)

    def delete(self, workspace_id: str, endpoint_id: str) -> None:
        with self.db.write() as conn:
            if not store.delete_endpoint(conn, workspace_id, endpoint_id):
                raise NotFound(f"no webhook endpoint {endpoint_id} in this workspace")

    def send_test(self, workspace_id: str, endpoint_id: str) -> Delivery:
        """Queue a `webhook.test` event for this endpoint alone (whatever it subscribes to)."""
        now = self.clock.now()
        with self.db.write() as conn:
            endpoint = self._get(conn, workspace_id, endpoint_id)
            if not endpoint.enabled:
                raise Conflict("the endpoint is disabled; enable it first")
            event = WebhookEvent(f"evt_{new_id()}", TEST, now, {"endpoint_id": endpoint_id})
            row = delivery_row(workspace_id, event, now, endpoint_id=endpoint_id)
            store.insert_deliveries(conn, [row])
            found = store.get_delivery(conn, workspace_id, row["id"])
            assert found is not None
            return found

    def deliveries(
        self,
        workspace_id: str,
        endpoint_id: str | None = None,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[Delivery]:
        """The delivery log, newest first."""
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
        wanted = None
        if status is not None:
            try:
                wanted = DeliveryStatus(status)
            except ValueError:
                known = ", ".join(s.value for s in DeliveryStatus)
                raise Invalid.one("status", f"must be one of {known}") from None
        before = decode_id_cursor(cursor)
        with self.db.read() as conn:
            if endpoint_id is not None:
                self._get(conn, workspace_id, endpoint_id)
            found = store.deliveries(
                conn, workspace_id, endpoint_id=endpoint_id, status=wanted, before=before, limit=limit + 1
            )
        more = len(found) > limit
        found = found[:limit]
        return Page(found, encode_id_cursor(found[-1].id) if more else None)

    def delivery(self, workspace_id: str, delivery_id: str) -> Delivery:
        with self.db.read() as conn:
            return self._delivery(conn, workspace_id, delivery_id)

    def redeliver(self, workspace_id: str, delivery_id: str) -> Delivery:
        """Queue a dead (or delivered) delivery again, now, with a fresh 24 hours of retries; same
        `webhook-id`, so a receiver that did get it can tell."""
        now = self.clock.now()
        with self.db.write() as conn:
            found = self._delivery(conn, workspace_id, delivery_id)
            if found.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
                raise Conflict(
                    f"delivery {delivery_id} is {found.status.value}: it will be tried again anyway"
                )
            if found.endpoint_id is not None:
                endpoint = self._get(conn, workspace_id, found.endpoint_id)
                if not endpoint.enabled:
                    raise Conflict("the endpoint is disabled; enable it before redelivering")
            store.update_delivery(
                conn,
                workspace_id,
                delivery_id,
                {
                    "status": DeliveryStatus.PENDING.value,
                    "next_attempt_at": now,
                    "retry_until": now + RETRY_FOR,
                    "updated_at": now,
                },
            )
            return self._delivery(conn, workspace_id, delivery_id)

    @staticmethod
    def _get(conn: Connection, workspace_id: str, endpoint_id: str) -> Endpoint:
        found = store.get_endpoint(conn, workspace_id, endpoint_id)
        if found is None:
            raise NotFound(f"no webhook endpoint {endpoint_id} in this workspace")
        return found

    @staticmethod
    def _delivery(conn: Connection, workspace_id: str, delivery_id: str) -> Delivery:
        found = store.get_delivery(conn, workspace_id, delivery_id)
        if found is None:
            raise NotFound(f"no webhook delivery {delivery_id} in this workspace")
        return found


def _check_enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid.one("enabled", "must be true or false")
    return value
