"""SMTP replies to outcomes: the table every sender agrees on (the seam for issue 6's classifier)."""

from __future__ import annotations

import pytest

from nurture.domain.messages.delivery import Outcome
from nurture.domain.messages.replies import classify_reply, split_enhanced


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("250 2.0.0 Ok: queued as 4Xh2", Outcome.ACCEPTED),
        ("251 User not local; will forward", Outcome.ACCEPTED),
        ("421 4.7.0 Try again later, closing connection", Outcome.RETRY),
        ("450 4.2.1 The user you are trying to contact is receiving mail too quickly", Outcome.RETRY),
        ("451 4.3.0 Temporary lookup failure", Outcome.RETRY),
        ("452 Insufficient system storage", Outcome.RETRY),
        ("354 Start mail input", Outcome.RETRY),
        ("550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown", Outcome.HARD_BOUNCE),
        (
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            Outcome.HARD_BOUNCE,
        ),
        ("553 5.1.3 Bad recipient address syntax", Outcome.HARD_BOUNCE),
        ("550 5.1.2 Host unknown (Name server: example.invalid: host not found)", Outcome.HARD_BOUNCE),
        ("553 5.1.8 <news@shop.example>: Sender address rejected: Domain not found", Outcome.FAILED),
        ("550 5.1.7 Invalid sender address syntax", Outcome.FAILED),
        ("550 5.7.1 Message rejected due to content restrictions (spam)", Outcome.FAILED),
        ("550 5.7.26 Unauthenticated email from shop.example is not accepted due to DMARC", Outcome.FAILED),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            Outcome.FAILED,
        ),
        ("552 5.2.2 Mailbox full", Outcome.FAILED),
        ("552 5.3.4 Message size exceeds fixed limit", Outcome.FAILED),
        ("550 User unknown", Outcome.HARD_BOUNCE),
        # the one bounce classifier (issue 6) reads the stock 550 text as a bad address
        ("550 Requested action not taken: mailbox unavailable", Outcome.HARD_BOUNCE),
        ("551 User not local; please try <forward@example.org>", Outcome.HARD_BOUNCE),
        ("553 sorry, no mailbox here by that name (#5.1.1)", Outcome.HARD_BOUNCE),
        ("550 5.0.0 <bob@example.org>... User unknown", Outcome.HARD_BOUNCE),
        ("550 5.0.0 Message rejected", Outcome.FAILED),
        ("554 Transaction failed", Outcome.FAILED),
        ("550 Message rejected as spam", Outcome.FAILED),
        ("500 Syntax error, command unrecognized", Outcome.FAILED),
        ("530 5.7.0 Authentication required", Outcome.RETRY),
        ("535 5.7.8 Authentication credentials invalid", Outcome.RETRY),
        ("538 5.7.11 Encryption required for requested authentication mechanism", Outcome.RETRY),
    ],
)
def test_reply_outcomes(reply: str, outcome: Outcome) -> None:
    code, _, text = reply.partition(" ")
    enhanced, rest = split_enhanced(text)
    assert classify_reply(int(code), enhanced, rest) is outcome


@pytest.mark.parametrize(
    ("text", "enhanced", "rest"),
    [
        ("5.1.1 User unknown", "5.1.1", "User unknown"),
        ("  4.7.0   Try later ", "4.7.0", "Try later"),
        ("5.7.26 Unauthenticated", "5.7.26", "Unauthenticated"),
        ("5.1.1", "5.1.1", ""),
        ("User unknown", None, "User unknown"),
        ("5.1.1x not a code", None, "5.1.1x not a code"),
        ("3.1.1 wrong class", None, "3.1.1 wrong class"),
    ],
)
def test_enhanced_code_is_read_from_the_start_of_the_text(text: str, enhanced: str | None, rest: str) -> None:
    assert split_enhanced(text) == (enhanced, rest)
