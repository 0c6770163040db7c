"""A transactional send asked for through the API (`POST /api/v1/messages`): a receipt, a password
mail. The client's `Idempotency-Key` names the message (its send id derives from it), so a retried
request finds the message it made; the same key with a different request is refused."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.profile import normalize_email
from nurture.domain.subscriptions import check_topic

MAX_KEY = 255
MAX_DATA_BYTES = 64 * 1024
_KEY = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII, as HTTP header values and provider keys allow
REF_KINDS = ("id", "email", "user_id")


def check_idempotency_key(value: str | None) -> str:
    if value is None or not value.strip():
        raise Invalid.one(
            "Idempotency-Key", "required: a unique key per message (e.g. a UUID, or 'receipt-ORDER_ID')"
        )
    key = value.strip()
    if len(key) > MAX_KEY or not _KEY.fullmatch(key):
        raise Invalid.one("Idempotency-Key", f"must be 1 to {MAX_KEY} visible ASCII characters, no spaces")
    return key


@dataclass(frozen=True)
class SendRequest:
    contact_kind: str  # id | email | user_id
    contact_value: str
    template_id: str
    channel: str | None
    topic: str | None
    data: dict[str, Any]

    def fingerprint(self) -> str:
        """What makes two requests the same request (compared when a key is used again)."""
        body = [self.contact_kind, self.contact_value, self.template_id, self.channel, self.topic, self.data]
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_send(contact: Any, template_id: Any, channel: Any, topic: Any, data: Any) -> SendRequest:
    """The request's parts, checked; every error names its field."""
    errors: list[FieldError] = []
    kind = value = ""
    if not isinstance(contact, dict) or len(contact) != 1 or next(iter(contact)) not in REF_KINDS:
        errors.append(FieldError("contact", 'must be one of {"id": …}, {"email": …}, {"user_id": …}'))
    else:
        ((kind, raw),) = contact.items()
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 320:
            errors.append(
                FieldError(f"contact.{kind}", "must be a non-empty string of at most 320 characters")
            )
        elif kind == "email":
            try:
                value = normalize_email(raw)
            except ValueError as err:
                errors.append(FieldError("contact.email", str(err)))
        else:
            value = raw.strip()
    if not isinstance(template_id, str) or not template_id.strip():
        errors.append(FieldError("template_id", "required: the id of the template to send"))
    if channel is not None and channel not in ("email", "sms"):
        errors.append(FieldError("channel", "must be email or sms (default: the template's kind)"))
    checked_topic = None
    try:
        checked_topic = check_topic(topic)
    except Invalid as err:
        errors.extend(err.errors)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors.append(FieldError("data", "must be an object (what the template reads as `data.*`)"))
    elif len(orjson.dumps(data)) > MAX_DATA_BYTES:
        errors.append(FieldError("data", f"too large: at most {MAX_DATA_BYTES // 1024} KB of JSON"))
    if errors:
        raise Invalid(errors)
    return SendRequest(kind, value, str(template_id).strip(), channel, checked_topic, data)
