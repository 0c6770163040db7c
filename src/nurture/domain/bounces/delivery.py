"""A delivery event from any source (an ESP webhook, a DSN/ARF report), mapped back to its send."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nurture.domain.bounces.model import Kind, Recipient
from nurture.domain.errors import Invalid

_MESSAGE_ID = re.compile(r"<?\s*([^<>@\s]+)@[^<>\s]+\s*>?")

# The custom argument / metadata / message tag under which the dispatcher names the send, for
# providers that replace the Message-ID (Postmark, SES with its own ids).
SEND_ID_FIELD = "nurture_send_id"


class Provider:
    SES = "ses"
    SENDGRID = "sendgrid"
    POSTMARK = "postmark"
    MAILGUN = "mailgun"
    REPORT = "report"  # a DSN/ARF mail, through `nurture bounces ingest` or the inbound endpoint

    ALL = (SES, SENDGRID, POSTMARK, MAILGUN)


@dataclass(frozen=True)
class DeliveryReport:
    """What happened to one recipient of one send, whoever reported it."""

    provider: str
    send_id: str | None  # the outbox row's id, None when the report does not name it
    recipient: str | None
    kind: Kind
    reason: str
    status: str | None = None
    reply_code: str | None = None
    diagnostic: str | None = None
    feedback_type: str | None = None
    occurred_at: datetime | None = None
    event_id: str | None = None  # the provider's own id of the event, for the record


def send_id_from_message_id(value: str | None) -> str | None:
    """`<send_id@domain>` → `send_id` (the dispatcher's Message-ID is the send id at the sender's domain)."""
    if not value:
        return None
    match = _MESSAGE_ID.fullmatch(value.strip())
    return match[1] if match else None


def from_recipients(recipients: list[Recipient], provider: str = Provider.REPORT) -> list[DeliveryReport]:
    """The reports a classified DSN/ARF mail gives: one per recipient it could read."""
    return [
        DeliveryReport(
            provider=provider,
            send_id=send_id_from_message_id(recipient.message_id),
            recipient=recipient.address,
            kind=recipient.kind,
            reason=recipient.reason,
            status=recipient.status,
            reply_code=recipient.reply_code,
            diagnostic=recipient.diagnostic,
            feedback_type=recipient.feedback_type,
        )
        for recipient in recipients
        if recipient.kind is not Kind.UNKNOWN
    ]


def json_body(body: bytes) -> Any:
    """A webhook's JSON body, or Invalid naming the body."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid.one("body", f"is not JSON: {exc}") from None


def timestamp(value: object, field: str) -> datetime:
    """Unix seconds (number or digits) or an ISO 8601 string as an aware UTC datetime."""
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.replace(".", "", 1).isdigit()):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(_seven_digit_fraction(value.replace("Z", "+00:00")))
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise Invalid.one(field, f"is not a time: {value!r}")


def _seven_digit_fraction(value: str) -> str:
    """.NET writes 7 fraction digits (Postmark); Python reads at most 6."""
    return re.sub(r"(\.\d{6})\d+", r"\1", value)
