"""Full evaluation: recompute on demand and after a segment is created, changed or reactivated (the
SQL compiler's answer diffed with the current members, referenced segments first), archive, preview;
and the live path agreeing with a full recompute."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nurture.bootstrap import Container
from nurture.domain.activities import ActivityKind
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from tests.conftest import START, ingest
from tests.services.audience import LOGIN_30, PRO, activities, contact_of, members, segment, track


def test_archiving_ends_memberships_and_reactivating_computes_them_again(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    active = segment(container, ws, "Active", LOGIN_30)
    track(container, ws, "ann", "Login")
    container.audience.run_once()
    ann = contact_of(container, ws, "ann")
    clock.advance(timedelta(hours=1))

    container.segments.update(ws, active.id, {"status": "archived"})
    assert members(container, ws, active.id) == set()
    track(container, ws, "ann", "Login", messageId="again")
    assert container.audience.run_once().evaluated == 0

    clock.advance(timedelta(hours=1))
    container.segments.update(ws, active.id, {"status": "active"})
    assert container.audience.run_once().recomputed == 1
    assert members(container, ws, active.id) == {ann}
    assert len(container.segments.contact_history(ws, ann)) == 2


def test_a_full_recompute_writes_the_difference_and_sets_timers(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    for user in ("ann", "bob"):
        track(container, ws, user, "Login")
    track(container, ws, "cat", "Signed Up")
    container.audience.run_once()
    active = container.segments.create(ws, {"name": "Active", "condition": LOGIN_30})

    result = container.segments.recompute(ws, active.id)

    ann, bob = contact_of(container, ws, "ann"), contact_of(container, ws, "bob")
    assert (result.entered, result.exited, result.members) == (2, 0, 2)
    assert members(container, ws, active.id) == {ann, bob}
    assert container.segments.get(ws, active.id).recomputed_at == START
    assert activities(container, ws, ann) == [(ActivityKind.SEGMENT_ENTERED, active.id)]
    clock.advance(timedelta(days=31))
    assert container.audience.run_once().exited == 2
    again = container.segments.recompute(ws, active.id)
    assert (again.entered, again.exited, again.members) == (0, 0, 0)


@pytest.mark.parametrize("sample", [1, 5])
def test_a_preview_counts_and_samples_a_draft_condition(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace, sample: int
) -> None:
    for user in ("ann", "bob", "cat"):
        track(container, workspace.id, user, "Login")
    track(container, other_workspace.id, "dan", "Login")
    preview = container.segments.preview(workspace.id, LOGIN_30, sample=sample)
    assert preview.count == 3
    assert len(preview.sample) == min(sample, 3)
    assert {c.user_id for c in preview.sample} <= {"ann", "bob", "cat"}


def test_recomputing_a_segment_recomputes_the_segments_it_refers_to_first(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    ingest(container, ws, {"type": "identify", "userId": "ann", "traits": {"plan": "pro"}})
    ingest(container, ws, {"type": "identify", "userId": "bob", "traits": {"plan": "free"}})
    for user in ("ann", "bob"):
        track(container, ws, user, "Login")
    container.audience.run_once()
    active = container.segments.create(ws, {"name": "Active", "condition": LOGIN_30})
    active_pro = container.segments.create(
        ws,
        {
            "name": "Active pro",
            "condition": {"type": "all", "conditions": [{"type": "segment", "segment_id": active.id}, PRO]},
        },
    )

    result = container.segments.recompute(ws, active_pro.id)

    assert (result.entered, result.members) == (1, 1)
    assert members(container, ws, active.id) == {
        contact_of(container, ws, "ann"),
        contact_of(container, ws, "bob"),
    }
    assert members(container, ws, active_pro.id) == {contact_of(container, ws, "ann")}
    assert container.segments.get(ws, active.id).recomputed_at is not None


def test_the_live_path_leaves_nothing_for_a_full_recompute_to_correct(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    conditions = {
        "active": LOGIN_30,
        "pro": PRO,
        "big spender": {
            "type": "event_aggregate",
            "name": "Order Completed",
            "function": "sum",
            "property": "properties.revenue",
            "window": {"kind": "last_days", "days": 90},
            "operator": {"op": "greater_or_equal", "value": 500},
        },
        "lapsed buyer": {
            "type": "all",
            "conditions": [
                {"type": "event", "name": "Order Completed"},
                {
                    "type": "event",
                    "name": "Order Completed",
                    "performed": False,
                    "window": {"kind": "last_days", "days": 90},
                },
            ],
        },
    }
    created = {name: segment(container, ws, name, data) for name, data in conditions.items()}
    for day in range(0, 120, 7):
        clock.set(START + timedelta(days=day))
        user = f"u{day % 4}"
        track(container, ws, user, "Login")
        if day % 3 == 0:
            track(container, ws, user, "Order Completed", properties={"revenue": 200})
        if day % 5 == 0:
            ingest(
                container,
                ws,
                {"type": "identify", "userId": user, "traits": {"plan": "pro" if day % 2 else "free"}},
            )
        container.audience.run_once()
    clock.set(START + timedelta(days=200))
    container.audience.run_once()
    for name, made in created.items():
        again = container.segments.recompute(ws, made.id)
        assert (again.entered, again.exited) == (0, 0), name
