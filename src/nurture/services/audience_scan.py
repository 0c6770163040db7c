"""Walks over every contact of a workspace with the in-memory evaluator, a page of views at a time.

Full recomputes use it to set the re-evaluation timers of time-relative segments (only the in-memory
side knows `next_change_time`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection

from nurture.domain.conditions.nodes import Condition
from nurture.domain.conditions.references import References, references
from nurture.domain.contact_view import ContactView
from nurture.domain.evaluate import evaluate
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


def matching_ids(conn: Connection, workspace_id: str, condition: Condition, now: datetime) -> set[str]:
    """Ids of the contacts that meet `condition` at `now`."""
    return {
        v.contact.id
        for v in all_views(conn, workspace_id, references(condition))
        if evaluate(condition, v, now)
    }


def preview_scan(
    conn: Connection, workspace_id: str, condition: Condition, now: datetime, sample: int
) -> tuple[int, list[str]]:
    """How many contacts meet `condition`, and the first `sample` of them in id order."""
    found = sorted(matching_ids(conn, workspace_id, condition, now))
    return len(found), found[:sample]


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
