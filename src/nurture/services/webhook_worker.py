"""The webhook worker: publishes new activities to subscribed endpoints, then posts due deliveries
(webhooks and Slack alerts) and records each attempt, with retries on the backoff schedule of
`domain/webhooks/retry.py`.

Each batch: claim up to `batch` due deliveries in a short write transaction (the claim moves their next
attempt a lease ahead and commits), post them in parallel over one pooled HTTP client with nothing
locked, then record every outcome in a second short transaction. A worker that dies between the two
leaves its deliveries due again when the lease ends: delivery is at least once, and receivers dedupe by
`webhook-id`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection

from nurture.channels.http import HttpAnswer, HttpCaller, HttpRequest
from nurture.domain.activities import Activity
from nurture.domain.webhooks.endpoints import Delivery, DeliveryStatus, Endpoint, Format
from nurture.domain.webhooks.events import activity_event
from nurture.domain.webhooks.retry import after_attempt
from nurture.services.background import PollingWorker
from nurture.services.clock import Clock
from nurture.services.webhooks import publish_events, signed_request
from nurture.store import activities as activity_store
from nurture.store import webhooks as store
from nurture.store.db import Database

log = structlog.get_logger("nurture.webhooks")

BATCH = 100
POLL_SECONDS = 0.5
KEEP_LOG = timedelta(days=30)  # finished deliveries stay in the log this long (NURTURE_WEBHOOK_LOG_DAYS)
PRUNE_EVERY = timedelta(minutes=10)
PRUNE_PAGE = 5000
LEASE = timedelta(minutes=5)
# Activity ids are made before their transaction commits, so one may land behind the publisher's
# position; the span read since the last look is read again this much later.
RECHECK_AFTER = timedelta(minutes=5)
ACTIVITY_PAGE = 500


@dataclass
class WebhookStats:
    published: int = 0  # deliveries created from activities
    attempted: int = 0
    delivered: int = 0
    failed: int = 0  # attempts that failed and will be retried
    dead: int = 0
    pruned: int = 0  # finished deliveries deleted from the log after its retention

    def add(self, other: WebhookStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def idle(self) -> bool:
        return not (self.published or self.attempted)


class WebhookWorker(PollingWorker):
    name = "webhook"

    def __init__(
        self,
        db: Database,
        clock: Clock,
        caller: HttpCaller,
        *,
        batch: int = BATCH,
        poll: float = POLL_SECONDS,
        jitter: random.Random | None = None,
        keep: timedelta = KEEP_LOG,
    ) -> None:
        super().__init__(poll)
        self.db = db
        self.clock = clock
        self.caller = caller
        self.batch = batch
        self.jitter = jitter or random.Random()  # noqa: S311 - spreads retries, no secret
        self.keep = keep
        self.pruned_at: datetime | None = None

    # running

    def run_once(self) -> WebhookStats:
        """Publish and post everything due now, then return (`nurture worker --once`, tests). A
        delivery that fails is not retried in the same call: its next attempt is in the future."""
        total = WebhookStats()
        while True:
            stats = self.step()
            total.add(stats)
            if stats.idle:
                return total

    def step(self) -> WebhookStats:
        stats = WebhookStats(published=self.publish_activities())
        stats.add(self.deliver_due())
        stats.pruned = self.prune()
        return stats

    def prune(self) -> int:
        """Delete finished deliveries older than the log's retention, a page at a time, at most once
        per PRUNE_EVERY per process (the log is read by `GET …/deliveries` and for redelivery)."""
        now = self.clock.now()
        if self.pruned_at is not None and now - self.pruned_at < PRUNE_EVERY:
            return 0
        with self.db.write() as conn:
            pruned = store.prune_finished(conn, now - self.keep, PRUNE_PAGE)
        if pruned < PRUNE_PAGE:
            self.pruned_at = now  # caught up: look again later; a full page goes on next step
        return pruned

    # activities → deliveries

    def publish_activities(self) -> int:
        """Turn activities recorded since the last look into deliveries, per workspace with endpoints."""
        now = self.clock.now()
        with self.db.read() as conn:
            busy = [ws for ws in store.workspaces_with_endpoints(conn) if self._has_news(conn, ws, now)]
        written = 0
        for workspace_id in busy:
            with self.db.write() as conn:
                written += self._publish_workspace(conn, workspace_id, now)
        return written

    @staticmethod
    def _has_news(conn: Connection, workspace_id: str, now: datetime) -> bool:
        cursor = store.read_cursor(conn, workspace_id)
        if cursor is None:
            return False
        if cursor.recheck_at <= now and cursor.recheck_to > cursor.recheck_from:
            return True
        newer = activity_store.listing(conn, workspace_id, after=cursor.position, limit=1)
        return bool(newer)

    def _publish_workspace(self, conn: Connection, workspace_id: str, now: datetime) -> int:
        cursor = store.lock_cursor(conn, workspace_id)
        endpoints = store.endpoints(conn, workspace_id, enabled_only=True)
        if cursor is None or not endpoints:
            return 0
        new = activity_store.listing(conn, workspace_id, after=cursor.position, limit=ACTIVITY_PAGE)
        position = new[-1].id if new else cursor.position
        written = self._fan_out(conn, workspace_id, new, endpoints, now)
        values: dict[str, Any] = {"position": position}
        if cursor.recheck_at <= now:
            # the second look: activities of the span that committed after the first look passed them
            again = activity_store.listing(conn, workspace_id, after=cursor.recheck_from, limit=ACTIVITY_PAGE)
            again = [a for a in again if a.id <= cursor.recheck_to]
            written += self._fan_out(conn, workspace_id, again, endpoints, now)
            if len(again) == ACTIVITY_PAGE:  # more of the span to read: go on at the next batch
                values["recheck_from"] = again[-1].id
            else:
                values |= {
                    "recheck_from": cursor.recheck_to,
                    "recheck_to": position,
                    "recheck_at": now + RECHECK_AFTER,
                }
        store.put_cursor(conn, workspace_id, values)
        return written

    @staticmethod
    def _fan_out(
        conn: Connection,
        workspace_id: str,
        activities: list[Activity],
        endpoints: list[Endpoint],
        now: datetime,
    ) -> int:
        if not activities:
            return 0
        events = [activity_event(a) for a in activities]
        have = store.existing_events(conn, workspace_id, [e.id for e in endpoints], [e.id for e in events])
        return sum(
            publish_events(
                conn,
                workspace_id,
                [e for e in events if (endpoint.id, e.id) not in have],
                now,
                endpoints=[endpoint],
                since_endpoint_created=True,
            )
            for endpoint in endpoints
        )

    # deliveries → HTTP

    def deliver_due(self) -> WebhookStats:
        """Claim one batch of due deliveries, post them, record the outcomes."""
        stats = WebhookStats()
        now = self.clock.now()
        with self.db.read() as conn:
            if not store.any_due(conn, now):
                return stats
        with self.db.write() as conn:
            claimed = store.claim_due(conn, now, self.batch, now + LEASE)
            endpoints = _endpoints_of(conn, claimed)
        if not claimed:
            return stats
        sendable: list[tuple[Delivery, HttpRequest]] = []
        unsendable: list[tuple[Delivery, str]] = []
        for delivery in claimed:
            request, reason = _request(delivery, endpoints, now)
            if request is None:
                unsendable.append((delivery, reason))
            else:
                sendable.append((delivery, request))
        answers = self.caller.call_many([request for _, request in sendable])
        finished = self.clock.now()
        with self.db.write() as conn:
            for delivery, reason in unsendable:
                if store.record_attempt(conn, delivery, _dead(reason, finished)):
                    stats.dead += 1
            for (delivery, _), answer in zip(sendable, answers, strict=True):
                stats.attempted += 1
                self._record(conn, delivery, answer, finished, stats)
        return stats

    def _record(
        self, conn: Connection, delivery: Delivery, answer: HttpAnswer, now: datetime, stats: WebhookStats
    ) -> None:
        attempts = delivery.attempts + 1
        outcome = after_attempt(attempts, answer.status_code, now, delivery.retry_until, self.jitter.random())
        values = {
            "status": outcome.status.value,
            "attempts": attempts,
            "next_attempt_at": outcome.next_attempt_at,
            "last_attempt_at": now,
            "response_code": answer.status_code,
            "response_body": answer.body,
            "error": answer.error,
            "updated_at": now,
        }
        if not store.record_attempt(conn, delivery, values):
            return  # another worker reported on it after this one's lease ran out
        if outcome.status is DeliveryStatus.DELIVERED:
            stats.delivered += 1
        elif outcome.status is DeliveryStatus.FAILED:
            stats.failed += 1
        else:
            stats.dead += 1
        if outcome.endpoint_gone and delivery.endpoint_id is not None:
            reason = "the endpoint answered 410 Gone"
            store.update_endpoint(
                conn,
                delivery.workspace_id,
                delivery.endpoint_id,
                {"enabled": False, "disabled_reason": reason, "updated_at": now},
            )
            store.kill_pending(conn, delivery.workspace_id, delivery.endpoint_id, reason, now)
            log.warning("webhook endpoint disabled", endpoint_id=delivery.endpoint_id, reason=reason)


def _endpoints_of(conn: Connection, claimed: list[Delivery]) -> dict[tuple[str, str], Endpoint]:
    wanted: dict[str, set[str]] = defaultdict(set)
    for delivery in claimed:
        if delivery.endpoint_id is not None:
            wanted[delivery.workspace_id].add(delivery.endpoint_id)
    found: dict[tuple[str, str], Endpoint] = {}
    for workspace_id, ids in wanted.items():
        for endpoint_id, endpoint in store.endpoints_by_id(conn, workspace_id, sorted(ids)).items():
            found[(workspace_id, endpoint_id)] = endpoint
    return found


def _request(
    delivery: Delivery, endpoints: dict[tuple[str, str], Endpoint], now: datetime
) -> tuple[HttpRequest | None, str]:
    """The HTTP request for one attempt, or None and why it cannot be made."""
    if delivery.format is Format.SLACK:
        if not delivery.url:
            return None, "no URL to post to"
        body = orjson.dumps(delivery.payload)
        return HttpRequest(delivery.url, body, {"content-type": "application/json"}), ""
    endpoint = endpoints.get((delivery.workspace_id, delivery.endpoint_id or ""))
    if endpoint is None:
        return None, "the endpoint was deleted"
    if not endpoint.enabled:
        return None, "the endpoint is disabled"
    return signed_request(endpoint.url, endpoint.secret, delivery.event_id, delivery.payload, now), ""


def _dead(reason: str, now: datetime) -> dict[str, Any]:
    return {
        "status": DeliveryStatus.DEAD.value,
        "next_attempt_at": None,
        "error": reason,
        "updated_at": now,
    }
