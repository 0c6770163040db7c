"""Amazon SES events delivered by SNS over HTTP: the SNS envelope, its signature, and the SES
notification inside (Bounce, Complaint, Delivery).

SNS signs each message with a certificate whose URL the message names (`SigningCertURL`). Fetching it
is I/O, so verification here is against certificates the operator configured (the PEM downloaded once
from that URL); a message signed by another certificate is refused with the URL to fetch.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from nurture.domain.bounces.delivery import (
    SEND_ID_FIELD,
    DeliveryReport,
    Provider,
    json_body,
    send_id_from_message_id,
    timestamp,
)
from nurture.domain.bounces.findings import judge
from nurture.domain.bounces.model import Kind
from nurture.domain.bounces.ses import ses_findings, ses_message_id
from nurture.domain.errors import Invalid, Unauthorized

_CERT_URL = re.compile(r"https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[^?#]+\.pem")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_CERTIFICATES = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class SnsMessage:
    type: str  # Notification | SubscriptionConfirmation | UnsubscribeConfirmation
    topic_arn: str
    message: str
    subscribe_url: str | None
    fields: dict[str, str]


def envelope(body: bytes) -> SnsMessage:
    document = json_body(body)
    if not isinstance(document, dict):
        raise Invalid.one("body", "must be a JSON object (an SNS message)")
    for name in ("Type", "Message", "TopicArn", "Signature", "SignatureVersion", "SigningCertURL"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise Invalid.one(name, "is required in an SNS message")
    return SnsMessage(
        type=document["Type"],
        topic_arn=document["TopicArn"],
        message=document["Message"],
        subscribe_url=document.get("SubscribeURL") if isinstance(document.get("SubscribeURL"), str) else None,
        fields={k: v for k, v in document.items() if isinstance(v, str)},
    )


def string_to_sign(message: SnsMessage) -> bytes:
    names = _NOTIFICATION_FIELDS if message.type == "Notification" else _SUBSCRIPTION_FIELDS
    return "".join(f"{name}\n{message.fields[name]}\n" for name in names if name in message.fields).encode()


def verify(message: SnsMessage, certificates_pem: str, topic_arns: list[str]) -> None:
    """The SNS signature against the configured certificate(s); the topic against the allowed ones."""
    if topic_arns and message.topic_arn not in topic_arns:
        raise Unauthorized(f"SNS topic {message.topic_arn} is not one this workspace accepts")
    cert_url = message.fields["SigningCertURL"]
    if not _CERT_URL.fullmatch(cert_url):
        raise Unauthorized("SigningCertURL is not an Amazon SNS certificate URL")
    version = message.fields["SignatureVersion"]
    if version not in ("1", "2"):
        raise Unauthorized(f"SNS SignatureVersion {version} is not supported")
    algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    try:
        signature = base64.b64decode(message.fields["Signature"], validate=True)
    except ValueError:
        raise Unauthorized("the SNS Signature is not base64") from None
    for pem in _CERTIFICATES.findall(certificates_pem):
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
            return
        except InvalidSignature:
            continue
    raise Unauthorized(
        f"the SNS signature does not verify with the configured certificate; if AWS rotated it, store the "
        f"PEM from {cert_url} in the workspace's SES settings"
    )


def parse(message: SnsMessage) -> list[DeliveryReport]:
    """The SES notification inside a verified SNS Notification."""
    if message.type != "Notification":
        return []
    try:
        notification = json.loads(message.message)
    except ValueError:
        raise Invalid.one("Message", "is not an SES notification (JSON)") from None
    if not isinstance(notification, dict):
        raise Invalid.one("Message", "is not an SES notification (JSON object)")
    return reports(notification)


def reports(notification: dict[str, Any]) -> list[DeliveryReport]:
    kind = str(notification.get("notificationType") or notification.get("eventType") or "").lower()
    if kind not in ("bounce", "complaint", "delivery"):
        return []
    detail = notification.get(kind)
    detail = detail if isinstance(detail, dict) else {}
    occurred = (
        timestamp(detail.get("timestamp"), f"Message.{kind}.timestamp") if detail.get("timestamp") else None
    )
    send_id = _tag(notification) or send_id_from_message_id(ses_message_id(notification))
    event_id = detail.get("feedbackId")
    found = []
    for finding in ses_findings(notification):
        recipient = judge(finding, None)
        found.append(
            DeliveryReport(
                provider=Provider.SES,
                send_id=send_id,
                recipient=recipient.address,
                kind=recipient.kind,
                reason=recipient.reason,
                status=recipient.status,
                reply_code=recipient.reply_code,
                diagnostic=recipient.diagnostic,
                feedback_type=recipient.feedback_type,
                occurred_at=occurred,
                event_id=str(event_id) if event_id else None,
            )
        )
    if kind == "complaint":
        found = [replace(r, feedback_type=r.feedback_type or "abuse") for r in found]
    return [r for r in found if r.kind is not Kind.UNKNOWN]


def _tag(notification: dict[str, Any]) -> str | None:
    mail = notification.get("mail")
    tags = mail.get("tags") if isinstance(mail, dict) else None
    values = tags.get(SEND_ID_FIELD) if isinstance(tags, dict) else None
    return str(values[0]) if isinstance(values, list) and values else None
