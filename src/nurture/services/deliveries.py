"""Applying delivery reports (ESP webhooks, DSN/ARF mail) to the sends they name, in one transaction
per batch: message events, suppressions (hard bounces, complaints, chronic soft bounces) and an
activity on the contact saying what was decided and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind
from nurture.domain.bounces import Kind, classify_report
from nurture.domain.bounces.delivery import DeliveryReport, from_recipients
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.errors import Invalid
from nurture.domain.messages.engagement import MessageEventInput, MessageRef
from nurture.services.clock import Clock
from nurture.services.identity import address_hash
from nurture.services.message_events import record
from nurture.store import activities, message_events, suppressions
from nurture.store import deliveries as store
from nurture.store.db import Database

log = structlog.get_logger("nurture.deliveries")

_EVENT_KINDS = {
    Kind.DELIVERED: "delivered",
    Kind.HARD: "bounced",
    Kind.SOFT: "bounced",
    Kind.COMPLAINT: "complained",
}
_ACTIVITY_KINDS = {
    Kind.HARD: ActivityKind.EMAIL_BOUNCED,
    Kind.SOFT: ActivityKind.EMAIL_BOUNCED,
    Kind.COMPLAINT: ActivityKind.EMAIL_COMPLAINED,
}
HARD_BOUNCE, COMPLAINT, SOFT_BOUNCE_LIMIT = "hard_bounce", "complaint", "soft_bounce_limit"


@dataclass(frozen=True)
class SoftBouncePolicy:
    """After `limit` soft bounces within `days`, an address is suppressed as chronically failing."""

    limit: int = 5
    days: int = 30


@dataclass
class Applied:
    """What a batch of reports did."""

    recorded: int = 0  # message events written
    suppressed: int = 0  # addresses newly put on the suppression list by this batch
    duplicates: int = 0  # reports already recorded (a provider retrying its webhook, a mail ingested twice)
    without_send_id: int = 0  # reports that name no send (e.g. a bounce of mail nurture did not send)
    unknown_send_ids: list[str] = field(default_factory=list)  # send ids with no outbox row here

    def as_json(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "suppressed": self.suppressed,
            "duplicates": self.duplicates,
            "without_send_id": self.without_send_id,
            "unknown_send_ids": self.unknown_send_ids,
        }


def apply_reports(
    conn: Connection,
    workspace_id: str,
    reports: list[DeliveryReport],
    now: datetime,
    policy: SoftBouncePolicy,
) -> Applied:
    """Apply reports in the caller's transaction (fetch the sends and their events once, then decide)."""
    applied = Applied()
    sends = store.sends(conn, workspace_id, {r.send_id for r in reports if r.send_id})
    seen = {
        (event["message_id"], event["data"].get("key"))
        for event in message_events.of_messages(conn, workspace_id, sends)
        if isinstance(event["data"], dict)
    }
    happenings: list[MessageEventInput] = []
    for report in reports:
        if report.kind not in _EVENT_KINDS:
            continue
        send = sends.get(report.send_id) if report.send_id else None
        if send is None:
            if report.send_id:
                applied.unknown_send_ids.append(report.send_id)
            else:
                applied.without_send_id += 1
            continue
        key = _event_key(report)
        if (send.id, key) in seen:
            applied.duplicates += 1
            continue
        seen.add((send.id, key))
        address = (report.recipient or send.to_address or "").strip().lower() or None
        data = _event_data(report, key, address)
        if report.kind is not Kind.DELIVERED:
            decision = _decide(conn, workspace_id, send, report, address, now, policy)
            data["suppressed"] = decision.get("suppressed", False)
            applied.suppressed += int(bool(decision.get("newly_suppressed")))
            decision.pop("newly_suppressed", None)
            activities.record(
                conn,
                workspace_id,
                send.contact_id,
                ActivityKind.EMAIL_COMPLAINED
                if report.kind is Kind.COMPLAINT
                else ActivityKind.EMAIL_BOUNCED,
                now,
                subject_id=send.id,
                data=_activity_data(report, address) | decision,
            )
        ref = MessageRef(
            send.id,
            send.contact_id,
            send.channel,
            send.template_id,
            send.journey_id,
            getattr(send, "node_id", None),
            getattr(send, "campaign_id", None),
        )
        kind = MessageEventKind(_EVENT_KINDS[report.kind])
        happenings.append(MessageEventInput(ref, kind, report.occurred_at or now, data, dedupe_key=key))
    record(conn, workspace_id, happenings, now)
    applied.recorded = len(happenings)
    if applied.unknown_send_ids or applied.without_send_id:
        log.warning(
            "delivery reports for unknown sends",
            workspace_id=workspace_id,
            unknown_send_ids=applied.unknown_send_ids[:20],
            unknown=len(applied.unknown_send_ids),
            without_send_id=applied.without_send_id,
        )
    return applied


def _decide(
    conn: Connection,
    workspace_id: str,
    send: store.Send,
    report: DeliveryReport,
    address: str | None,
    now: datetime,
    policy: SoftBouncePolicy,
) -> dict[str, Any]:
    """Suppress or count: hard → suppressed, complaint → suppressed, soft → counted (suppressed at the
    limit). Returns what the contact's activity shows."""
    if address is None:
        return {"suppressed": False, "why_not": "the report names no address"}
    value_hash = address_hash(address)
    already = suppressions.suppressed(conn, workspace_id, "email", [value_hash]).get(value_hash)
    reason: str | None = None
    decision: dict[str, Any] = {}
    if report.kind is Kind.HARD:
        reason = HARD_BOUNCE
    elif report.kind is Kind.COMPLAINT:
        reason = COMPLAINT
    else:
        store.add_soft_bounce(conn, workspace_id, value_hash, send.id, report.occurred_at or now)
        count = store.count_soft_bounces(conn, workspace_id, value_hash, now - timedelta(days=policy.days))
        decision |= {
            "soft_bounces": count,
            "soft_bounce_limit": policy.limit,
            "soft_bounce_days": policy.days,
        }
        if count >= policy.limit:
            reason = SOFT_BOUNCE_LIMIT
    if reason is None:
        return decision | {"suppressed": already is not None}
    if already is None:
        detail = f"{report.provider}: {report.reason}" + (f" ({report.status})" if report.status else "")
        suppressions.add(conn, workspace_id, "email", value_hash, reason, now, detail=detail)
    return decision | {
        "suppressed": True,
        "suppression": already or reason,
        "newly_suppressed": already is None,
    }


def _event_key(report: DeliveryReport) -> str:
    """What makes two reports the same event: the provider's event id, else what they say."""
    if report.event_id:
        return f"{report.provider}:{report.event_id}:{report.recipient}:{report.kind.value}"
    return f"{report.provider}:{report.kind.value}:{report.recipient}:{report.status}:{report.reason}"


def _event_data(report: DeliveryReport, key: str, address: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "provider": report.provider,
        "address": address,
        "status": report.status,
        "reply_code": report.reply_code,
        "reason": report.reason,
        "diagnostic": report.diagnostic,
    }
    if report.kind in (Kind.HARD, Kind.SOFT):
        data["bounce"] = report.kind.value
    if report.feedback_type:
        data["feedback_type"] = report.feedback_type
    return data


def _activity_data(report: DeliveryReport, address: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"provider": report.provider, "address": address, "reason": report.reason}
    if report.kind is Kind.COMPLAINT:
        return data | {"feedback_type": report.feedback_type}
    return data | {
        "bounce": report.kind.value,
        "status": report.status,
        "reply_code": report.reply_code,
        "diagnostic": report.diagnostic,
    }


class DeliveryService:
    """Delivery reports from any source, applied to a workspace's sends."""

    def __init__(self, db: Database, clock: Clock, policy: SoftBouncePolicy) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy

    def apply(self, workspace_id: str, reports: list[DeliveryReport]) -> Applied:
        """One transaction for the whole batch."""
        with self.db.write() as conn:
            return apply_reports(conn, workspace_id, reports, self.clock.now(), self.policy)

    def ingest_report(self, workspace_id: str, data: bytes, field_name: str = "body") -> Applied:
        """A DSN (RFC 3464) or ARF (RFC 5965) mail, as received; unreadable → Invalid naming `field_name`."""
        recipients = classify_report(data)
        reports = from_recipients(recipients)
        if not reports:
            raise Invalid.one(
                field_name, f"is not a readable bounce or complaint report: {recipients[0].reason}"
            )
        return self.apply(workspace_id, reports)
