"""Pure rules of outbound webhooks: signatures, the retry schedule, event types and bodies."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from nurture.domain.activities import Activity, ActivityKind
from nurture.domain.errors import Invalid
from nurture.domain.webhooks.endpoints import DeliveryStatus, check_secret, check_url
from nurture.domain.webhooks.events import activity_event, check_event_types, subscribed
from nurture.domain.webhooks.retry import (
    FIRST_DELAY,
    MAX_DELAY,
    RETRY_FOR,
    after_attempt,
    backoff,
    next_attempt,
)
from nurture.domain.webhooks.signing import headers, secret_from_bytes, signature

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_signature_is_the_standard_webhooks_test_vector() -> None:
    # the example of the Standard Webhooks specification
    got = signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_standardwebhooks_library_verifies_what_we_sign() -> None:
    secret = secret_from_bytes(bytes(range(32)))
    body = b'{"type":"contact.tag_added","data":{"tag":"vip \xc3\xa9"}}'
    now = datetime.now(UTC)  # the library checks the timestamp against its own clock
    signed = headers(secret, "act_01J0000000000000000000000", now, body)
    assert Webhook(secret).verify(body, signed) == {"type": "contact.tag_added", "data": {"tag": "vip é"}}
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body + b" ", signed)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret_from_bytes(bytes(32))).verify(body, signed)


def test_secrets_and_urls_are_checked_with_the_field_named() -> None:
    assert check_secret(secret_from_bytes(b"k" * 24)).startswith("whsec_")
    for bad in ("whsec_", "abc", "whsec_!!!!", secret_from_bytes(b"short"), 12):
        with pytest.raises(Invalid) as caught:
            check_secret(bad)
        assert caught.value.errors[0].field == "secret"
    assert check_url("http://127.0.0.1:9000/hook") == "http://127.0.0.1:9000/hook"
    for bad in (
        "ftp://example.com",
        "example.com/hook",
        "https://user:pw@example.com/",
        "",
        None,
        "x" * 3000,
    ):
        with pytest.raises(Invalid) as caught:
            check_url(bad)
        assert caught.value.errors[0].field == "url"


def test_backoff_doubles_from_ten_seconds_up_to_two_hours() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff(11) == backoff(40) == MAX_DELAY
    assert backoff(1) == FIRST_DELAY


def test_the_jittered_delay_lies_in_the_second_half_of_the_backoff() -> None:
    rng = random.Random(7)
    for attempts in range(1, 15):
        for _ in range(50):
            at = next_attempt(attempts, T0, T0 + RETRY_FOR, rng.random())
            assert at is not None
            assert backoff(attempts) / 2 <= at - T0 <= backoff(attempts)


def test_the_last_attempt_is_made_at_the_deadline_and_then_the_delivery_is_dead() -> None:
    until = T0 + RETRY_FOR
    assert next_attempt(20, until - timedelta(minutes=30), until, 0.99) == until
    assert next_attempt(21, until, until, 0.0) is None
    assert after_attempt(21, 500, until, until, 0.5).status is DeliveryStatus.DEAD


def test_outcomes_of_an_attempt() -> None:
    until = T0 + RETRY_FOR
    assert after_attempt(1, 204, T0, until, 0.5).status is DeliveryStatus.DELIVERED
    gone = after_attempt(1, 410, T0, until, 0.5)
    assert (gone.status, gone.endpoint_gone, gone.next_attempt_at) == (DeliveryStatus.DEAD, True, None)
    for code in (None, 400, 401, 404, 429, 500, 503, 301):
        failed = after_attempt(3, code, T0, until, 0.0)
        assert failed.status is DeliveryStatus.FAILED
        assert failed.next_attempt_at == T0 + backoff(3) / 2


def test_event_types_are_known_types_or_patterns() -> None:
    assert check_event_types(["contact.*", "message.delivered", "*", "contact.*"]) == [
        "contact.*",
        "message.delivered",
        "*",
    ]
    with pytest.raises(Invalid) as caught:
        check_event_types(["contact.tag_added", "contact.tagged", 3])
    assert [e.field for e in caught.value.errors] == ["event_types[1]", "event_types[2]"]
    for bad in ([], None, "contact.*"):
        with pytest.raises(Invalid) as caught:
            check_event_types(bad)
        assert caught.value.errors[0].field == "event_types"
    assert subscribed(["message.*"], "message.opened")
    assert not subscribed(["message.*"], "contact.tag_added")
    assert subscribed(["*"], "webhook.test")
    assert not subscribed(["contact.segment_entered"], "contact.segment_exited")


def test_an_activity_becomes_an_event_named_after_its_kind_with_its_subject() -> None:
    activity = Activity(
        "01J00000000000000000000001", "c1", ActivityKind.SEGMENT_ENTERED, "s1", {"reason": "live"}, T0
    )
    event = activity_event(activity)
    assert event.id == "act_01J00000000000000000000001"
    assert event.body() == {
        "type": "contact.segment_entered",
        "timestamp": "2026-03-02T09:30:00Z",
        "data": {"activity_id": activity.id, "contact_id": "c1", "segment_id": "s1", "reason": "live"},
    }
