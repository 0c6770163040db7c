"""Amazon SES notifications (the JSON that SNS delivers, by HTTP or by email) as findings."""

from __future__ import annotations

from typing import Any

from nurture.domain.bounces.findings import Finding, address_in

# SES's bounceSubType → reason, for recipients without a diagnostic code.
_SUBTYPE_REASONS = {
    "noemail": "userunknown",
    "suppressed": "userunknown",  # SES's own list holds addresses that bounced hard before
    "onaccountsuppressionlist": "userunknown",
    "mailboxfull": "mailboxfull",
    "messagetoolarge": "mesgtoobig",
    "contentrejected": "contenterror",
    "attachmentrejected": "contenterror",
}


def ses_findings(notification: dict[str, Any]) -> list[Finding]:
    """Recipients of one SES event (`notificationType` or `eventType`: Bounce, Complaint, Delivery)."""
    kind = str(notification.get("notificationType") or notification.get("eventType") or "").lower()
    if kind == "bounce":
        bounce = _dict(notification.get("bounce"))
        bounce_type = str(bounce.get("bounceType", "")).lower()
        subtype = str(bounce.get("bounceSubType", "")).lower()
        hint = _SUBTYPE_REASONS.get(subtype)
        if hint is None and bounce_type == "transient":
            hint = "onhold"
        return [
            Finding(
                address=address_in(str(item.get("emailAddress", ""))),
                action=str(item.get("action") or ("delayed" if bounce_type == "transient" else "failed")),
                status=_status(item.get("status")),
                diagnostic=_strip_type(str(item.get("diagnosticCode") or "")),
                hint=hint,
            )
            for item in _dicts(bounce.get("bouncedRecipients"))
        ]
    if kind == "complaint":
        complaint = _dict(notification.get("complaint"))
        feedback = complaint.get("complaintFeedbackType")
        return [
            Finding(
                address=address_in(str(item.get("emailAddress", ""))),
                complaint=True,
                feedback_type=str(feedback) if feedback else None,
            )
            for item in _dicts(complaint.get("complainedRecipients"))
        ]
    if kind == "delivery":
        delivery = _dict(notification.get("delivery"))
        response = str(delivery.get("smtpResponse") or "")
        return [
            Finding(address=address_in(str(address)), action="delivered", diagnostic=response)
            for address in delivery.get("recipients") or []
        ]
    return []


def ses_message_id(notification: dict[str, Any]) -> str | None:
    """The Message-ID header nurture set (SES's own `messageId` is not it)."""
    mail = _dict(notification.get("mail"))
    for header in _dicts(mail.get("headers")):
        if str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value", "")).strip() or None
    common = _dict(mail.get("commonHeaders"))
    value = common.get("messageId")
    return str(value) if value else None


def _status(value: object) -> str | None:
    text = str(value or "").strip()
    return text if text[:2] in ("2.", "4.", "5.") else None


def _strip_type(value: str) -> str:
    return value.split(";", 1)[1].strip() if ";" in value[:16] else value


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
