"""Mailgun's webhooks: `{"signature": {timestamp, token, signature}, "event-data": {...}}`, signed with
HMAC-SHA256 of timestamp + token under the domain's HTTP webhook signing key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import datetime
from typing import Any

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

MAX_SKEW_SECONDS = 600
# Mailgun's `reason` for failures it decided itself, without a remote server's answer
_OWN_REASONS = {
    "suppress-bounce": (Kind.HARD, "userunknown"),
    "suppress-complaint": (Kind.COMPLAINT, "feedback"),
    "suppress-unsubscribe": (Kind.SOFT, "unsubscribed"),
}


def document(body: bytes) -> dict[str, Any]:
    parsed = json_body(body)
    if not isinstance(parsed, dict):
        raise Invalid.one("body", "must be a JSON object")
    return parsed


def verify(body: bytes, signing_key: str, now: datetime) -> None:
    """Check `signature.signature` = HMAC-SHA256(key, timestamp + token), and that it is recent."""
    signature = document(body).get("signature")
    if not isinstance(signature, dict):
        raise Unauthorized("the Mailgun `signature` object is missing")
    stamp, token, given = (str(signature.get(name) or "") for name in ("timestamp", "token", "signature"))
    expected = hmac.new(signing_key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not (stamp and token and hmac.compare_digest(expected, given.lower())):
        raise Unauthorized("the Mailgun signature does not match")
    try:
        skew = abs(now.timestamp() - float(stamp))
    except ValueError:
        raise Unauthorized("the Mailgun timestamp is not a number") from None
    if skew > MAX_SKEW_SECONDS:
        raise Unauthorized("the Mailgun timestamp is too far from now (replayed?)")


def parse(body: bytes) -> list[DeliveryReport]:
    event = document(body).get("event-data")
    if not isinstance(event, dict):
        raise Invalid.one("event-data", "is required")
    name = event.get("event")
    recipient = event.get("recipient")
    if name not in ("delivered", "failed", "complained", "rejected"):
        return []
    if not isinstance(recipient, str) or not recipient:
        raise Invalid.one("event-data.recipient", "is required")
    status = event.get("delivery-status") if isinstance(event.get("delivery-status"), dict) else {}
    assert isinstance(status, dict)
    words = " ".join(str(status.get(k) or "") for k in ("message", "description")).strip()
    code = status.get("code")
    base = DeliveryReport(
        provider=Provider.MAILGUN,
        send_id=_send_id(event),
        recipient=recipient.lower(),
        kind=Kind.UNKNOWN,
        reason="",
        occurred_at=timestamp(event.get("timestamp"), "event-data.timestamp"),
        event_id=str(event["id"]) if event.get("id") else None,
        diagnostic=words or None,
    )
    if name == "delivered":
        return [replace(base, kind=Kind.DELIVERED, reason="delivered", reply_code=_code(code))]
    if name == "complained":
        return [replace(base, kind=Kind.COMPLAINT, reason="feedback", feedback_type="abuse")]
    own = _OWN_REASONS.get(str(event.get("reason")))
    if own is not None:
        kind, reason = own
        return [
            replace(base, kind=kind, reason=reason, feedback_type="abuse" if kind is Kind.COMPLAINT else None)
        ]
    reply_code = _code(code)
    reply = classify_reply(int(reply_code) if reply_code else None, None, words)
    kind = reply.kind if event.get("severity") == "permanent" else Kind.SOFT
    return [replace(base, kind=kind, reason=reply.reason, status=reply.status, reply_code=reply.reply_code)]


def _code(value: object) -> str | None:
    text = str(value or "")
    return text if len(text) == 3 and text[0] in "245" and text.isdigit() else None


def _send_id(event: dict[str, Any]) -> str | None:
    variables = event.get("user-variables")
    if isinstance(variables, dict) and variables.get(SEND_ID_FIELD):
        return str(variables[SEND_ID_FIELD])
    message = event.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    value = headers.get("message-id") if isinstance(headers, dict) else None
    return send_id_from_message_id(f"<{value}>" if isinstance(value, str) and "<" not in value else value)
