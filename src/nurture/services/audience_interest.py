"""Which changes are worth queueing for the audience worker: those some live consumer reads.

A workspace's live consumers are its active segments, its scoring models and its active journeys.
Their references are computed once per process for each version of them (`audience_versions`), so a
writer's check is a version read and set lookups. A change of a segment's condition or status, of a
scoring model or of a journey calls `changed` in its own transaction; the version's lock orders it
against writers (see `store/audience_versions.py`), and whatever was stored before it without being
queued is seen by the consumer's own first computation (a segment's full recompute; a model's
rescore; a journey starts from changes after it is published).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.audience import Change, Interest
from nurture.domain.scoring import model_from_stored
from nurture.services.journeys.active import ACTIVE
from nurture.store import audience_versions as versions
from nurture.store import scoring as scoring_store
from nurture.store import segments as segment_store
from nurture.store.activities import enqueue_changes


class _Known:
    """Each workspace's interest, for the version it was computed at (per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_workspace: dict[str, tuple[str, Interest]] = {}

    def get(self, workspace_id: str, version: str) -> Interest | None:
        with self._lock:
            held = self._by_workspace.get(workspace_id)
        return held[1] if held is not None and held[0] == version else None

    def put(self, workspace_id: str, version: str, interest: Interest) -> None:
        with self._lock:
            self._by_workspace[workspace_id] = (version, interest)


_known = _Known()


def interest(conn: Connection, workspace_id: str) -> Interest:
    """What the workspace's live consumers read, valid until the caller's transaction ends."""
    return at_version(conn, workspace_id, versions.read(conn, workspace_id))


def at_version(conn: Connection, workspace_id: str, version: str) -> Interest:
    """`interest`, for a caller that has read the version itself holding its lock (ingest reads
    it together with other things, to save round trips)."""
    found = _known.get(workspace_id, version)
    if found is None:
        found = _load(conn, workspace_id)
        _known.put(workspace_id, version, found)
    return found


def _load(conn: Connection, workspace_id: str) -> Interest:
    conditions = [s.condition for s in segment_store.all_segments(conn, workspace_id, active_only=True)]
    scored: set[str] = set()
    for row in scoring_store.models(conn, workspace_id):
        model = model_from_stored(row.name, row.definition)
        conditions.extend(rule.condition for rule in model.condition_rules())
        scored.update(rule.name for rule in model.event_rules())
    return Interest.of(conditions, scored, ACTIVE.active(conn, workspace_id).plan)


def changed(conn: Connection, workspace_id: str, now: datetime) -> None:
    """Call in any transaction that changes what live consumers read (a segment's condition or
    status, a scoring model): writers see the new references from its commit on."""
    versions.change(conn, workspace_id, now)


def enqueue(conn: Connection, workspace_id: str, rows: Sequence[dict[str, Any]]) -> int:
    """Queue the change rows (`store.activities.change_row`) some consumer reads; returns how many."""
    if not rows:
        return 0
    wanted = interest(conn, workspace_id)
    kept = [row for row in rows if wanted.wants(Change(row["kind"], row["name"]))]
    enqueue_changes(conn, kept)
    return len(kept)
