"""Live evaluation steps aside while a full recompute holds a segment (PostgreSQL advisory locks;
SQLite has one writer, which already keeps them apart)."""

from __future__ import annotations

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store import segments as store


def test_a_segment_held_by_a_recompute_cannot_be_shared_until_it_commits(
    container: Container, workspace: NewWorkspace, is_postgres: bool
) -> None:
    ws = workspace.id
    with container.db.write() as recompute:
        store.lock_segments(recompute, ws, ["s1"])
        with container.db.read() as live:
            assert store.try_share_segments(live, ws, ["s1", "s2"]) is (not is_postgres)
        with container.db.read() as live:
            assert store.try_share_segments(live, ws, ["s2"]) is True
            assert store.try_share_segments(live, "another-workspace", ["s1"]) is True
    with container.db.read() as live:
        assert store.try_share_segments(live, ws, ["s1"]) is True
