"""A change of what live consumers read waits for every writer that decided what to queue with the
previous version, so their writes are visible to whatever the change starts (a full recompute)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, text

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store import audience_versions
from nurture.store.events import existing_message_ids_and_version
from nurture.store.sql import lock_keys
from tests.conftest import START


def wait_for_a_lock_wait(container: Container) -> None:
    """Until some transaction of this database waits for an advisory lock."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with container.db.read() as conn:
            if conn.execute(query).scalar():
                return
        time.sleep(0.01)
    raise AssertionError("the change never waited for the lock")


def read_alone(conn: Connection, workspace_id: str) -> str:
    return audience_versions.read(conn, workspace_id)


def read_as_ingest_does(conn: Connection, workspace_id: str) -> str:
    """Its identity locks and the version's in one statement, the version with the message ids."""
    lock_keys(conn, [f"{workspace_id}:user_id:ann"], then_shared=[audience_versions.lock_key(workspace_id)])
    return existing_message_ids_and_version(conn, workspace_id, ["m1"])[1]


@pytest.mark.parametrize("read", [read_alone, read_as_ingest_does])
def test_a_change_waits_for_writers_holding_the_previous_version(
    container: Container, workspace: NewWorkspace, is_postgres: bool, read: Callable[[Connection, str], str]
) -> None:
    ws = workspace.id

    def change() -> None:
        with container.db.write() as conn:
            audience_versions.change(conn, ws, START)

    with ThreadPoolExecutor(1) as pool:
        with container.db.write() as writer:
            before = read(writer, ws)
            changing = pool.submit(change)
            if is_postgres:
                wait_for_a_lock_wait(container)
            assert not changing.done()
        changing.result(timeout=30)
    with container.db.write() as conn:
        after = read(conn, ws)
        assert after != before
        assert read(conn, "another-workspace") == ""
