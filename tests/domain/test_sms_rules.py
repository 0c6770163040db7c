"""Pure rules of the SMS channel: settings, keywords, statuses, Twilio's signature and answers."""

from __future__ import annotations

import pytest

from nurture.channels.sms.twilio import result_of, signature, valid_signature
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.errors import Invalid
from nurture.domain.messages.delivery import Outcome
from nurture.domain.messages.sms import (
    Keyword,
    SmsSettings,
    effective,
    keyword,
    parse_settings,
    parse_sms_url,
    status_event,
)


def test_the_signature_is_twilios_documented_example() -> None:
    params = {
        "CallSid": ["CA1234567890ABCDE"],
        "Caller": ["+12349013030"],
        "Digits": ["1234"],
        "From": ["+12349013030"],
        "To": ["+18005551212"],
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert valid_signature("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    # Twilio may sign the URL with the default port spelled out
    assert valid_signature(
        "12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params, signature("12345", url, params)
    )
    assert not valid_signature("12345", url, {**params, "Digits": ["1235"]}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not valid_signature("54321", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not valid_signature("12345", url, params, "")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", Keyword.STOP),
        (" stop ", Keyword.STOP),
        ("Stop.", Keyword.STOP),
        ("unsubscribe", Keyword.STOP),
        ("StopAll", Keyword.STOP),
        ("cancel", Keyword.STOP),
        ("END", Keyword.STOP),
        ("quit!", Keyword.STOP),
        ("start", Keyword.START),
        ("Yes", Keyword.START),
        ("UNSTOP", Keyword.START),
        ("help", Keyword.HELP),
        ("please stop", None),
        ("stopped", None),
        ("", None),
    ],
)
def test_keywords_are_whole_messages_in_any_case(body: str, expected: Keyword | None) -> None:
    assert keyword(body) is expected


def test_delivery_statuses() -> None:
    assert status_event("delivered") is MessageEventKind.DELIVERED
    assert status_event("undelivered") is MessageEventKind.BOUNCED
    assert status_event("failed") is MessageEventKind.BOUNCED
    assert status_event("sent") is None
    assert status_event("queued") is None


def test_the_server_default_comes_from_one_url() -> None:
    server = parse_sms_url("https://AC123:s%40cret@sms.example.com:8443/twilio")
    assert (server.base_url, server.account_sid, server.auth_token) == (
        "https://sms.example.com:8443/twilio",
        "AC123",
        "s@cret",
    )
    with pytest.raises(ValueError, match="NURTURE_SMS_URL"):
        parse_sms_url("https://api.twilio.com")


def test_workspace_settings_win_field_by_field_and_a_sender_is_needed() -> None:
    server = SmsSettings(account_sid="ACserver", auth_token="t", from_number="+14155550100")
    mine = SmsSettings(from_number="+14155550199")
    config = effective(mine, server)
    assert config is not None
    assert (config.account_sid, config.from_number, config.base_url) == (
        "ACserver",
        "+14155550199",
        "https://api.twilio.com",
    )
    assert effective(SmsSettings(account_sid="AC1", auth_token="t"), None) is None
    assert effective(None, None) is None
    service = effective(SmsSettings(account_sid="AC1", auth_token="t", messaging_service_sid="MG1"), None)
    assert service is not None
    assert service.messaging_service_sid == "MG1"


def test_bad_settings_name_their_field() -> None:
    for data, field in (
        ({"from_number": "0301234"}, "from_number"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": "https://u:p@api.twilio.com"}, "base_url"),
        ({"account_sid": "AC 1"}, "account_sid"),
        ({"auth_token": ""}, "auth_token"),
        ({"provider": "nexmo"}, "provider"),
        ({"colour": "red"}, "colour"),
    ):
        with pytest.raises(Invalid) as caught:
            parse_settings(data)
        assert caught.value.errors[0].field == field, data
    assert parse_settings({"from_number": "+49 30 1234567"}).from_number == "+49301234567"


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (201, b'{"sid": "SM1", "status": "queued"}', Outcome.ACCEPTED, None),
        (400, b'{"code": 21211, "message": "Invalid To"}', Outcome.HARD_BOUNCE, "21211"),
        (400, b'{"code": 21610, "message": "unsubscribed recipient"}', Outcome.HARD_BOUNCE, "21610"),
        (400, b'{"code": 21614, "message": "not a mobile number"}', Outcome.HARD_BOUNCE, "21614"),
        (400, b'{"code": 21408, "message": "region not enabled"}', Outcome.FAILED, "21408"),
        (401, b'{"code": 20003, "message": "Authenticate"}', Outcome.FAILED, "20003"),
        (429, b'{"code": 20429, "message": "Too Many Requests"}', Outcome.RETRY, "20429"),
        (500, b"<html>oops</html>", Outcome.RETRY, None),
        (503, b"", Outcome.RETRY, None),
        (404, b"not json", Outcome.FAILED, None),
    ],
)
def test_provider_answers_map_to_outcomes(
    status: int, body: bytes, outcome: Outcome, code: str | None
) -> None:
    result = result_of(status, body)
    assert (result.outcome, result.status, result.reply_code) == (outcome, code, status)
    if outcome is Outcome.ACCEPTED:
        assert result.provider_id == "SM1"
