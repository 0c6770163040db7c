"""ESP delivery-event webhooks: each provider's documented payloads map to `DeliveryReport`s through
the one classifier, and each provider's signature scheme is checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from nurture.domain.bounces import Kind
from nurture.domain.bounces.delivery import send_id_from_message_id
from nurture.domain.bounces.providers import mailgun, postmark, sendgrid, ses
from nurture.domain.errors import Invalid, Unauthorized
from tests.domain import provider_samples as samples

NOW = datetime.now(UTC)


def test_the_send_id_is_the_message_ids_left_part() -> None:
    assert send_id_from_message_id(samples.MESSAGE_ID) == samples.SEND_ID
    assert send_id_from_message_id(samples.MESSAGE_ID.strip("<>")) == samples.SEND_ID
    assert send_id_from_message_id("no id here") is None
    assert send_id_from_message_id(None) is None


def test_sendgrid_batch_maps_every_delivery_event() -> None:
    reports = sendgrid.parse(json.dumps(samples.SENDGRID_EVENTS).encode())
    assert [(r.kind, r.reason) for r in reports] == [
        (Kind.SOFT, "systemerror"),  # deferred "400 try again later": never suppresses
        (Kind.DELIVERED, "delivered"),
        (Kind.HARD, "userunknown"),  # "500 unknown recipient"
        (Kind.SOFT, "blocked"),  # a blocklist, not the address
        (Kind.HARD, "userunknown"),  # dropped: a previously bounced address
        (Kind.COMPLAINT, "feedback"),
    ]
    assert {r.send_id for r in reports} == {samples.SEND_ID}
    assert all(r.provider == "sendgrid" and r.recipient == "example@test.com" for r in reports)
    assert reports[0].occurred_at == datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
    assert reports[-1].feedback_type == "abuse"


def test_sendgrid_signature_is_verified_with_the_ecdsa_public_key() -> None:
    key, public = samples.sendgrid_keys()
    body = json.dumps(samples.SENDGRID_EVENTS).encode()
    headers = samples.sendgrid_headers(key, body, stamp=int(NOW.timestamp()))  # signed "now", not later
    sendgrid.verify(body, headers, public, NOW)
    with pytest.raises(Unauthorized, match="does not match"):
        sendgrid.verify(body + b" ", headers, public, NOW)
    stale = samples.sendgrid_headers(key, body, stamp=int(NOW.timestamp()) - 3600)
    with pytest.raises(Unauthorized, match="too far"):
        sendgrid.verify(body, stale, public, NOW)
    with pytest.raises(Unauthorized, match="headers are required"):
        sendgrid.verify(body, {}, public, NOW)
    with pytest.raises(Unauthorized, match="not a base64 DER"):
        sendgrid.verify(body, headers, "bm90IGEga2V5", NOW)


def test_sendgrid_bad_input_names_the_field() -> None:
    with pytest.raises(Invalid, match="body"):
        sendgrid.parse(b"{not json")
    with pytest.raises(Invalid, match=r"must be a JSON array"):
        sendgrid.parse(b'{"event": "bounce"}')
    with pytest.raises(Invalid, match=r"\[1\]\.event: is required"):
        sendgrid.parse(b'[{"event": "delivered", "timestamp": 1}, {"email": "a@example.com"}]')
    with pytest.raises(Invalid, match=r"\[0\]\.timestamp"):
        sendgrid.parse(b'[{"event": "delivered", "timestamp": "yesterday"}]')


def test_postmark_bounce_complaint_and_delivery() -> None:
    [bounce] = postmark.parse(json.dumps(samples.POSTMARK_BOUNCE).encode())
    assert (bounce.kind, bounce.reason, bounce.send_id) == (Kind.HARD, "userunknown", samples.SEND_ID)
    assert bounce.occurred_at == datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
    [complaint] = postmark.parse(json.dumps(samples.POSTMARK_SPAM_COMPLAINT).encode())
    assert (complaint.kind, complaint.feedback_type, complaint.recipient) == (
        Kind.COMPLAINT,
        "abuse",
        "john@example.com",
    )
    [delivery] = postmark.parse(json.dumps(samples.POSTMARK_DELIVERY).encode())
    assert (delivery.kind, delivery.send_id) == (Kind.DELIVERED, samples.SEND_ID)


def test_postmark_reads_the_remote_servers_words_over_its_own_type() -> None:
    blocked = samples.POSTMARK_BOUNCE | {
        "Type": "HardBounce",
        "Details": "smtp;550 5.7.1 Service unavailable; client [192.0.2.1] blocked using Spamhaus",
    }
    [report] = postmark.parse(json.dumps(blocked).encode())
    assert (report.kind, report.reason, report.status) == (Kind.SOFT, "blocked", "5.7.1")


def test_postmark_is_authenticated_by_basic_credentials() -> None:
    postmark.verify_basic("Basic dXNlcjpzM2NyZXQ=", "s3cret")  # user:s3cret
    with pytest.raises(Unauthorized, match="does not match"):
        postmark.verify_basic("Basic dXNlcjp3cm9uZw==", "s3cret")
    with pytest.raises(Unauthorized, match="must carry"):
        postmark.verify_basic(None, "s3cret")
    with pytest.raises(Invalid, match="Email: is required"):
        postmark.parse(b'{"RecordType": "Bounce", "Type": "HardBounce"}')


def test_mailgun_failure_and_delivery_and_signature() -> None:
    body = samples.mailgun_event(samples.MAILGUN_FAILED, key="mg-key", stamp=int(NOW.timestamp()))
    mailgun.verify(body, "mg-key", NOW)
    [failed] = mailgun.parse(body)
    assert (failed.kind, failed.reason, failed.reply_code, failed.status) == (
        Kind.HARD,
        "userunknown",
        "550",
        "5.1.1",
    )
    assert failed.send_id == samples.SEND_ID
    [delivered] = mailgun.parse(samples.mailgun_event(samples.MAILGUN_DELIVERED))
    assert delivered.kind is Kind.DELIVERED
    temporary = samples.MAILGUN_FAILED | {"severity": "temporary"}
    [soft] = mailgun.parse(samples.mailgun_event(temporary))
    assert soft.kind is Kind.SOFT
    with pytest.raises(Unauthorized, match="does not match"):
        mailgun.verify(body, "another-key", NOW)
    with pytest.raises(Unauthorized, match="too far"):
        mailgun.verify(samples.mailgun_event(samples.MAILGUN_FAILED, "mg-key", stamp=1), "mg-key", NOW)
    with pytest.raises(Invalid, match="event-data: is required"):
        mailgun.parse(b'{"signature": {}}')


def test_ses_notifications_through_a_verified_sns_message() -> None:
    key, pem = samples.signing_certificate()
    expected = {
        "Bounce": (Kind.HARD, "userunknown", None),
        "Complaint": (Kind.COMPLAINT, "feedback", "abuse"),
        "Delivery": (Kind.DELIVERED, "delivered", None),
    }
    for notification in (samples.SES_BOUNCE, samples.SES_COMPLAINT, samples.SES_DELIVERY):
        message = ses.envelope(json.dumps(samples.sns_message(key, json.dumps(notification))).encode())
        ses.verify(message, pem, [samples.TOPIC])
        [report] = ses.parse(message)
        assert (report.kind, report.reason, report.feedback_type) == expected[
            notification["notificationType"]
        ]
        assert report.send_id == samples.SEND_ID
        assert report.provider == "ses"
        assert report.occurred_at is not None


def test_sns_signatures_versions_topics_and_subscription_confirmations() -> None:
    key, pem = samples.signing_certificate()
    for version in ("1", "2"):
        signed = samples.sns_message(key, json.dumps(samples.SES_BOUNCE), version=version)
        ses.verify(ses.envelope(json.dumps(signed).encode()), pem, [])
    confirmation = ses.envelope(
        json.dumps(
            samples.sns_message(key, "You have chosen to subscribe", "SubscriptionConfirmation")
        ).encode()
    )
    ses.verify(confirmation, pem, [samples.TOPIC])
    assert confirmation.subscribe_url is not None
    assert ses.parse(confirmation) == []
    tampered = samples.sns_message(key, json.dumps(samples.SES_BOUNCE)) | {"Message": "{}"}
    with pytest.raises(Unauthorized, match="store the PEM from https://sns"):
        ses.verify(ses.envelope(json.dumps(tampered).encode()), pem, [])
    with pytest.raises(Unauthorized, match="not one this workspace accepts"):
        ses.verify(confirmation, pem, ["arn:aws:sns:us-east-1:123456789012:other"])
    _, other_pem = samples.signing_certificate()
    with pytest.raises(Unauthorized, match="does not verify"):
        ses.verify(confirmation, other_pem, [])
    foreign = samples.sns_message(key, "{}") | {"SigningCertURL": "https://evil.example.com/cert.pem"}
    with pytest.raises(Unauthorized, match="not an Amazon SNS certificate URL"):
        ses.verify(ses.envelope(json.dumps(foreign).encode()), pem, [])
    with pytest.raises(Invalid, match="Signature: is required"):
        ses.envelope(b'{"Type": "Notification", "Message": "{}", "TopicArn": "t"}')
