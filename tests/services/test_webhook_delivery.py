"""Webhook deliveries end to end against a real HTTP receiver on loopback: signing, the retry schedule
on an injected clock, dead-lettering after 24 hours, 410 Gone, timeouts, leases, and what gets
published (activities, message events, Slack alerts)."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from nurture.bootstrap import Container
from nurture.channels.http import HttpCaller
from nurture.domain.alerts import Alert, AlertTargets
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.messages.engagement import MessageEventInput, MessageRef
from nurture.domain.webhooks.endpoints import Delivery, DeliveryStatus, Endpoint
from nurture.domain.webhooks.retry import RETRY_FOR, backoff
from nurture.services import alerts, message_events, webhooks
from nurture.services.clock import ManualClock
from nurture.services.webhook_worker import LEASE, RECHECK_AFTER, WebhookWorker
from nurture.services.workspaces import NewWorkspace
from nurture.store import activities as activity_store
from nurture.store import webhooks as webhook_store
from tests.conftest import ingest
from tests.http_peer import RecordingServer

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@pytest.fixture
def worker(container: Container) -> Iterator[WebhookWorker]:
    """A worker with a seeded jitter and a short receiver timeout."""
    caller = HttpCaller(timeout=0.5, concurrency=4)
    yield WebhookWorker(container.db, container.clock, caller, jitter=random.Random(1))
    caller.close()


def endpoint(container: Container, workspace_id: str, url: str, types: list[str] | None = None) -> Endpoint:
    return container.webhooks.create(workspace_id, {"url": url, "event_types": types or ["*"]})


def publish(container: Container, workspace_id: str, data: dict[str, object] | None = None) -> None:
    with container.db.write() as conn:
        webhooks.publish(conn, workspace_id, "webhook.test", data or {"n": 1}, container.clock.now())


def log(container: Container, workspace_id: str) -> list[Delivery]:
    return container.webhooks.deliveries(workspace_id, limit=500).items


def contact(container: Container, workspace_id: str, user: str = "u1") -> str:
    ingest(
        container,
        workspace_id,
        {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}},
    )
    return container.contacts.list(workspace_id, user_id=user).items[0].id


def test_a_published_event_is_posted_once_signed_as_standard_webhooks(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    clock.set(datetime.now(UTC))  # the verifying library compares the timestamp with its own clock
    hook = endpoint(container, workspace.id, f"{receiver.url}/hooks?source=nurture")
    publish(container, workspace.id, {"order": "A-1", "total": 12.5, "name": "Zoë"})

    stats = worker.run_once()

    assert (stats.attempted, stats.delivered) == (1, 1)
    [got] = receiver.received
    assert (got.method, got.path, got.query) == ("POST", "/hooks", {"source": ["nurture"]})
    assert got.headers["content-type"] == "application/json"
    body = Webhook(hook.secret).verify(got.body, got.headers)
    assert body["type"] == "webhook.test"
    assert body["data"] == {"order": "A-1", "total": 12.5, "name": "Zoë"}
    assert got.headers["webhook-id"].startswith("evt_")
    [delivery] = log(container, workspace.id)
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert delivery.next_attempt_at is None
    assert worker.run_once().attempted == 0
    assert len(receiver.received) == 1


def test_nothing_is_sent_for_a_transaction_that_rolled_back(
    container: Container, workspace: NewWorkspace, worker: WebhookWorker, receiver: RecordingServer
) -> None:
    endpoint(container, workspace.id, receiver.url)

    def failing_caller() -> None:
        with container.db.write() as conn:
            webhooks.publish(conn, workspace.id, "webhook.test", {}, container.clock.now())
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        failing_caller()
    assert worker.run_once().attempted == 0
    assert receiver.received == []
    assert log(container, workspace.id) == []


def test_failures_are_retried_with_growing_jittered_delays_for_24_hours_then_dead(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    receiver.answer(503, b"down for maintenance")
    hook = endpoint(container, workspace.id, receiver.url)
    start = clock.now()
    publish(container, workspace.id)

    attempts_at = []
    while True:
        attempts_at.append(clock.now())
        worker.run_once()
        [delivery] = log(container, workspace.id)
        if delivery.status is DeliveryStatus.DEAD:
            break
        assert delivery.status is DeliveryStatus.FAILED
        assert delivery.next_attempt_at is not None
        # not a moment early: just before the retry is due, nothing is sent
        clock.set(delivery.next_attempt_at - timedelta(microseconds=1))
        assert worker.run_once().attempted == 0
        clock.set(delivery.next_attempt_at)

    assert len(receiver.received) == len(attempts_at) == delivery.attempts
    assert attempts_at[-1] == start + RETRY_FOR  # the last attempt is at 24 hours exactly
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts_at)]
    for attempt, gap in enumerate(gaps[:-1], start=1):
        assert backoff(attempt) / 2 <= gap <= backoff(attempt), attempt
    assert gaps[:4] == sorted(gaps[:4])  # the early delays grow
    assert 15 <= delivery.attempts <= 30
    assert (delivery.response_code, delivery.response_body) == (503, "down for maintenance")
    assert delivery.next_attempt_at is None
    # every attempt carries the same id, its own timestamp, and a signature over both
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.event_id}
    for request, at in zip(receiver.received, attempts_at, strict=True):
        assert request.headers["webhook-timestamp"] == str(int(at.timestamp()))
        expected = Webhook(hook.secret).sign(delivery.event_id, at, request.body.decode())
        assert request.headers["webhook-signature"] == expected
    # a dead delivery stays dead until redelivered by hand; then it goes out again
    clock.advance(timedelta(days=3))
    assert worker.run_once().attempted == 0
    receiver.answer(204)
    again = container.webhooks.redeliver(workspace.id, delivery.id)
    assert again.status is DeliveryStatus.PENDING
    assert again.retry_until == clock.now() + RETRY_FOR
    assert worker.run_once().delivered == 1
    assert receiver.received[-1].headers["webhook-id"] == delivery.event_id


def test_410_gone_disables_the_endpoint_and_dead_letters_what_waits_for_it(
    container: Container, workspace: NewWorkspace, worker: WebhookWorker, receiver: RecordingServer
) -> None:
    receiver.answer(410, b"gone")
    hook = endpoint(container, workspace.id, receiver.url)
    worker.batch = 1
    publish(container, workspace.id, {"n": 1})
    publish(container, workspace.id, {"n": 2})

    worker.run_once()

    assert len(receiver.received) == 1
    gone = container.webhooks.get(workspace.id, hook.id)
    assert not gone.enabled
    assert gone.disabled_reason == "the endpoint answered 410 Gone"
    assert {d.status for d in log(container, workspace.id)} == {DeliveryStatus.DEAD}
    publish(container, workspace.id, {"n": 3})  # a disabled endpoint gets nothing new
    assert len(log(container, workspace.id)) == 2


def test_a_receiver_that_does_not_answer_in_time_is_retried(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    release = threading.Event()
    receiver.then(200, hold=release)
    receiver.answer(200)
    endpoint(container, workspace.id, receiver.url)
    publish(container, workspace.id)
    try:
        stats = worker.run_once()
    finally:
        release.set()
    assert (stats.attempted, stats.failed) == (1, 1)
    [delivery] = log(container, workspace.id)
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.response_code is None
    assert delivery.error is not None
    assert "timed out" in delivery.error
    assert delivery.next_attempt_at is not None
    clock.set(delivery.next_attempt_at)
    assert worker.run_once().delivered == 1


def test_a_claim_whose_worker_never_reports_is_due_again_when_its_lease_ends(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    endpoint(container, workspace.id, receiver.url)
    for n in range(3):
        publish(container, workspace.id, {"n": n})
    now = clock.now()
    with container.db.write() as conn:  # a worker claims two deliveries and dies
        lost = webhook_store.claim_due(conn, now, 2, now + LEASE)
    assert len(lost) == 2

    assert worker.run_once().delivered == 1  # only the third is due
    clock.advance(LEASE - timedelta(seconds=1))
    assert worker.run_once().attempted == 0
    clock.advance(timedelta(seconds=1))
    assert worker.run_once().delivered == 2
    assert sorted(r.json()["data"]["n"] for r in receiver.received) == [0, 1, 2]  # type: ignore[index]
    # the dead worker's late report changes nothing: the delivery was reported on since its claim
    with container.db.write() as conn:
        assert not webhook_store.record_attempt(conn, lost[0], {"status": "failed"})


def test_redelivery_is_refused_while_a_delivery_is_still_being_tried(
    container: Container, workspace: NewWorkspace, receiver: RecordingServer
) -> None:
    endpoint(container, workspace.id, receiver.url)
    publish(container, workspace.id)
    [delivery] = log(container, workspace.id)
    with pytest.raises(Exception, match="tried again anyway"):
        container.webhooks.redeliver(workspace.id, delivery.id)


def _previous(ulid: str) -> str:
    value = 0
    for char in ulid:
        value = value * 32 + _CROCKFORD.index(char)
    value -= 1
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def test_activities_are_published_to_the_endpoints_subscribed_to_them(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    ann = contact(container, workspace.id)
    container.tags.add(workspace.id, ann, "before")  # before any endpoint: never sent
    clock.advance(timedelta(seconds=1))
    endpoint(container, workspace.id, f"{receiver.url}/tags", ["contact.tag_added"])
    endpoint(container, workspace.id, f"{receiver.url}/all", ["contact.*"])
    endpoint(container, workspace.id, f"{receiver.url}/messages", ["message.*"])
    container.tags.add(workspace.id, ann, "vip")
    container.tags.remove(workspace.id, ann, "vip")

    assert worker.run_once().delivered == 3

    got = sorted((r.path, r.json()["type"], r.json()["data"]["tag"]) for r in receiver.received)  # type: ignore[index]
    assert got == [
        ("/all", "contact.tag_added", "vip"),
        ("/all", "contact.tag_removed", "vip"),
        ("/tags", "contact.tag_added", "vip"),
    ]
    added = next(r for r in receiver.received if r.path == "/all" and r.json()["type"] == "contact.tag_added")  # type: ignore[index]
    assert added.json()["data"]["contact_id"] == ann  # type: ignore[index]
    assert added.headers["webhook-id"].startswith("act_")
    assert worker.run_once().published == 0


def test_an_activity_committed_behind_the_cursor_is_published_at_the_second_look(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    ann = contact(container, workspace.id)
    endpoint(container, workspace.id, receiver.url, ["contact.tag_added"])
    container.tags.add(workspace.id, ann, "first")
    assert worker.run_once().delivered == 1
    with container.db.read() as conn:
        [first] = activity_store.listing(conn, workspace.id)
    # a transaction that made its activity's id before `first` commits only now
    late = activity_store.activity_row(workspace.id, ann, first.kind, clock.now(), data={"tag": "late"})
    late["id"] = _previous(first.id)
    with container.db.write() as conn:
        activity_store.record_many(conn, [late])

    assert worker.run_once().published == 0  # the first look has passed it
    clock.advance(RECHECK_AFTER)
    assert worker.run_once().delivered == 1
    assert [r.json()["data"]["tag"] for r in receiver.received] == ["first", "late"]  # type: ignore[index]
    clock.advance(RECHECK_AFTER)
    assert worker.run_once().published == 0  # each activity once


def test_message_events_are_published_in_the_recording_transaction(
    container: Container, workspace: NewWorkspace, worker: WebhookWorker, receiver: RecordingServer
) -> None:
    ann = contact(container, workspace.id)
    endpoint(container, workspace.id, receiver.url, ["message.delivered"])
    now = container.clock.now()
    ref = MessageRef("send-1", ann, "sms", template_id="t1")
    happenings = [
        MessageEventInput(ref, MessageEventKind.DELIVERED, now, {"provider": "twilio"}, dedupe_key="d1"),
        MessageEventInput(ref, MessageEventKind.CLICKED, now, {"url": "https://example.com"}),
    ]
    with container.db.write() as conn:
        message_events.record(conn, workspace.id, happenings, now)
    with container.db.write() as conn:  # the same report again: no second event, no second delivery
        message_events.record(conn, workspace.id, happenings[:1], now)

    assert worker.run_once().delivered == 1
    [got] = receiver.received
    body = got.json()
    assert body["type"] == "message.delivered"  # type: ignore[index]
    assert body["data"] | {"message_event_id": None} == {  # type: ignore[index]
        "message_event_id": None,
        "message_id": "send-1",
        "contact_id": ann,
        "channel": "sms",
        "template_id": "t1",
        "provider": "twilio",
    }


def test_slack_alerts_are_posted_unsigned_through_the_same_log(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    receiver.then(500)
    alert = Alert(
        "Ann reached MQL",
        "Score <72> & rising",
        fields=(("Score", "72"),),
        link="https://crm.example.com/c/1",
    )
    with container.db.write() as conn:
        sent = alerts.notify(
            conn, workspace.id, alert, AlertTargets((f"{receiver.url}/services/T1/B1/x",)), clock.now()
        )
    assert worker.run_once().failed == 1
    [delivery] = log(container, workspace.id)
    assert delivery.id == sent.deliveries[0]
    assert delivery.next_attempt_at is not None
    clock.set(delivery.next_attempt_at)
    assert worker.run_once().delivered == 1

    first, second = receiver.received
    assert first.body == second.body
    assert second.path == "/services/T1/B1/x"
    assert "webhook-signature" not in second.headers
    body = second.json()
    assert body["text"] == "Ann reached MQL: Score &lt;72&gt; &amp; rising"  # type: ignore[index]
    blocks = body["blocks"]  # type: ignore[index]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Ann reached MQL"}}
    assert blocks[2]["fields"] == [{"type": "mrkdwn", "text": "*Score*\n72"}]
    assert blocks[3]["text"]["text"] == "<https://crm.example.com/c/1|Open>"


def test_deliveries_of_another_workspace_are_not_mixed_up(
    container: Container,
    workspace: NewWorkspace,
    other_workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
) -> None:
    mine = endpoint(container, workspace.id, f"{receiver.url}/a")
    theirs = endpoint(container, other_workspace.id, f"{receiver.url}/b")
    publish(container, workspace.id, {"ws": "a"})
    publish(container, other_workspace.id, {"ws": "b"})
    worker.run_once()
    by_path = {r.path: r for r in receiver.received}
    assert (
        Webhook(mine.secret).sign(
            by_path["/a"].headers["webhook-id"],
            datetime.fromtimestamp(int(by_path["/a"].headers["webhook-timestamp"]), UTC),
            by_path["/a"].body.decode(),
        )
        == by_path["/a"].headers["webhook-signature"]
    )
    assert by_path["/b"].json()["data"] == {"ws": "b"}  # type: ignore[index]
    assert theirs.secret != mine.secret
    assert [d.payload["data"] for d in log(container, workspace.id)] == [{"ws": "a"}]


def test_concurrent_claims_never_take_the_same_delivery(
    container: Container,
    workspace: NewWorkspace,
    receiver: RecordingServer,
    clock: ManualClock,
    is_postgres: bool,
) -> None:
    endpoint(container, workspace.id, receiver.url)
    for n in range(5):
        publish(container, workspace.id, {"n": n})
    now = clock.now()
    with container.db.write() as first:
        mine = webhook_store.claim_due(first, now, 2, now + LEASE)
        if is_postgres:  # a second worker claims while the first has not committed: SKIP LOCKED
            with container.db.write() as second:
                theirs = webhook_store.claim_due(second, now, 10, now + LEASE)
            assert len(theirs) == 3
            assert {d.id for d in mine}.isdisjoint(d.id for d in theirs)
    with container.db.write() as later:  # SQLite: one writer at a time; the leases keep them apart
        rest = webhook_store.claim_due(later, now, 10, now + LEASE)
    assert len(mine) == 2
    assert len(rest) == (0 if is_postgres else 3)


def test_finished_deliveries_leave_the_log_after_its_retention_and_retrying_ones_stay(
    container: Container,
    workspace: NewWorkspace,
    worker: WebhookWorker,
    receiver: RecordingServer,
    clock: ManualClock,
) -> None:
    endpoint(container, workspace.id, receiver.url)
    publish(container, workspace.id, {"n": 1})
    assert worker.run_once().delivered == 1
    clock.advance(timedelta(days=30))
    receiver.answer(503)
    publish(container, workspace.id, {"n": 2})  # still being retried a day later
    worker.run_once()
    receiver.answer(204)
    worker.batch = 1
    publish(container, workspace.id, {"n": 3})
    clock.advance(timedelta(seconds=1))
    assert worker.run_once().delivered == 1  # n=3; n=2 waits for its retry
    clock.advance(timedelta(days=1))

    assert worker.prune() == 1

    kept = {d.payload["data"]["n"]: d.status for d in log(container, workspace.id)}
    assert kept == {2: DeliveryStatus.FAILED, 3: DeliveryStatus.DELIVERED}
    assert worker.prune() == 0  # looked a moment ago: not again until PRUNE_EVERY has passed
