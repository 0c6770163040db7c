"""The crash window (provider accepted, result not recorded), lease expiry, test sends, waking, and
dispatchers running side by side."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from nurture.bootstrap import Container
from nurture.domain.messages.outbox import Source
from nurture.domain.messages.transactional import check_send
from nurture.domain.templates.model import Category
from nurture.services import dispatch, outbox
from nurture.services.dispatch_policy import decide_workspace
from nurture.services.identity import address_hash
from nurture.services.workspaces import NewWorkspace
from nurture.store import suppressions
from tests.cli.test_worker import until
from tests.services.messaging import (
    KilledAfterAccepting,
    Scripted,
    contact,
    dispatcher,
    enqueue,
    message,
    sender,
    status,
    template,
)

LEASE = timedelta(seconds=300)  # the default `lease_seconds`


class Raising(Scripted):
    def send_many(self, sender, emails):  # type: ignore[no-untyped-def]
        raise ConnectionResetError("connection lost mid-DATA")


def test_a_dispatcher_killed_after_the_provider_accepted_never_resends_marketing(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    promo = enqueue(container, workspace.id, ann, template(container, workspace.id), "p1")
    killed = KilledAfterAccepting()

    with pytest.raises(SystemExit):
        dispatcher(container, killed).run_once()

    assert killed.to() == ["ann@example.com"]
    row = message(container, workspace.id, promo)
    assert (row.status, row.attempts, row.to_address) == ("sending", 1, "ann@example.com")
    healthy = Scripted()
    container.clock.advance(LEASE - timedelta(seconds=1))
    assert dispatcher(container, healthy).run_once().claimed == 0  # the lease still holds it
    container.clock.advance(timedelta(seconds=2))
    stats = dispatcher(container, healthy).run_once()

    assert (stats.unknown, stats.claimed) == (1, 0)
    assert status(container, workspace.id, promo) == ("unknown", "lease_expired")
    assert healthy.sent == []
    container.clock.advance(LEASE * 10)
    assert dispatcher(container, healthy).run_once().claimed == 0


def test_transactional_messages_are_resent_with_the_same_message_id_unless_the_workspace_says_no(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    bob = contact(container, workspace.id, "bob", email="bob@example.com")
    sender(container, workspace.id)
    receipt = template(container, workspace.id, category=Category.TRANSACTIONAL)
    first = enqueue(container, workspace.id, ann, receipt, "r1", category="transactional")
    killed = KilledAfterAccepting()
    with pytest.raises(SystemExit):
        dispatcher(container, killed).run_once()
    container.clock.advance(LEASE + timedelta(seconds=1))
    healthy = Scripted()

    stats = dispatcher(container, healthy).run_once()

    assert (stats.resent, stats.sent) == (1, 1)
    assert [e.message_id for e in killed.sent + healthy.sent] == [first, first]
    row = message(container, workspace.id, first)
    assert (row.status, row.attempts) == ("sent", 2)

    container.messaging.replace(workspace.id, {"resend_unknown_transactional": False})
    second = enqueue(container, workspace.id, bob, receipt, "r2", category="transactional")
    with pytest.raises(SystemExit):
        dispatcher(container, KilledAfterAccepting()).run_once()
    container.clock.advance(timedelta(seconds=301))
    assert dispatcher(container, healthy).run_once().unknown == 1
    assert status(container, workspace.id, second) == ("unknown", "lease_expired")


def test_a_transport_that_raises_leaves_its_messages_to_the_lease(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    promo = enqueue(container, workspace.id, ann, template(container, workspace.id), "p1")

    stats = dispatcher(container, Raising()).run_once()

    assert (stats.claimed, stats.crashed, stats.sent, stats.failed) == (1, 1, 0, 0)
    assert status(container, workspace.id, promo) == ("sending", None)
    container.clock.advance(LEASE + timedelta(seconds=1))
    assert dispatcher(container, Scripted()).run_once().unknown == 1


def test_the_lease_is_the_workspaces(container: Container, workspace: NewWorkspace) -> None:
    container.messaging.replace(workspace.id, {"lease_seconds": 60})
    ann = contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    promo = enqueue(container, workspace.id, ann, template(container, workspace.id), "p1")
    with pytest.raises(SystemExit):
        dispatcher(container, KilledAfterAccepting()).run_once()
    container.clock.advance(timedelta(seconds=61))

    assert dispatcher(container, Scripted()).run_once().unknown == 1
    assert status(container, workspace.id, promo) == ("unknown", "lease_expired")


@pytest.mark.parametrize("cap", [None, 2])
def test_two_dispatchers_at_once_send_every_message_once_and_hold_the_cap_together(
    container: Container,
    workspace: NewWorkspace,
    cap: int | None,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if cap is not None:
        container.messaging.replace(
            workspace.id, {"frequency_cap": {"max_messages": cap, "window_hours": 24}}
        )
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    people = [contact(container, workspace.id, f"u{n}", email=f"u{n}@example.com") for n in range(10)]
    past = container.clock.now() - timedelta(minutes=1)
    wanted = [  # due one after the other, a person's five spread over both workers' first batches
        outbox.NewMessage(
            person,
            "email",
            "marketing",
            Source.CAMPAIGN,
            f"c1:{person}:{n}",
            template_id=promo,
            due_at=past + timedelta(milliseconds=n * len(people) + i),
        )
        for n in range(5)
        for i, person in enumerate(people)
    ]
    with container.db.write() as conn:
        ids = outbox.enqueue(conn, workspace.id, wanted, container.clock.now()).ids
    transport = Scripted()
    workers = [dispatcher(container, transport, batch=15) for _ in range(2)]
    start = threading.Barrier(2)
    if is_postgres:
        # both have claimed their first batch before either decides it: the frequency cap must hold
        # while two transactions decide for the same people at once (SQLite writers take turns)
        claimed_both = threading.Barrier(2, timeout=30)
        first_batch = threading.local()

        def decide_together(*args):  # type: ignore[no-untyped-def]
            if not getattr(first_batch, "done", False):
                first_batch.done = True
                claimed_both.wait()
            return decide_workspace(*args)

        monkeypatch.setattr(dispatch, "decide_workspace", decide_together)
    failures: list[BaseException] = []

    claimed: list[int] = []

    def run(worker):  # type: ignore[no-untyped-def]
        try:
            start.wait()
            claimed.append(worker.run_once().claimed)
        except BaseException as err:  # reported below
            failures.append(err)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sum(claimed) == len(ids)
    sent = Counter(e.message_id for e in transport.sent)
    assert set(sent.values()) == {1}
    per_person = Counter(e.to for e in transport.sent)
    assert set(per_person.values()) == {cap or 5}
    assert len(per_person) == len(people)
    statuses = Counter(status(container, workspace.id, m) for m in ids)
    assert statuses == (
        {("sent", None): len(ids)}
        if cap is None
        else {("sent", None): 2 * len(people), ("pending", "frequency_cap"): 3 * len(people)}
    )


def test_a_test_send_goes_to_the_given_address_marked_and_counted_nowhere(
    container: Container, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, "ann", email="ann@example.com", firstName="Ann")
    sender(container, workspace.id)
    promo = template(container, workspace.id)
    container.messaging.replace(workspace.id, {"frequency_cap": {"max_messages": 1, "window_hours": 1}})
    container.subscriptions.set(workspace.id, ann, "email", None, "unsubscribed")
    transport = Scripted()
    worker = dispatcher(container, transport)

    as_ann = container.messages.test_send(workspace.id, promo, "Me@Acme.example.com", ann)
    blank = container.messages.test_send(workspace.id, promo, "me@acme.example.com", None)
    worker.run_once()

    assert sorted((e.to, e.subject) for e in transport.sent) == [  # type: ignore[union-attr]
        ("me@acme.example.com", "[Test] Hi Ann"),
        ("me@acme.example.com", "[Test] Hi there"),
    ]
    assert {status(container, workspace.id, m.id) for m in (as_ann, blank)} == {("sent", None)}
    assert container.metrics.counts(workspace.id, template_id=promo).sent == 0
    assert container.messages.get(workspace.id, as_ann.id)[1] == []
    with container.db.write() as conn:
        suppressions.add(
            conn,
            workspace.id,
            "email",
            address_hash("me@acme.example.com"),
            "complaint",
            container.clock.now(),
        )
    held = container.messages.test_send(workspace.id, promo, "me@acme.example.com", None)
    worker.run_once()
    assert status(container, workspace.id, held.id) == ("skipped", "suppressed")


def test_an_api_send_wakes_the_running_dispatcher(container: Container, workspace: NewWorkspace) -> None:
    contact(container, workspace.id, "ann", email="ann@example.com")
    sender(container, workspace.id)
    receipt = template(container, workspace.id, category=Category.TRANSACTIONAL)
    container.dispatcher.poll = 3600.0  # only a wake-up can make it look
    container.dispatcher.start()
    try:
        sent = container.messages.send(
            workspace.id, "order-1", check_send({"user_id": "ann"}, receipt, None, None, {"order": 1})
        )
        until(lambda: message(container, workspace.id, sent.message.id).status == "sent")
    finally:
        container.dispatcher.stop()
