"""Walks over every contact of a workspace, a page of views at a time.

Full recomputes take their members from SQL (`store/audience_sql.py`) and use this walk only to set
the re-evaluation timers of time-relative segments: only the in-memory side knows `next_change_time`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection

from nurture.domain.conditions.references import References
from nurture.domain.contact_view import ContactView
from nurture.domain.next_change import next_change_time
from nurture.services.memberships import SegmentPlan
from nurture.store import audience_queue as queue
from nurture.store.contact_views import contact_ids_after, load_views

PAGE = 500


def all_views(conn: Connection, workspace_id: str, refs: References) -> Iterator[ContactView]:
    """Every contact's view, loading only what `refs` reads, a page at a time."""
    after: str | None = None
    while True:
        ids = contact_ids_after(conn, workspace_id, after, PAGE)
        if not ids:
            return
        views = load_views(conn, workspace_id, ids, refs)
        yield from (views[i] for i in ids if i in views)
        after = ids[-1]


def scan_timers(
    conn: Connection, workspace_id: str, plan: SegmentPlan, segment_id: str, now: datetime
) -> None:
    """Set every contact's next re-evaluation time for one segment (after a full recompute)."""
    condition = plan.segments[segment_id].condition
    due: list[tuple[str, str, datetime | None]] = []
    for view in all_views(conn, workspace_id, plan.needs({segment_id})):
        moment = next_change_time(condition, view, now)
        if moment is not None:
            due.append((segment_id, view.contact.id, moment))
        if len(due) >= PAGE:
            queue.set_timers(conn, workspace_id, due)
            due = []
    queue.set_timers(conn, workspace_id, due)
