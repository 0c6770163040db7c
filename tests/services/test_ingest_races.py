"""Ingest against concurrent writers: the same message id stored meanwhile by another transaction is
a duplicate, never an error (PostgreSQL stores events by COPY, which cannot skip it; the request is
then stored again, skipping it)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from nurture.bootstrap import Container
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from nurture.store import contacts as contact_store
from nurture.store import events as event_store
from nurture.store.ids import new_id
from tests.conftest import ingest


def wait_for_lock_waiter(container: Container) -> None:
    """Return once another PostgreSQL session of this database waits for a lock."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with container.db.read() as conn:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND (database IS NULL OR database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()))"
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the ingest never waited for the concurrent writer")


def test_a_message_id_stored_meanwhile_by_another_transaction_is_a_duplicate(
    container: Container, workspace: NewWorkspace, clock: ManualClock, is_postgres: bool
) -> None:
    ws = workspace.id
    now = clock.now()
    with ThreadPoolExecutor(1) as pool:
        with container.db.write() as conn:
            # what a concurrent request with message m1 has done, up to its commit
            event_store.insert_events(
                conn,
                [
                    {
                        "workspace_id": ws,
                        "id": new_id(),
                        "contact_id": new_id(),
                        "message_id": "m1",
                        "type": "track",
                        "name": "Clicked",
                        "user_id": "ann",
                        "anonymous_id": None,
                        "properties": {},
                        "context": {},
                        "timestamp": now,
                        "original_timestamp": None,
                        "sent_at": None,
                        "received_at": now,
                    }
                ],
            )
            pending = pool.submit(
                ingest,
                container,
                ws,
                {"type": "track", "userId": "ann", "event": "Clicked", "messageId": "m1"},
                {"type": "track", "userId": "ann", "event": "Clicked", "messageId": "m2"},
            )
            if is_postgres:
                wait_for_lock_waiter(container)  # on the unique message id
        result = pending.result(timeout=60)
    assert (result.stored, result.duplicates) == (1, 1)
    [ann] = container.contacts.list(ws, user_id="ann").items
    assert [e.message_id for e in container.contacts.events(ws, ann.id, cursor=None).items] == ["m2"]


def test_the_journey_worker_takes_contacts_in_the_order_ingest_does(
    container: Container, workspace: NewWorkspace, clock: ManualClock, is_postgres: bool
) -> None:
    """Two due runs whose steps write their contacts, the later contact's run first, while a
    transaction that writes both contacts (as an ingest request about both does) holds the earlier
    one: the worker must wait for it without holding the other, or PostgreSQL finds a deadlock."""
    ws = workspace.id
    container.journeys.apply(
        ws,
        {
            "name": "Go",
            "trigger": {"type": "event", "event": "Go"},
            "entry": {"reentry": "always"},
            "nodes": [
                {"id": "wait", "type": "delay", "duration": "1h"},
                {"id": "set", "type": "update_contact", "set": {"plan": "done"}},
            ],
            "edges": [{"from": "wait", "to": "set"}],
        },
    )
    ingest(container, ws, {"type": "identify", "userId": "first", "traits": {"plan": "free"}})
    ingest(container, ws, {"type": "identify", "userId": "second", "traits": {"plan": "free"}})
    for user in ("second", "first"):  # the second contact's run is due first
        ingest(container, ws, {"type": "track", "userId": user, "event": "Go"})
        container.audience.run_once()
        container.journey_worker.run_once()
        clock.advance(timedelta(minutes=1))
    first, second = (container.contacts.list(ws, user_id=u).items[0].id for u in ("first", "second"))
    assert first < second, "contact ids ascend with creation"
    clock.advance(timedelta(hours=2))
    with ThreadPoolExecutor(1) as pool:
        with container.db.write() as conn:
            contact_store.lock_in_order(conn, ws, [first])
            stepping = pool.submit(container.journey_worker.run_once)
            if is_postgres:
                wait_for_lock_waiter(container)  # the worker waits for `first`
            contact_store.lock_in_order(conn, ws, [second])  # and holds nothing this needs
        stepping.result(timeout=60)
    for contact_id in (first, second):
        assert container.contacts.get(ws, contact_id).attributes == {"plan": "done"}
