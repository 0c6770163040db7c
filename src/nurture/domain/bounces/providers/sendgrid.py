"""SendGrid's Event Webhook: a JSON array of events, signed with ECDSA (P-256, SHA-256) over the
timestamp header followed by the raw body."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nurture.domain.bounces.classify import classify_reply
from nurture.domain.bounces.delivery import (
    SEND_ID_FIELD,
    DeliveryReport,
    Provider,
    json_body,
    send_id_from_message_id,
    timestamp,
)
from nurture.domain.bounces.model import Kind
from nurture.domain.errors import Invalid, Unauthorized

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
MAX_SKEW_SECONDS = 600

# `dropped` reasons that mean SendGrid suppressed the address for a reason of its own
_DROPPED = {
    "bounced address": (Kind.HARD, "userunknown"),
    "invalid": (Kind.HARD, "userunknown"),
    "spam reporting address": (Kind.COMPLAINT, "feedback"),
    "unsubscribed address": (Kind.SOFT, "unsubscribed"),
}


def verify(body: bytes, headers: dict[str, str], public_key: str, now: datetime) -> None:
    """Check the signature with the webhook's verification key (base64 DER, as SendGrid shows it)."""
    signature, stamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        raise Unauthorized(f"the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required")
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key))
    except ValueError:
        raise Unauthorized(
            "the configured SendGrid verification key is not a base64 DER public key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise Unauthorized("the configured SendGrid verification key is not an ECDSA key")
    try:
        key.verify(base64.b64decode(signature), stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise Unauthorized("the SendGrid signature does not match the body") from None
    if abs(now.timestamp() - _seconds(stamp)) > MAX_SKEW_SECONDS:
        raise Unauthorized("the SendGrid timestamp is too far from now (replayed?)")


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise Unauthorized("the SendGrid timestamp is not a number") from None


def parse(body: bytes) -> list[DeliveryReport]:
    """Delivery, bounce, dropped, deferred and spam report events; engagement events are skipped."""
    events = json_body(body)
    if not isinstance(events, list):
        raise Invalid.one("body", "must be a JSON array of events")
    reports = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise Invalid.one(f"[{index}]", "must be an object")
        report = _report(event, f"[{index}]")
        if report is not None:
            reports.append(report)
    return reports


def _report(event: dict[str, Any], path: str) -> DeliveryReport | None:
    name = event.get("event")
    if not isinstance(name, str):
        raise Invalid.one(f"{path}.event", "is required")
    email = event.get("email")
    base = DeliveryReport(
        provider=Provider.SENDGRID,
        send_id=_send_id(event),
        recipient=email.lower() if isinstance(email, str) else None,
        kind=Kind.UNKNOWN,
        reason="",
        occurred_at=timestamp(event.get("timestamp"), f"{path}.timestamp"),
        event_id=str(event["sg_event_id"]) if event.get("sg_event_id") else None,
    )
    response = str(event.get("response") or event.get("reason") or "")
    if name == "delivered":
        return replace(base, kind=Kind.DELIVERED, reason="delivered", diagnostic=response or None)
    if name == "spamreport":
        return replace(base, kind=Kind.COMPLAINT, reason="feedback", feedback_type="abuse")
    if name in ("bounce", "deferred"):
        reply = classify_reply(None, _status(event.get("status")), response)
        kind = reply.kind if name == "bounce" else Kind.SOFT
        if event.get("type") == "blocked" and kind is Kind.HARD:
            kind = Kind.SOFT  # SendGrid's own reading: the receiver blocked the sender, not the address
        return replace(
            base,
            kind=kind,
            reason=reply.reason,
            status=reply.status,
            reply_code=reply.reply_code,
            diagnostic=response or None,
        )
    if name == "dropped":
        dropped, reason = _DROPPED.get(response.lower(), (Kind.SOFT, "dropped"))
        return replace(
            base,
            kind=dropped,
            reason=reason,
            diagnostic=response or None,
            feedback_type="abuse" if dropped is Kind.COMPLAINT else None,
        )
    return None


def _send_id(event: dict[str, Any]) -> str | None:
    named = event.get(SEND_ID_FIELD)
    if isinstance(named, str) and named:
        return named
    smtp_id = event.get("smtp-id")
    return send_id_from_message_id(smtp_id) if isinstance(smtp_id, str) else None


def _status(value: object) -> str | None:
    text = str(value or "")
    return text if text[:2] in ("4.", "5.", "2.") and text != "5.0.0" else None
