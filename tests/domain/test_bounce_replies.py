"""One SMTP answer at send time, read by the same rules as bounce reports."""

from __future__ import annotations

import pytest

from nurture.domain.bounces import Kind, classify_reply, outcome
from nurture.domain.messages.delivery import Outcome

HARD, SOFT = Kind.HARD, Kind.SOFT


@pytest.mark.parametrize(
    ("code", "enhanced", "text", "kind", "reason", "retry"),
    [
        (
            550,
            "5.1.1",
            "<a@example.com>: Recipient address rejected: User unknown",
            Kind.HARD,
            "userunknown",
            False,
        ),
        (
            550,
            None,
            "The email account that you tried to reach does not exist.",
            Kind.HARD,
            "userunknown",
            False,
        ),
        (550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found", HARD, "notaccept", False),
        (556, "5.1.10", "Recipient address has null MX", HARD, "notaccept", False),
        (
            550,
            "5.7.1",
            "Client host [192.0.2.1] blocked using Spamhaus",
            Kind.SOFT,
            "blocked",
            False,
        ),
        (
            550,
            "5.7.26",
            "Unauthenticated email is not accepted due to DMARC",
            Kind.SOFT,
            "authfailure",
            False,
        ),
        (
            552,
            "5.2.2",
            "The email account that you tried to reach is over quota",
            Kind.SOFT,
            "mailboxfull",
            False,
        ),
        (554, "5.7.1", "Message rejected as spam by Content Filtering", SOFT, "spamdetected", False),
        (421, "4.7.0", "Try again later, closing connection. (EHLO)", SOFT, "systemerror", True),
        (451, "4.7.1", "Greylisted, please try again in 5 minutes", SOFT, "systemerror", True),
        (450, "4.2.2", "Mailbox full", SOFT, "mailboxfull", True),
        (None, None, "timed out waiting for the server's greeting", SOFT, "expired", True),
        (None, None, "Connection refused", SOFT, "networkerror", True),
        (250, "2.0.0", "OK queued as 12345", Kind.DELIVERED, "delivered", False),
    ],
)
def test_send_time_replies(
    code: int | None, enhanced: str | None, text: str, kind: Kind, reason: str, retry: bool
) -> None:
    result = classify_reply(code, enhanced, text)
    assert (result.kind, result.reason, result.retry) == (kind, reason, retry)
    assert result.suppresses is (kind is Kind.HARD)


def test_a_temporary_user_unknown_is_retried_not_suppressed() -> None:
    result = classify_reply(450, "4.1.1", "Recipient address rejected: User unknown in local recipient table")
    assert result.kind is Kind.SOFT
    assert result.retry
    assert not result.suppresses


def test_codes_are_found_in_the_text_when_not_given() -> None:
    result = classify_reply(None, None, "550 5.1.1 <a@example.com>... User Unknown")
    assert (result.kind, result.reply_code, result.status) == (Kind.HARD, "550", "5.1.1")


def test_the_dispatchers_outcome_follows_the_classification() -> None:
    assert outcome(classify_reply(250, "2.0.0", "queued")) is Outcome.ACCEPTED
    assert outcome(classify_reply(451, "4.3.0", "try again later")) is Outcome.RETRY
    assert outcome(classify_reply(None, None, "timed out")) is Outcome.RETRY
    assert outcome(classify_reply(550, "5.1.1", "user unknown")) is Outcome.HARD_BOUNCE
    assert (
        outcome(classify_reply(550, "5.7.1", "rejected by policy: blocked using Spamhaus")) is Outcome.FAILED
    )
    assert outcome(classify_reply(552, "5.3.4", "message too big")) is Outcome.FAILED
