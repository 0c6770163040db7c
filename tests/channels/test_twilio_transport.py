"""The Twilio-compatible SMS transport against a real HTTP server on loopback standing in for the
provider: what it posts, how answers map to results, one connection for a batch."""

from __future__ import annotations

import base64
import threading

from nurture.channels.sms.twilio import TwilioSms
from nurture.domain.messages.delivery import Outcome, OutgoingSms
from nurture.domain.messages.sms import SmsSenderConfig
from tests.conftest import free_port
from tests.http_peer import RecordingServer


def config(url: str, **extra: str) -> SmsSenderConfig:
    values = {"from_number": "+14155550100", **extra}
    return SmsSenderConfig(
        base_url=url,
        account_sid="AC0123456789abcdef",
        auth_token="tok3n",
        from_number=values.get("from_number"),
        messaging_service_sid=values.get("messaging_service_sid"),
        status_callback=values.get("status_callback"),
    )


def test_a_batch_is_posted_form_encoded_with_basic_auth_over_one_connection(
    receiver: RecordingServer,
) -> None:
    receiver.then(201, {"sid": "SM1", "status": "queued"})
    receiver.then(400, {"code": 21211, "message": "The 'To' number +1555 is not a valid phone number."})
    receiver.then(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"})
    receiver.then(429, {"code": 20429, "message": "Too Many Requests"})
    receiver.then(500, b"upstream error")
    receiver.then(401, {"code": 20003, "message": "Authenticate"})
    sms = TwilioSms()
    messages = [OutgoingSms(f"send-{n}", f"+1415555010{n}", f"Hi {n} ✓ ünïcode") for n in range(6)]
    try:
        results = sms.send_many(
            config(
                f"{receiver.url}/base", status_callback="https://nurture.example.com/api/v1/sms/status/ws.s"
            ),
            messages,
        )
    finally:
        sms.close()

    assert [r.outcome for r in results] == [
        Outcome.ACCEPTED,
        Outcome.HARD_BOUNCE,
        Outcome.HARD_BOUNCE,
        Outcome.RETRY,
        Outcome.RETRY,
        Outcome.FAILED,
    ]
    assert results[0].provider_id == "SM1"
    assert (results[1].status, results[1].reply_code) == ("21211", 400)
    assert results[1].detail == "The 'To' number +1555 is not a valid phone number."
    assert len(receiver.received) == 6
    assert len({r.client_port for r in receiver.received}) == 1  # one connection, reused
    first = receiver.received[0]
    assert (first.method, first.path) == (
        "POST",
        "/base/2010-04-01/Accounts/AC0123456789abcdef/Messages.json",
    )
    assert first.headers["authorization"] == "Basic " + base64.b64encode(b"AC0123456789abcdef:tok3n").decode()
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    assert first.form() == {
        "To": ["+14155550100"],
        "From": ["+14155550100"],
        "Body": ["Hi 0 ✓ ünïcode"],
        "StatusCallback": ["https://nurture.example.com/api/v1/sms/status/ws.s?message_id=send-0"],
    }


def test_a_messaging_service_sends_instead_of_a_number(receiver: RecordingServer) -> None:
    receiver.answer(201, {"sid": "SM9"})
    sms = TwilioSms()
    try:
        [result] = sms.send_many(
            config(receiver.url, from_number="", messaging_service_sid="MG42"),
            [OutgoingSms("s", "+14155550101", "x")],
        )
    finally:
        sms.close()
    assert result.outcome is Outcome.ACCEPTED
    assert receiver.received[0].form() == {
        "To": ["+14155550101"],
        "Body": ["x"],
        "MessagingServiceSid": ["MG42"],
    }


def test_no_answer_is_a_retry(receiver: RecordingServer) -> None:
    release = threading.Event()
    receiver.then(201, {"sid": "SM1"}, hold=release)
    sms = TwilioSms(timeout=0.3)
    try:
        [late] = sms.send_many(config(receiver.url), [OutgoingSms("s1", "+14155550101", "x")])
        [refused] = sms.send_many(
            config(f"http://127.0.0.1:{free_port()}"), [OutgoingSms("s2", "+14155550101", "x")]
        )
    finally:
        release.set()
        sms.close()
    assert late.outcome is Outcome.RETRY
    assert late.detail == "timed out waiting for the SMS provider"
    assert refused.outcome is Outcome.RETRY
    assert refused.detail is not None
    assert "ConnectError" in refused.detail
