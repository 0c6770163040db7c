"""Cross-process wake-ups: a NOTIFY committed by a writer reaches a listener on its own connection
(PostgreSQL); on SQLite notifying is a no-op and workers rely on the in-process signal and polling."""

from __future__ import annotations

import threading

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store.wakeups import AUDIENCE_CHANNEL, Listener, notify
from tests.conftest import ingest


def test_a_committed_notify_wakes_the_listener_and_a_rolled_back_one_does_not(
    container: Container, is_postgres: bool
) -> None:
    woken = threading.Event()
    channels: list[str] = []

    def wake(channel: str) -> None:
        channels.append(channel)
        woken.set()

    if not is_postgres:
        with container.db.write() as conn:
            notify(conn, "nurture_test")  # nothing to deliver it to: a no-op
        assert container.journey_worker._listener is None
        return
    assert container.journey_worker._listener is not None
    listener = Listener(container.db.url, ["nurture_test"], wake)
    listener.start()
    try:
        for _ in range(100):  # LISTEN is issued on the listener's own thread: notify until it hears
            with container.db.write() as conn:
                notify(conn, "nurture_test")
            if woken.wait(0.2):
                break
        assert woken.is_set(), "the listener never heard a committed notify"
        woken.clear()
        try:
            with container.db.write() as conn:
                notify(conn, "nurture_test")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert not woken.wait(1.0)
        with container.db.write() as conn:
            notify(conn, "nurture_test")
        assert woken.wait(10.0)
        assert set(channels) == {"nurture_test"}
    finally:
        listener.stop()


def test_queued_contact_changes_wake_audience_workers_in_other_processes(
    container: Container, is_postgres: bool, workspace: NewWorkspace
) -> None:
    heard = threading.Event()
    if not is_postgres:
        assert container.audience._listener is None  # SQLite: one process, the in-process signal
        return
    assert container.audience._listener is not None
    signed_up = {"type": "event", "name": "Signed Up"}  # a segment reads the event: ingest queues it
    container.segments.create(workspace.id, {"name": "Signed up", "condition": signed_up})
    listener = Listener(container.db.url, [AUDIENCE_CHANNEL], lambda _channel: heard.set())
    listener.start()
    try:
        for n in range(100):  # until the listener's LISTEN is in place
            ingest(container, workspace.id, {"type": "track", "userId": f"u{n}", "event": "Signed Up"})
            if heard.wait(0.2):
                break
        assert heard.is_set(), "an ingest that queued changes never woke the audience channel"
    finally:
        listener.stop()
