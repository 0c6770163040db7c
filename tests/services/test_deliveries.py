"""Applying delivery reports: what each kind does to the address, the message and the contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from nurture.bootstrap import Container
from nurture.domain.bounces import Kind
from nurture.domain.bounces.delivery import DeliveryReport
from nurture.domain.errors import Invalid
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from tests.domain.bounce_corpus import corpus_dir
from tests.services.deliveries import activities_of, dsn, events_of, sent_email, suppression


def report(send: str | None, kind: Kind, reason: str, **extra: Any) -> DeliveryReport:
    fields: dict[str, Any] = {"recipient": "ann@example.com"} | extra
    return DeliveryReport(provider="sendgrid", send_id=send, kind=kind, reason=reason, **fields)


def test_a_hard_bounce_suppresses_the_address_and_says_why_on_the_contact(
    container: Container, workspace: NewWorkspace
) -> None:
    contact, send = sent_email(container, workspace.id, "ann@example.com")
    bounce = dsn(
        send,
        "ann@example.com",
        "5.1.1",
        "550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown",
    )
    applied = container.deliveries.ingest_report(workspace.id, bounce)
    assert (applied.recorded, applied.suppressed, applied.unknown_send_ids) == (1, 1, [])
    assert suppression(container, workspace.id, "ann@example.com") == "hard_bounce"
    [event] = events_of(container, workspace.id, send)
    assert event["kind"] == "bounced"
    assert event["contact_id"] == contact
    assert event["data"] | {"key": None} == event["data"] | {
        "key": None,
        "bounce": "hard",
        "status": "5.1.1",
        "reply_code": "550",
        "reason": "userunknown",
        "provider": "report",
        "suppressed": True,
    }
    [activity] = activities_of(container, workspace.id, contact)
    assert activity["kind"] == "email_bounced"
    assert activity["subject_id"] == send
    assert activity["data"]["suppressed"] is True
    assert activity["data"]["suppression"] == "hard_bounce"
    assert "User unknown" in activity["data"]["diagnostic"]


def test_a_blocked_ip_is_a_soft_bounce_that_never_suppresses_on_one_report(
    container: Container, workspace: NewWorkspace
) -> None:
    contact, send = sent_email(container, workspace.id, "ann@example.com")
    blocked = dsn(
        send,
        "ann@example.com",
        "5.7.1",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    )
    applied = container.deliveries.ingest_report(workspace.id, blocked)
    assert (applied.recorded, applied.suppressed) == (1, 0)
    assert suppression(container, workspace.id, "ann@example.com") is None
    [activity] = activities_of(container, workspace.id, contact)
    assert activity["data"] | {"diagnostic": None} == {
        "provider": "report",
        "address": "ann@example.com",
        "reason": "blocked",
        "bounce": "soft",
        "status": "5.7.1",
        "reply_code": "554",
        "diagnostic": None,
        "suppressed": False,
        "soft_bounces": 1,
        "soft_bounce_limit": 5,
        "soft_bounce_days": 30,
    }


def test_soft_bounces_suppress_after_the_limit_within_the_window(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    _, first = sent_email(container, workspace.id, "ann@example.com", key="0")
    container.deliveries.apply(workspace.id, [report(first, Kind.SOFT, "mailboxfull", event_id="old")])
    clock.advance(timedelta(days=31))  # the first one falls out of the 30-day window
    for attempt in range(1, 5):
        _, send = sent_email(container, workspace.id, "ann@example.com", key=str(attempt))
        applied = container.deliveries.apply(
            workspace.id, [report(send, Kind.SOFT, "mailboxfull", event_id=str(attempt))]
        )
        assert applied.suppressed == 0
        clock.advance(timedelta(days=1))
    assert suppression(container, workspace.id, "ann@example.com") is None
    contact, fifth = sent_email(container, workspace.id, "ann@example.com", key="5")
    applied = container.deliveries.apply(
        workspace.id, [report(fifth, Kind.SOFT, "mailboxfull", event_id="5")]
    )
    assert applied.suppressed == 1
    assert suppression(container, workspace.id, "ann@example.com") == "soft_bounce_limit"
    last = activities_of(container, workspace.id, contact)[-1]
    assert (last["data"]["soft_bounces"], last["data"]["suppressed"]) == (5, True)


def test_a_complaint_suppresses_and_keeps_its_feedback_type(
    container: Container, workspace: NewWorkspace
) -> None:
    contact, send = sent_email(container, workspace.id, "ann@example.com")
    applied = container.deliveries.apply(
        workspace.id, [report(send, Kind.COMPLAINT, "feedback", feedback_type="abuse", recipient=None)]
    )
    assert applied.suppressed == 1
    assert suppression(container, workspace.id, "ann@example.com") == "complaint"  # the outbox's address
    [event] = events_of(container, workspace.id, send)
    assert (event["kind"], event["data"]["feedback_type"]) == ("complained", "abuse")
    [activity] = activities_of(container, workspace.id, contact)
    assert (activity["kind"], activity["data"]["feedback_type"]) == ("email_complained", "abuse")


def test_a_delivery_is_recorded_without_an_activity(container: Container, workspace: NewWorkspace) -> None:
    contact, send = sent_email(container, workspace.id, "ann@example.com")
    container.deliveries.apply(workspace.id, [report(send, Kind.DELIVERED, "delivered", event_id="d1")])
    assert [e["kind"] for e in events_of(container, workspace.id, send)] == ["delivered"]
    assert activities_of(container, workspace.id, contact) == []


def test_the_same_report_twice_is_recorded_once(container: Container, workspace: NewWorkspace) -> None:
    _, send = sent_email(container, workspace.id, "ann@example.com")
    bounce = dsn(send, "ann@example.com", "4.2.2", "452 4.2.2 Mailbox full", action="delayed")
    container.deliveries.ingest_report(workspace.id, bounce)
    again = container.deliveries.ingest_report(workspace.id, bounce)
    assert (again.recorded, again.duplicates) == (0, 1)
    assert len(events_of(container, workspace.id, send)) == 1


def test_unknown_and_foreign_send_ids_are_counted_not_applied(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    _, theirs = sent_email(container, other_workspace.id, "bob@example.com")
    applied = container.deliveries.apply(
        workspace.id,
        [
            report(theirs, Kind.HARD, "userunknown"),
            report("nosuchsend", Kind.HARD, "userunknown"),
            report(None, Kind.HARD, "userunknown"),
        ],
    )
    assert (applied.recorded, applied.unknown_send_ids, applied.without_send_id) == (
        0,
        [theirs, "nosuchsend"],
        1,
    )
    assert suppression(container, other_workspace.id, "bob@example.com") is None
    assert suppression(container, workspace.id, "ann@example.com") is None


def test_a_corpus_report_about_mail_nurture_did_not_send_is_counted(
    container: Container, workspace: NewWorkspace
) -> None:
    data = (corpus_dir() / "mail" / "lhost-postfix-04.eml").read_bytes()
    applied = container.deliveries.ingest_report(workspace.id, data)
    assert applied.recorded == 0
    assert applied.unknown_send_ids or applied.without_send_id


def test_an_unreadable_report_is_refused_naming_the_body(
    container: Container, workspace: NewWorkspace
) -> None:
    with pytest.raises(
        Invalid, match="body: is not a readable bounce or complaint report: the report is empty"
    ):
        container.deliveries.ingest_report(workspace.id, b"")
    with pytest.raises(Invalid, match="names no recipient"):
        container.deliveries.ingest_report(workspace.id, b"Subject: hi\r\n\r\nhello\r\n")
