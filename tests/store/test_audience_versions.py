"""A change of what live consumers read waits for every writer that decided what to queue with the
previous version, so their writes are visible to whatever the change starts (a full recompute)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store import audience_versions
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


def test_a_change_waits_for_writers_holding_the_previous_version(
    container: Container, workspace: NewWorkspace, is_postgres: bool
) -> None:
    ws = workspace.id

    def change() -> None:
        with container.db.write() as conn:
            audience_versions.change(conn, ws, START)

    with ThreadPoolExecutor(1) as pool:
        with container.db.write() as writer:
            before = audience_versions.read(writer, ws)
            changing = pool.submit(change)
            if is_postgres:
                wait_for_a_lock_wait(container)
            assert not changing.done()
        changing.result(timeout=30)
    with container.db.write() as conn:
        after = audience_versions.read(conn, ws)
        assert after != before
        assert audience_versions.read(conn, "another-workspace") == ""
