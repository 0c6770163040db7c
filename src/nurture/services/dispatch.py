"""The dispatcher: takes due messages out of the outbox and delivers them, in batches.

One batch, in three steps:

1. **claim and decide** (one write transaction): messages whose lease expired are settled (`unknown`,
   or pending again for transactional ones, see `policies.after_lease_expiry`); up to `batch` due
   pending messages are claimed (`sending`, under a lease); the policies decide each one
   (suppression, consent, frequency cap, quiet hours) and skips and deferrals are written.
2. **render and send** (no transaction): each message is rendered and built, and every channel's
   transport gets its messages in one call per sender.
3. **record** (one write transaction): sent, retry later with backoff, failed, hard bounce
   (suppressed); `sent` and `bounced` message events and their contact events.

A dispatcher that dies between 1 and 3 leaves its messages `sending`; when their lease expires the
next batch settles them (the crash policy in docs/architecture.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection

from nurture.domain.contact_view import MessageEventKind
from nurture.domain.messages.delivery import DeliveryResult, SenderConfig
from nurture.domain.messages.engagement import MessageEventInput, MessageRef
from nurture.domain.messages.outbox import OutboxMessage, Source, Status
from nurture.domain.messages.policies import Reason, after_lease_expiry, after_result
from nurture.domain.messages.settings import MessagingSettings
from nurture.services import message_events, messaging_settings
from nurture.services.background import PollingWorker
from nurture.services.clock import Clock
from nurture.services.dispatch_policy import Decided, decide_workspace
from nurture.services.dispatch_render import Prepared, Renderer
from nurture.services.identity import address_hash
from nurture.services.outbox import DISPATCH_CHANNEL
from nurture.services.templates import TemplateCache
from nurture.services.transports import Channels, MessageLinks, NoLinks, NoTransport, TransportPool
from nurture.store import dispatch as store
from nurture.store import suppressions
from nurture.store.db import Database

log = structlog.get_logger("nurture.dispatch")

BATCH = 200
POLL_SECONDS = 0.5
CLAIM_LEASE = timedelta(minutes=5)  # until the workspace's own lease is set, moments later


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0  # leases expired: marked unknown
    resent: int = 0  # leases expired: transactional, pending again
    crashed: int = 0  # messages whose transport raised: left `sending` until their lease expires

    def add(self, other: DispatchStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def idle(self) -> bool:
        return not (self.claimed or self.unknown or self.resent)


class Dispatcher(PollingWorker):
    name = "dispatch"
    channel = DISPATCH_CHANNEL

    def __init__(
        self,
        db: Database,
        clock: Clock,
        templates: TemplateCache,
        channels: Channels,
        *,
        links: MessageLinks | None = None,
        smtp_url: str | None = None,
        batch: int = BATCH,
        poll: float = POLL_SECONDS,
    ) -> None:
        super().__init__(poll, db.url)
        self.db = db
        self.clock = clock
        self.batch = batch
        self.transports = TransportPool(channels)
        self.renderer = Renderer(db, templates, links or NoLinks(), smtp_url)

    # running

    def run_once(self) -> DispatchStats:
        """Deliver everything due now and return (`nurture worker --once`, tests)."""
        total = DispatchStats()
        while True:
            stats = self.step()
            total.add(stats)
            if stats.idle:
                return total

    def step(self) -> DispatchStats:
        """One batch."""
        stats = DispatchStats()
        now = self.clock.now()
        with self.db.read() as conn:
            if not store.has_work(conn, now):
                return stats  # an idle poll never takes the write lock
        with self.db.write() as conn:
            self._settle_expired(conn, now, stats)
            claimed = store.claim(conn, now, self.batch, now + CLAIM_LEASE)
            stats.claimed = len(claimed)
            by_workspace: dict[str, list[OutboxMessage]] = defaultdict(list)
            for message in claimed:
                by_workspace[message.workspace_id].append(message)
            decided = [decide_workspace(conn, ws, rows, now) for ws, rows in sorted(by_workspace.items())]
            store.update_messages(conn, [change for d in decided for change in d.changes])
        for workspace in decided:
            stats.skipped += workspace.skipped
            stats.deferred += workspace.deferred
            if workspace.to_send:
                self._deliver(workspace, stats)
        return stats

    def stop(self) -> None:
        super().stop()
        self.transports.close()

    # the steps

    def _settle_expired(self, conn: Connection, now: datetime, stats: DispatchStats) -> None:
        expired = store.expired(conn, now, self.batch)
        settings: dict[str, MessagingSettings] = {}
        changes = []
        for workspace_id, message_id, category in expired:
            if workspace_id not in settings:
                settings[workspace_id] = messaging_settings.load(conn, workspace_id)
            status = after_lease_expiry(category, settings[workspace_id])
            changes.append(
                {
                    "workspace_id": workspace_id,
                    "id": message_id,
                    "status": status.value,
                    "reason": Reason.LEASE_EXPIRED.value,
                    "detail": "a dispatcher stopped while sending; the provider may have it",
                    "lease_until": None,
                    "due_at": now,
                    "updated_at": now,
                }
            )
            if status is Status.UNKNOWN:
                stats.unknown += 1
            else:
                stats.resent += 1
        store.update_messages(conn, changes)
        if expired:
            log.warning("dispatch leases expired", unknown=stats.unknown, resent=stats.resent)

    def _deliver(self, decided: Decided, stats: DispatchStats) -> None:
        prepared = self.renderer.prepare(decided, self.clock.now())
        results: dict[str, DeliveryResult] = {}
        groups: dict[tuple[str, SenderConfig], list[Prepared]] = defaultdict(list)
        for item in prepared:
            if item.failure is None and item.sender is not None:
                groups[("email" if item.email else "sms", item.sender)].append(item)
        unsendable: dict[str, str] = {}
        for (channel, sender), items in groups.items():
            try:
                send = self._sender_of(channel, decided.workspace_id, sender)
            except NoTransport as err:
                unsendable.update((i.item.message.id, str(err)) for i in items)
                continue
            try:
                answers = send(items)
            except Exception:
                # nothing is known about these: they stay `sending` and are settled when the lease ends
                log.exception("transport failed", channel=channel, sender=sender.id, messages=len(items))
                stats.crashed += len(items)
                continue
            if len(answers) != len(items):
                log.error("transport answered for the wrong number of messages", sender=sender.id)
                stats.crashed += len(items)
                continue
            results.update({i.item.message.id: answer for i, answer in zip(items, answers, strict=True)})
        prepared = [
            replace(p, failure=(Reason.NO_TRANSPORT, unsendable[p.item.message.id]))
            if p.item.message.id in unsendable
            else p
            for p in prepared
        ]
        done = [p for p in prepared if p.failure is not None or p.item.message.id in results]
        with self.db.write() as conn:
            self._record(conn, decided, done, results, stats)

    def _sender_of(
        self, channel: str, workspace_id: str, sender: SenderConfig
    ) -> Callable[[list[Prepared]], list[DeliveryResult]]:
        """The call that hands prepared messages of one channel and sender to their transport."""
        if channel == "email":
            email = self.transports.email(workspace_id, sender)
            return lambda items: email.send_many(sender, [i.email for i in items if i.email is not None])
        sms = self.transports.sms(workspace_id, sender)
        return lambda items: sms.send_many(sender, [i.sms for i in items if i.sms is not None])

    def _record(
        self,
        conn: Connection,
        decided: Decided,
        prepared: list[Prepared],
        results: dict[str, DeliveryResult],
        stats: DispatchStats,
    ) -> None:
        now = self.clock.now()
        workspace_id = decided.workspace_id
        changes: list[dict[str, Any]] = []
        happenings: list[MessageEventInput] = []
        for item in prepared:
            message = item.item.message
            change: dict[str, Any] = {
                "workspace_id": workspace_id,
                "id": message.id,
                "template_version": item.template_version,
                "subject": item.subject,
                "lease_until": None,
                "updated_at": now,
            }
            if item.failure is not None:
                reason, detail = item.failure
                changes.append(
                    {**change, "status": Status.FAILED.value, "reason": reason.value, "detail": detail}
                )
                stats.failed += 1
                continue
            result = results[message.id]
            settled = after_result(message.attempts, result, decided.settings.retry, now)
            change.update(
                status=settled.status.value,
                reason=settled.reason.value if settled.reason else None,
                detail=_describe(result),
                provider_id=result.provider_id,
                sent_at=now if settled.status is Status.SENT else None,
                due_at=settled.due_at or now,
            )
            changes.append(change)
            if settled.status is Status.SENT:
                stats.sent += 1
                kind: MessageEventKind | None = MessageEventKind.SENT
            elif settled.status is Status.PENDING:
                stats.retried += 1
                kind = None
            else:
                stats.failed += 1
                kind = MessageEventKind.BOUNCED if settled.suppress else None
            if settled.suppress:
                suppressions.add(
                    conn, workspace_id, message.channel, address_hash(item.item.address), "hard_bounce", now
                )
            if kind is not None and message.source is not Source.TEST:
                data = {"status": result.status, "reply_code": result.reply_code} if settled.suppress else {}
                if settled.suppress:
                    data["type"] = "hard"
                happenings.append(MessageEventInput(_ref(message), kind, now, data, dedupe_key="dispatch"))
        store.update_messages(conn, changes)
        message_events.record(conn, workspace_id, happenings, now)


def _ref(message: OutboxMessage) -> MessageRef:
    return MessageRef(
        message.id,
        message.contact_id,
        message.channel,
        template_id=message.template_id,
        journey_id=message.journey_id,
        node_id=message.node_id,
        campaign_id=message.campaign_id,
    )


def _describe(result: DeliveryResult) -> str | None:
    parts = [str(p) for p in (result.reply_code, result.status, result.detail) if p]
    return " ".join(parts) or None
