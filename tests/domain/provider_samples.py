"""Delivery-event payloads as the providers' documentation shows them (shapes and values kept; the
send id fields are the ones nurture's dispatcher sets), and signing helpers for tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

SEND_ID = "k2r7q4w6y3t5u2i7o4p6a3s5d2"
MESSAGE_ID = f"<{SEND_ID}@mail.example.com>"

# SendGrid Event Webhook reference: one batch with an event of each delivery kind.
SENDGRID_EVENTS: list[dict[str, Any]] = [
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "processed",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "deferred",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        "response": "400 try again later",
        "attempt": "5",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "delivered",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        "response": "250 OK",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "open",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
        "ip": "255.255.255.255",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "bounce",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": "bounce",
        "bounce_classification": "Invalid Address",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "bounce",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        "reason": "550 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org",
        "status": "5.7.1",
        "type": "blocked",
        "bounce_classification": "Reputation",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "dropped",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        "reason": "Bounced Address",
        "status": "5.0.0",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": MESSAGE_ID,
        "event": "spamreport",
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        "nurture_send_id": SEND_ID,
    },
]

# Postmark webhook documentation (bounce, spam complaint, delivery).
POSTMARK_BOUNCE: dict[str, Any] = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Invitation",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "nurture_send_id": SEND_ID},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "Test bounce details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Content": "<Full dump of bounce>",
}
POSTMARK_SPAM_COMPLAINT: dict[str, Any] = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {"a_key": "a_value", "b_key": "b_value", "nurture_send_id": SEND_ID},
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Test subject",
    "Content": "<Abuse report dump>",
}
POSTMARK_DELIVERY: dict[str, Any] = {
    "RecordType": "Delivery",
    "ServerID": 23,
    "MessageStream": "outbound",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Recipient": "john@example.com",
    "Tag": "welcome-email",
    "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
    "Details": "Test delivery webhook details",
    "Metadata": {"a_key": "a_value", "nurture_send_id": SEND_ID},
}


def mailgun_event(event_data: dict[str, Any], key: str = "key-test", stamp: int | None = None) -> bytes:
    """A Mailgun webhook body around `event_data`, signed with `key`."""
    timestamp = str(stamp if stamp is not None else int(datetime.now(UTC).timestamp()))
    token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": event_data,
        }
    ).encode()


# Mailgun webhook payload documentation: a permanent failure and a delivery.
MAILGUN_FAILED: dict[str, Any] = {
    "event": "failed",
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "timestamp": 1521233195.375624,
    "log-level": "error",
    "severity": "permanent",
    "reason": "bounce",
    "envelope": {"sender": "bob@sandbox.mailgun.org", "transport": "smtp", "targets": "alice@example.com"},
    "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
    "delivery-status": {
        "attempt-no": 1,
        "message": "5.1.1 The email account that you tried to reach does not exist.",
        "code": 550,
        "description": "",
        "session-seconds": 0.1,
    },
    "message": {
        "headers": {
            "to": "Alice <alice@example.com>",
            "message-id": MESSAGE_ID.strip("<>"),
            "from": "Bob <bob@sandbox.mailgun.org>",
            "subject": "Test permanent_fail webhook",
        },
        "attachments": [],
        "size": 111,
    },
    "recipient": "alice@example.com",
    "recipient-domain": "example.com",
    "campaigns": [],
    "tags": ["my_tag_1", "my_tag_2"],
    "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
}
MAILGUN_DELIVERED: dict[str, Any] = {
    "event": "delivered",
    "id": "MXcc2gEpS-eN8HfkOnmK2w",
    "timestamp": 1770146431.6585283,
    "delivery-status": {"attempt-no": 1, "code": 250, "message": "OK", "description": "", "tls": True},
    "message": {"headers": {"message-id": MESSAGE_ID.strip("<>"), "to": "recipient@sample.mailgun.com"}},
    "recipient": "recipient@sample.mailgun.com",
    "user-variables": {},
}

# Amazon SES notification examples (SES developer guide), with the Message-ID nurture set.
SES_BOUNCE: dict[str, Any] = {
    "notificationType": "Bounce",
    "bounce": {
        "feedbackId": "0100015d8a6a7a31-e7e9e7ec-8c25-4fd0-9a6a-b6b8d3e5e7ec-000000",
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "remoteMtaIp": "127.0.2.0",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": {
        "timestamp": "2017-08-05T00:40:02.012Z",
        "source": "Sender Name <sender@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Sender Name <sender@example.com>"},
            {"name": "To", "value": "recipient@example.com"},
            {"name": "Message-ID", "value": MESSAGE_ID},
            {"name": "Subject", "value": "Message sent from Amazon SES"},
        ],
    },
}
SES_COMPLAINT: dict[str, Any] = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2009-12-03T04:24:21.000-05:00",
        "timestamp": "2012-05-25T14:59:38.623Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": {
        "timestamp": "2012-05-25T14:59:38.623Z",
        "messageId": "000001378603177f-7a5433e7-8edb-42ae",
        "source": "sender@example.com",
        "destination": ["recipient@example.com"],
        "tags": {"nurture_send_id": [SEND_ID]},
    },
}
SES_DELIVERY: dict[str, Any] = {
    "notificationType": "Delivery",
    "mail": {
        "timestamp": "2014-05-28T22:40:59.638Z",
        "messageId": "0000014644fe5ef6-9a483358-9170-4cb4",
        "source": "test@ses-example.com",
        "destination": ["success@simulator.amazonses.com"],
        "headers": [{"name": "Message-ID", "value": MESSAGE_ID}],
    },
    "delivery": {
        "timestamp": "2014-05-28T22:41:01.184Z",
        "processingTimeMillis": 546,
        "recipients": ["success@simulator.amazonses.com"],
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
    },
}
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"


def signing_certificate() -> tuple[rsa.RSAPrivateKey, str]:
    """A self-signed RSA certificate standing in for SNS's (the real one verifies the same way)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


def sns_message(
    key: rsa.RSAPrivateKey, message: str, kind: str = "Notification", version: str = "2"
) -> dict[str, str]:
    fields = {
        "Type": kind,
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": message,
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
    }
    if kind == "Notification":
        fields["Subject"] = "Amazon SES Email Event Notification"
        names = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
    else:
        fields["Token"] = (
            "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736"
        )
        fields["SubscribeURL"] = (
            f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336"
        )
        names = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    text = "".join(f"{n}\n{fields[n]}\n" for n in names).encode()
    algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    fields["Signature"] = base64.b64encode(key.sign(text, padding.PKCS1v15(), algorithm)).decode()
    return fields


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half base64 DER, as SendGrid shows its verification key."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(public).decode()


def sendgrid_headers(
    key: ec.EllipticCurvePrivateKey, body: bytes, stamp: int | None = None
) -> dict[str, str]:
    timestamp = str(stamp if stamp is not None else int(datetime.now(UTC).timestamp()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
        "x-twilio-email-event-webhook-timestamp": timestamp,
    }
