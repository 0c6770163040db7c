"""Postmark's Bounce, SpamComplaint and Delivery webhooks (one JSON object per request).

Postmark does not sign webhooks: the URL carries the credentials (HTTP Basic auth configured on the
webhook, or nurture's secret path token), so `verify` checks Basic credentials against the secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import replace
from typing import Any

from nurture.domain.bounces.classify import classify_reply
from nurture.domain.bounces.delivery import SEND_ID_FIELD, DeliveryReport, Provider, json_body, timestamp
from nurture.domain.bounces.model import Kind
from nurture.domain.errors import Invalid, Unauthorized

# Postmark's bounce Type → (kind, reason) when its Details name no reason of their own.
_TYPES: dict[str, tuple[Kind, str]] = {
    "HardBounce": (Kind.HARD, "userunknown"),
    "BadEmailAddress": (Kind.HARD, "userunknown"),
    "DnsError": (Kind.SOFT, "networkerror"),
    "SoftBounce": (Kind.SOFT, "onhold"),
    "Transient": (Kind.SOFT, "expired"),
    "Blocked": (Kind.SOFT, "blocked"),
    "SpamNotification": (Kind.SOFT, "spamdetected"),
    "VirusNotification": (Kind.SOFT, "virusdetected"),
    "DMARCPolicy": (Kind.SOFT, "authfailure"),
    "AddressChange": (Kind.HARD, "hasmoved"),
    "ManuallyDeactivated": (Kind.SOFT, "suppressed"),
    "Unsubscribe": (Kind.SOFT, "unsubscribed"),
    "AutoResponder": (Kind.DELIVERED, "delivered"),
    "SpamComplaint": (Kind.COMPLAINT, "feedback"),
}


def verify_basic(authorization: str | None, secret: str) -> None:
    """HTTP Basic credentials configured on the Postmark webhook: any user name, `secret` as password."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("Postmark webhooks must carry HTTP Basic credentials")
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the HTTP Basic credentials are not valid base64") from None
    if not hmac.compare_digest(password.encode(), secret.encode()):
        raise Unauthorized("the HTTP Basic password does not match the workspace's Postmark secret")


def parse(body: bytes) -> list[DeliveryReport]:
    document = json_body(body)
    if not isinstance(document, dict):
        raise Invalid.one("body", "must be a JSON object")
    record = document.get("RecordType") or ("Delivery" if "DeliveredAt" in document else None)
    if record not in ("Bounce", "SpamComplaint", "Delivery"):
        return []  # opens, clicks, subscription changes belong to the tracking paths
    email = document.get("Recipient") if record == "Delivery" else document.get("Email")
    if not isinstance(email, str) or not email:
        raise Invalid.one("Recipient" if record == "Delivery" else "Email", "is required")
    at_field = "DeliveredAt" if record == "Delivery" else "BouncedAt"
    details = str(document.get("Details") or document.get("Description") or "")
    base = DeliveryReport(
        provider=Provider.POSTMARK,
        send_id=_send_id(document),
        recipient=email.lower(),
        kind=Kind.UNKNOWN,
        reason="",
        occurred_at=timestamp(document.get(at_field), at_field),
        event_id=str(document["ID"]) if document.get("ID") is not None else None,
        diagnostic=details or None,
    )
    if record == "Delivery":
        return [replace(base, kind=Kind.DELIVERED, reason="delivered")]
    if record == "SpamComplaint":
        return [replace(base, kind=Kind.COMPLAINT, reason="feedback", feedback_type="abuse")]
    kind, reason = _TYPES.get(str(document.get("Type")), (Kind.SOFT, "undefined"))
    if kind in (Kind.HARD, Kind.SOFT):
        reply = classify_reply(None, None, details)
        if reply.reason not in ("undefined", "networkerror") and reply.reply_code is not None:
            # the remote server's own words, when Postmark passes them on, decide the reason
            kind, reason = reply.kind, reply.reason
            base = replace(base, status=reply.status, reply_code=reply.reply_code)
    return [replace(base, kind=kind, reason=reason)]


def _send_id(document: dict[str, Any]) -> str | None:
    metadata = document.get("Metadata")
    value = metadata.get(SEND_ID_FIELD) if isinstance(metadata, dict) else None
    return str(value) if value else None
