"""The dispatcher against the real database: policies in order, rendering, results, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_string
from email.policy import default as email_policy

from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.messages.delivery import DeliveryResult, Outcome, OutgoingEmail, OutgoingSms
from nurture.domain.subscriptions import Status as Consent
from nurture.domain.templates.model import Category, TemplateKind
from nurture.services.identity import address_hash
from nurture.services.subscriptions import set_status
from nurture.services.workspaces import NewWorkspace
from nurture.store import suppressions
from nurture.store import topics as topic_store
from nurture.store.contacts import lock
from nurture.store.schema import events, message_events
from tests.conftest import ingest
from tests.services.messaging import (
    Scripted,
    contact,
    dispatcher,
    enqueue,
    message,
    sender,
    status,
    template,
)

RETRY = DeliveryResult(Outcome.RETRY, 451, "4.3.0", "try later")


def _topic(container: Container, workspace_id: str, channel: str, name: str, default: str) -> None:
    with container.db.write() as conn:
        topic_store.add(
            conn,
            [
                {
                    "workspace_id": workspace_id,
                    "channel": channel,
                    "name": name,
                    "label": name,
                    "description": None,
                    "default_status": default,
                    "double_opt_in": False,
                    "created_at": container.clock.now(),
                }
            ],
        )


def _consent(
    container: Container, workspace_id: str, contact_id: str, channel: str, topic: str | None, to: Consent
) -> None:
    with container.db.write() as conn:
        assert lock(conn, workspace_id, contact_id)
        set_status(conn, workspace_id, contact_id, channel, topic, to, "api", container.clock.now())


def test_a_due_message_is_rendered_sent_and_recorded(container: Container, workspace: NewWorkspace) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com", firstName="Ann")
    sender(container, workspace.id, reply_to="help@acme.example.com")
    welcome = template(container, workspace.id)
    sent_id = enqueue(
        container, workspace.id, ann, welcome, "run1:welcome:0", context={"data": {"order": 42}}
    )
    transport = Scripted()

    stats = dispatcher(container, transport).run_once()

    assert (stats.claimed, stats.sent) == (1, 1)
    [email] = transport.sent
    assert isinstance(email, OutgoingEmail)
    assert (email.message_id, email.to, email.subject) == (sent_id, "ann@example.com", "Hi Ann")
    assert (email.from_email, email.from_name, email.reply_to) == (
        "news@acme.example.com",
        "Acme",
        "help@acme.example.com",
    )
    assert email.html is not None
    assert "Hello Ann 42" in email.html
    row = message(container, workspace.id, sent_id)
    assert (row.status, row.reason, row.attempts) == ("sent", None, 1)
    assert (row.sent_at, row.provider_id, row.template_version) == (container.clock.now(), "provider-1", 1)
    assert (row.to_address, row.subject) == ("ann@example.com", "Hi Ann")
    with container.db.read() as conn:
        kinds = conn.execute(
            select(message_events.c.kind).where(message_events.c.message_id == sent_id)
        ).all()
        names = conn.execute(
            select(events.c.name).where(events.c.contact_id == ann, events.c.type == "track")
        ).all()
    assert kinds == [("sent",)]
    assert names == [("Email Sent",)]
    assert dispatcher(container, transport).run_once().claimed == 0


def test_without_smtp_the_message_is_captured_as_it_would_be_sent(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com", firstName="Ann")
    sender(container, workspace.id)
    sent_id = enqueue(container, workspace.id, ann, template(container, workspace.id), "k1")

    assert container.dispatcher.run_once().sent == 1

    [captured] = container.mail.newest(workspace.id)
    assert (captured.message_id, captured.rcpt_to, captured.subject) == (sent_id, "ann@example.com", "Hi Ann")
    full = container.mail.get(workspace.id, sent_id)
    parsed = message_from_string(full.raw, policy=email_policy)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Message-ID"] == f"<{sent_id}@acme.example.com>"
    assert parsed["From"] == "Acme <news@acme.example.com>"
    assert parsed["Subject"] == "Hi Ann"
    assert message(container, workspace.id, sent_id).provider_id == captured.id


def test_suppressed_addresses_get_nothing_transactional_or_marketing(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    receipt = template(container, workspace.id, category=Category.TRANSACTIONAL, name="Receipt")
    promo = template(container, workspace.id, name="Promo")
    with container.db.write() as conn:
        suppressions.add(
            conn, workspace.id, "email", address_hash("ann@example.com"), "complaint", container.clock.now()
        )
    ids = [
        enqueue(container, workspace.id, ann, receipt, "r1", category="transactional"),
        enqueue(container, workspace.id, ann, promo, "p1"),
    ]
    transport = Scripted()

    assert dispatcher(container, transport).run_once().skipped == 2

    assert transport.sent == []
    for message_id in ids:
        row = message(container, workspace.id, message_id)
        assert (row.status, row.reason, row.detail) == ("skipped", "suppressed", "complaint")


def test_an_unsubscribe_committed_after_messages_were_queued_stops_every_one_of_them(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    bob = contact(container, workspace.id, "bob", email="bob@example.com")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    _topic(container, workspace.id, "email", "newsletter", "subscribed")
    queued = [
        enqueue(container, workspace.id, ann, promo, "a1"),
        enqueue(container, workspace.id, ann, promo, "a2", topic="newsletter"),
        enqueue(container, workspace.id, ann, promo, "a3", due_at=container.clock.now() + timedelta(hours=1)),
        enqueue(container, workspace.id, bob, promo, "b1"),
        enqueue(container, workspace.id, bob, promo, "b2", topic="newsletter"),
    ]
    _consent(container, workspace.id, ann, "email", None, Consent.UNSUBSCRIBED)
    with container.db.write() as conn:
        suppressions.add(
            conn,
            workspace.id,
            "email",
            address_hash("bob@example.com"),
            "unsubscribed",
            container.clock.now(),
        )
    transport = Scripted()

    first = dispatcher(container, transport).run_once()
    container.clock.advance(timedelta(hours=2))
    later = dispatcher(container, transport).run_once()

    assert transport.sent == []
    assert (first.skipped, later.skipped) == (4, 1)
    reasons = [status(container, workspace.id, m) for m in queued]
    assert reasons == [("skipped", "unsubscribed")] * 3 + [("skipped", "suppressed")] * 2


def test_topics_decide_marketing_and_transactional_ignores_topic_opt_outs(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    receipt = template(container, workspace.id, category=Category.TRANSACTIONAL, name="Receipt")
    _topic(container, workspace.id, "email", "newsletter", "subscribed")
    _topic(container, workspace.id, "email", "beta", "unsubscribed")
    _topic(container, workspace.id, "email", "offers", "subscribed")
    _consent(container, workspace.id, ann, "email", "offers", Consent.UNSUBSCRIBED)
    cases = {
        enqueue(container, workspace.id, ann, promo, "m1", topic="newsletter"): ("sent", None),
        enqueue(container, workspace.id, ann, promo, "m2", topic="beta"): ("skipped", "no_consent"),
        enqueue(container, workspace.id, ann, promo, "m3", topic="offers"): ("skipped", "unsubscribed"),
        enqueue(container, workspace.id, ann, promo, "m4", topic="nope"): ("skipped", "unknown_topic"),
        enqueue(container, workspace.id, ann, receipt, "t1", topic="offers", category="transactional"): (
            "sent",
            None,
        ),
    }
    dispatcher(container, Scripted()).run_once()
    _consent(container, workspace.id, ann, "email", "beta", Consent.SUBSCRIBED)
    cases[enqueue(container, workspace.id, ann, promo, "m5", topic="beta")] = ("sent", None)

    dispatcher(container, Scripted()).run_once()

    assert {m: status(container, workspace.id, m) for m in cases} == cases


def test_marketing_sms_needs_an_opt_in_and_goes_to_the_phone(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", phone="+14155550123", firstName="Ann")
    bob = contact(container, workspace.id, "bob", phone="+14155550124")
    eve = contact(container, workspace.id, "eve", email="eve@example.com")
    alert = template(
        container,
        workspace.id,
        kind=TemplateKind.SMS,
        name="Alert",
        text="Hi {{ contact.first_name }}, sale!",
    )
    _consent(container, workspace.id, ann, "sms", None, Consent.SUBSCRIBED)
    sent = enqueue(container, workspace.id, ann, alert, "s1", channel="sms")
    refused = enqueue(container, workspace.id, bob, alert, "s2", channel="sms")
    no_phone = enqueue(container, workspace.id, eve, alert, "s3", channel="sms")
    transport = Scripted()

    dispatcher(container, transport).run_once()

    assert transport.sent == [OutgoingSms(sent, "+14155550123", "Hi Ann, sale!")]
    assert status(container, workspace.id, refused) == ("skipped", "no_consent")
    assert status(container, workspace.id, no_phone) == ("skipped", "no_address")


def test_the_frequency_cap_counts_everything_and_defers(
    container: Container, workspace: NewWorkspace
) -> None:
    container.messaging.replace(workspace.id, {"frequency_cap": {"max_messages": 2, "window_hours": 24}})
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    receipt = template(container, workspace.id, category=Category.TRANSACTIONAL, name="Receipt")
    earlier = enqueue(container, workspace.id, ann, promo, "campaign:1")
    transport = Scripted()
    first_sent = container.clock.now()
    dispatcher(container, transport).run_once()
    container.clock.advance(timedelta(hours=3))
    ids = []
    for n in range(3):  # queued one after the other: the oldest goes first
        ids.append(enqueue(container, workspace.id, ann, promo, f"journey:{n}"))
        container.clock.advance(timedelta(seconds=1))
    free = enqueue(container, workspace.id, ann, receipt, "receipt:1", category="transactional")

    stats = dispatcher(container, transport).run_once()

    assert (stats.sent, stats.deferred) == (2, 2)
    assert status(container, workspace.id, earlier) == ("sent", None)
    assert [status(container, workspace.id, m) for m in ids] == [
        ("sent", None),
        ("pending", "frequency_cap"),
        ("pending", "frequency_cap"),
    ]
    assert status(container, workspace.id, free) == ("sent", None)
    # a slot frees when the first message leaves the 24 h window
    assert message(container, workspace.id, ids[1]).due_at == first_sent + timedelta(hours=24)
    container.clock.set(first_sent + timedelta(hours=24))
    assert dispatcher(container, transport).run_once().sent == 1
    assert status(container, workspace.id, ids[2]) == ("pending", "frequency_cap")


def test_over_the_cap_with_skip_the_message_is_dropped(container: Container, workspace: NewWorkspace) -> None:
    cap = {"max_messages": 1, "window_hours": 1, "over_cap": "skip"}
    container.messaging.replace(workspace.id, {"frequency_cap": cap})
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    first = enqueue(container, workspace.id, ann, promo, "k1")
    container.clock.advance(timedelta(seconds=1))
    second = enqueue(container, workspace.id, ann, promo, "k2")

    dispatcher(container, Scripted()).run_once()

    assert status(container, workspace.id, first) == ("sent", None)
    assert status(container, workspace.id, second) == ("skipped", "frequency_cap")


def test_quiet_hours_defer_marketing_to_the_contacts_morning(
    container: Container, workspace: NewWorkspace
) -> None:
    quiet = {"start": "21:00", "end": "08:00", "fallback_timezone": "Europe/Berlin"}
    container.messaging.replace(workspace.id, {"quiet_hours": quiet})
    # 09:30 UTC: 04:30 in New York (quiet), 10:30 in Berlin (allowed)
    ny = contact(container, workspace.id, "ny", email="ny@example.com", timezone="America/New_York")
    nowhere = contact(container, workspace.id, "nowhere", email="nowhere@example.com")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    receipt = template(container, workspace.id, category=Category.TRANSACTIONAL, name="Receipt")
    held = enqueue(container, workspace.id, ny, promo, "p1")
    fallback = enqueue(container, workspace.id, nowhere, promo, "p2")
    urgent = enqueue(container, workspace.id, ny, receipt, "r1", category="transactional")
    transport = Scripted()

    dispatcher(container, transport).run_once()

    assert sorted(transport.to()) == ["nowhere@example.com", "ny@example.com"]
    assert {status(container, workspace.id, m) for m in (fallback, urgent)} == {("sent", None)}
    row = message(container, workspace.id, held)
    assert (row.status, row.reason, row.attempts) == ("pending", "quiet_hours", 0)
    assert row.due_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 08:00 EST
    container.clock.set(row.due_at)
    assert dispatcher(container, transport).run_once().sent == 1
    assert status(container, workspace.id, held) == ("sent", None)


def test_a_provider_asking_to_retry_is_retried_with_backoff_then_given_up(
    container: Container, workspace: NewWorkspace
) -> None:
    retry = {"max_attempts": 3, "backoff_seconds": 60, "max_backoff_seconds": 90}
    container.messaging.replace(workspace.id, {"retry": retry})
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    bob = contact(container, workspace.id, "bob", email="bob@example.com")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    late = enqueue(container, workspace.id, ann, promo, "a")
    never = enqueue(container, workspace.id, bob, promo, "b")
    accepted = DeliveryResult(Outcome.ACCEPTED, 250)
    transport = Scripted({"ann@example.com": [RETRY, RETRY, accepted], "bob@example.com": RETRY})
    start = container.clock.now()
    worker = dispatcher(container, transport)

    assert worker.run_once().retried == 2
    row = message(container, workspace.id, late)
    assert (row.status, row.reason, row.attempts, row.due_at) == (
        "pending",
        "retry",
        1,
        start + timedelta(seconds=60),
    )
    assert row.detail == "451 4.3.0 try later"
    assert worker.run_once().claimed == 0  # not before its time
    container.clock.advance(timedelta(seconds=60))
    assert worker.run_once().retried == 2
    assert message(container, workspace.id, late).due_at == start + timedelta(seconds=60 + 90)  # capped
    container.clock.advance(timedelta(seconds=90))
    stats = worker.run_once()

    assert (stats.sent, stats.failed) == (1, 1)
    assert message(container, workspace.id, late).attempts == 3
    assert status(container, workspace.id, never) == ("failed", "retries_exhausted")
    assert transport.to().count("ann@example.com") == 3


def test_a_hard_bounce_fails_and_suppresses_a_policy_rejection_only_fails(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    bob = contact(container, workspace.id, "bob", email="bob@example.com")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    bounced = enqueue(container, workspace.id, ann, promo, "a1")
    refused = enqueue(container, workspace.id, bob, promo, "b1")
    transport = Scripted(
        {
            "ann@example.com": DeliveryResult(Outcome.HARD_BOUNCE, 550, "5.1.1", "no such user"),
            "bob@example.com": DeliveryResult(Outcome.FAILED, 550, "5.7.1", "policy"),
        }
    )

    dispatcher(container, transport).run_once()

    assert status(container, workspace.id, bounced) == ("failed", "hard_bounce")
    assert status(container, workspace.id, refused) == ("failed", "rejected")
    with container.db.read() as conn:
        hits = suppressions.suppressed(
            conn, workspace.id, "email", [address_hash("ann@example.com"), address_hash("bob@example.com")]
        )
        kinds = conn.execute(
            select(message_events.c.message_id, message_events.c.kind, message_events.c.data)
        ).all()
    assert hits == {address_hash("ann@example.com"): "hard_bounce"}
    assert kinds == [(bounced, "bounced", {"status": "5.1.1", "reply_code": 550, "type": "hard"})]
    again = enqueue(container, workspace.id, ann, promo, "a2")
    dispatcher(container, transport).run_once()
    assert status(container, workspace.id, again) == ("skipped", "suppressed")


def test_messages_that_cannot_be_built_fail_with_the_reason(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    broken = template(container, workspace.id, html="<p>{{ data.n | divided_by: 0 }}</p>", name="Broken")
    gone = template(container, workspace.id, name="Gone")
    unsent = enqueue(container, workspace.id, ann, broken, "k1", context={"data": {"n": 1}})
    deleted = enqueue(container, workspace.id, ann, gone, "k2")
    container.templates.delete(workspace.id, gone)
    nobody = enqueue(container, workspace.id, ann, template(container, workspace.id, name="No sender"), "k3")

    dispatcher(container, Scripted()).run_once()

    row = message(container, workspace.id, unsent)
    assert (row.status, row.reason) == ("failed", "render_error")
    assert row.detail is not None
    assert row.detail.startswith("html: divided_by: can't divide by 0")
    assert status(container, workspace.id, deleted) == ("failed", "render_error")
    assert message(container, workspace.id, deleted).detail == f"template {gone} no longer exists"
    assert status(container, workspace.id, nobody) == ("failed", "no_sender")


def test_the_template_names_the_sender_when_the_workspace_has_none(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    own = template(container, workspace.id, from_email="Shop@Acme.example.com")
    enqueue(container, workspace.id, ann, own, "k1")
    transport = Scripted()

    dispatcher(container, transport).run_once()

    [email] = transport.sent
    assert isinstance(email, OutgoingEmail)
    assert (email.from_email, email.from_name) == ("shop@acme.example.com", None)
    assert transport.senders[0].id == "server"


def test_a_message_to_a_contact_merged_meanwhile_goes_to_the_survivor(
    container: Container, workspace: NewWorkspace
) -> None:
    sender(container, workspace.id)
    ingest(container, workspace.id, {"type": "track", "anonymousId": "device-1", "event": "Viewed"})
    visitor = container.contacts.list(workspace.id).items[0].id
    visitor_message = enqueue(container, workspace.id, visitor, template(container, workspace.id), "k1")
    ingest(
        container,
        workspace.id,
        {
            "type": "identify",
            "userId": "ann",
            "anonymousId": "device-1",
            "traits": {"email": "ann@example.com"},
        },
    )
    ann = container.contacts.list(workspace.id, user_id="ann").items[0].id
    transport = Scripted()

    dispatcher(container, transport).run_once()

    row = message(container, workspace.id, visitor_message)
    assert (row.status, row.contact_id, row.to_address) == ("sent", ann, "ann@example.com")


def test_erasing_a_contact_erases_its_messages(container: Container, workspace: NewWorkspace) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    sent_id = enqueue(container, workspace.id, ann, template(container, workspace.id), "k1")
    container.dispatcher.run_once()

    container.contacts.erase(workspace.id, ann)

    assert container.messages.list(workspace.id).items == []
    assert container.mail.newest(workspace.id) == []
    with container.db.read() as conn:
        assert conn.execute(select(message_events).where(message_events.c.message_id == sent_id)).all() == []
