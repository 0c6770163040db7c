"""The live path: events and profile changes queue rows in their own transaction, the audience worker
re-evaluates only the affected segments per contact, writes history and activities, and re-evaluates
time-relative conditions exactly when they can change. Real databases, a manual clock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.tracking import parse_batch
from nurture.services.audience_worker import AudienceWorker
from nurture.services.clock import ManualClock
from nurture.services.contacts import ContactInput
from nurture.services.workspaces import NewWorkspace
from nurture.store import activities as activity_store
from nurture.store import audience_queue
from nurture.store.schema import pending_changes, segment_memberships, segment_timers
from tests.conftest import START, ingest
from tests.services.audience import LOGIN_30, PRO, activities, contact_of, count, members, segment, track


def test_an_event_makes_the_contact_enter_and_is_recorded_as_history_and_activity(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    logged_in = segment(container, ws, "Active", LOGIN_30)
    track(container, ws, "ann", "Login")
    assert count(container, pending_changes, ws) > 0  # queued in the ingest transaction

    stats = container.audience.step()

    ann = contact_of(container, ws, "ann")
    assert members(container, ws, logged_in.id) == {ann}
    assert stats.entered == 1
    assert activities(container, ws, ann) == [(ActivityKind.SEGMENT_ENTERED, logged_in.id)]
    [stay] = container.segments.contact_history(ws, ann)
    assert (stay.segment.id, stay.membership.entered_at, stay.membership.exited_at) == (
        logged_in.id,
        START,
        None,
    )
    assert count(container, pending_changes, ws) == 1  # the membership change, for segments that read it
    assert container.audience.run_once().evaluated == 0  # no segment reads that one
    assert count(container, pending_changes, ws) == 0


def test_only_segments_that_read_what_changed_are_evaluated(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    track(container, ws, "ann", "Signed Up")
    container.audience.run_once()
    for n in range(3):
        segment(container, ws, f"plan {n}", {**PRO, "operator": {"op": "equals", "value": f"p{n}"}})
    active = segment(container, ws, "Active", LOGIN_30)

    track(container, ws, "ann", "Login")
    stats = container.audience.run_once()

    assert stats.evaluated == 1  # "Active" for ann; the plan segments do not read Login events
    assert members(container, ws, active.id) == {contact_of(container, ws, "ann")}


def test_a_contact_leaves_a_last_30_days_segment_on_day_31_and_comes_back_after_a_new_login(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    active = segment(container, ws, "Active", LOGIN_30)
    track(container, ws, "ann", "Login")
    container.audience.run_once()
    ann = contact_of(container, ws, "ann")
    with container.db.read() as conn:
        due = audience_queue.timers_of(conn, ws, ann)
    assert due == {active.id: START + timedelta(days=30, microseconds=1)}

    clock.set(START + timedelta(days=30))
    assert container.audience.run_once().timers == 0  # not due yet: nothing is looked at
    assert members(container, ws, active.id) == {ann}

    clock.set(START + timedelta(days=31))
    stats = container.audience.run_once()
    assert (stats.timers, stats.exited) == (1, 1)
    assert members(container, ws, active.id) == set()
    with container.db.read() as conn:
        assert audience_queue.timers_of(conn, ws, ann) == {}  # nothing can bring ann back but a login

    clock.advance(timedelta(hours=1))
    track(container, ws, "ann", "Login")
    container.audience.run_once()
    assert members(container, ws, active.id) == {ann}
    assert [kind for kind, _ in activities(container, ws, ann)] == [
        ActivityKind.SEGMENT_ENTERED,
        ActivityKind.SEGMENT_EXITED,
        ActivityKind.SEGMENT_ENTERED,
    ]
    # members as of a time, read from the history (which says when nurture saw the change)
    assert members(container, ws, active.id, as_of=START + timedelta(days=30, hours=12)) == {ann}
    assert members(container, ws, active.id, as_of=START + timedelta(days=31)) == set()
    assert members(container, ws, active.id, as_of=START + timedelta(days=31, hours=1)) == {ann}
    assert members(container, ws, active.id, as_of=START - timedelta(seconds=1)) == set()


def test_a_segment_that_refers_to_a_segment_follows_it_in_the_same_run(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    active = segment(container, ws, "Active", LOGIN_30)
    active_pro = segment(
        container,
        ws,
        "Active pro",
        {"type": "all", "conditions": [{"type": "segment", "segment_id": active.id}, PRO]},
    )
    ingest(container, ws, {"type": "identify", "userId": "ann", "traits": {"plan": "pro"}})
    container.audience.run_once()
    ann = contact_of(container, ws, "ann")
    assert members(container, ws, active_pro.id) == set()

    track(container, ws, "ann", "Login")
    container.audience.run_once()
    assert members(container, ws, active.id) == members(container, ws, active_pro.id) == {ann}

    clock.advance(timedelta(days=31))
    container.audience.run_once()
    assert members(container, ws, active.id) == members(container, ws, active_pro.id) == set()
    kinds = [(kind, subject == active_pro.id) for kind, subject in activities(container, ws, ann)]
    assert kinds.count((ActivityKind.SEGMENT_EXITED, True)) == 1


def test_profile_changes_through_the_api_and_csv_import_move_contacts(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    pro = segment(container, ws, "Pro", PRO)
    ann = container.contacts.create(ws, ContactInput({"email": "ann@example.com"}, {"plan": "free"}))
    container.audience.run_once()
    assert members(container, ws, pro.id) == set()

    container.contacts.change(ws, ann.id, ContactInput({}, {"plan": "pro"}), replace=False)
    container.audience.run_once()
    assert members(container, ws, pro.id) == {ann.id}

    container.contacts.change(ws, ann.id, ContactInput({"email": "ann@example.com"}, {}), replace=True)
    container.audience.run_once()
    assert members(container, ws, pro.id) == set()

    report = container.imports.import_contacts(
        ws, ["email,plan\n", "ann@example.com,pro\n", "bob@example.com,pro\n"]
    )
    assert report.errors == []
    container.audience.run_once()
    bob = container.contacts.list(ws, email="bob@example.com").items[0]
    assert members(container, ws, pro.id) == {ann.id, bob.id}


def test_a_new_contact_is_evaluated_for_segments_that_match_what_it_lacks(
    container: Container, workspace: NewWorkspace
) -> None:
    never_bought = segment(
        container,
        workspace.id,
        "Never bought",
        {"type": "event", "name": "Order Completed", "performed": False},
    )
    track(container, workspace.id, "ann", "Page Viewed")
    container.audience.run_once()
    assert members(container, workspace.id, never_bought.id) == {contact_of(container, workspace.id, "ann")}


def test_a_merged_away_contact_leaves_and_the_survivor_is_evaluated(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    viewed = segment(container, ws, "Viewed pricing", {"type": "event", "name": "Viewed Pricing"})
    ingest(container, ws, {"type": "track", "anonymousId": "device-1", "event": "Viewed Pricing"})
    container.audience.run_once()
    [visitor] = members(container, ws, viewed.id)
    ingest(container, ws, {"type": "identify", "userId": "ann", "traits": {"plan": "pro"}})
    container.audience.run_once()
    ann = contact_of(container, ws, "ann")
    clock.advance(timedelta(minutes=5))

    ingest(container, ws, {"type": "identify", "userId": "ann", "anonymousId": "device-1"})
    container.audience.run_once()

    assert contact_of(container, ws, "ann") == ann
    assert members(container, ws, viewed.id) == {ann}
    history = container.segments.contact_history(ws, ann)
    stays = {(h.membership.contact_id, h.membership.exited_at is None) for h in history}
    assert stays == {(visitor, False), (ann, True)}
    assert [s.segment.id for s in container.segments.contact_segments(ws, visitor)] == [viewed.id]


def test_the_group_commit_path_queues_one_row_per_contact_and_event_name_a_segment_reads(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    segment(container, ws, "Clickers", {**LOGIN_30, "name": "Clicked"})
    ingest(container, ws, {"type": "identify", "userId": "ann"})
    container.audience.run_once()
    batch = parse_batch(
        {
            "batch": [
                {"type": "track", "userId": "ann", "event": name, "messageId": f"{name}{n}"}
                for n in range(5)
                for name in ("Clicked", "Scrolled")
            ]
        }
    )
    assert container.ingest.submit(ws, batch).result(timeout=30).stored == 10
    with container.db.read() as conn:
        queued = conn.execute(select(pending_changes.c.kind, pending_changes.c.name)).all()
    assert queued == [(ChangeKind.EVENT.value, "Clicked")]


def test_a_retried_change_writes_nothing_twice(container: Container, workspace: NewWorkspace) -> None:
    ws = workspace.id
    active = segment(container, ws, "Active", LOGIN_30)
    track(container, ws, "ann", "Login")
    container.audience.run_once()
    ann = contact_of(container, ws, "ann")
    with container.db.write() as conn:
        activity_store.enqueue_change(conn, ws, ann, ChangeKind.EVENT, container.clock.now(), name="Login")
    assert container.audience.run_once().entered == 0
    assert count(container, segment_memberships, ws) == 1
    assert len(activities(container, ws, ann)) == 1
    assert members(container, ws, active.id) == {ann}


def test_erasing_a_member_removes_its_history_timers_and_queue_rows(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    segment(container, ws, "Active", LOGIN_30)
    track(container, ws, "ann", "Login")
    container.audience.run_once()
    track(container, ws, "ann", "Login", messageId="second")
    ann = contact_of(container, ws, "ann")
    container.contacts.erase(ws, ann)
    for table in (segment_memberships, segment_timers, pending_changes):
        assert count(container, table, ws) == 0, table.name
    assert container.audience.run_once().entered == 0


def test_a_change_for_an_erased_contact_is_dropped(container: Container, workspace: NewWorkspace) -> None:
    ws = workspace.id
    active = segment(container, ws, "Active", LOGIN_30)
    with container.db.write() as conn:
        activity_store.enqueue_change(
            conn, ws, "01JAAAAAAAAAAAAAAAAAAAAAAA", ChangeKind.EVENT, START, name="Login"
        )
    stats = container.audience.run_once()
    assert (stats.changes, stats.entered) == (1, 0)
    assert members(container, ws, active.id) == set()
    assert count(container, pending_changes, ws) == 0


def test_workspaces_are_evaluated_apart(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    active = segment(container, workspace.id, "Active", LOGIN_30)
    track(container, other_workspace.id, "ann", "Login")
    track(container, workspace.id, "bob", "Login")
    container.audience.run_once()
    assert members(container, workspace.id, active.id) == {contact_of(container, workspace.id, "bob")}
    assert count(container, segment_memberships, other_workspace.id) == 0


def test_only_tracked_events_count_as_events_and_a_group_call_moves_account_segments(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    logged_in = segment(container, ws, "Logged in", {"type": "event", "name": "Login"})
    acme = segment(
        container,
        ws,
        "At acme.com",
        {"type": "account", "field": "account.domain", "operator": {"op": "equals", "value": "acme.com"}},
    )
    ingest(container, ws, {"type": "page", "userId": "ann", "name": "Login"})
    container.audience.run_once()
    assert members(container, ws, logged_in.id) == set()

    ingest(
        container, ws, {"type": "group", "userId": "ann", "groupId": "g1", "traits": {"domain": "acme.com"}}
    )
    container.audience.run_once()
    assert members(container, ws, acme.id) == {contact_of(container, ws, "ann")}


def test_changing_an_account_moves_every_contact_of_it(container: Container, workspace: NewWorkspace) -> None:
    ws = workspace.id
    big = segment(
        container,
        ws,
        "At big companies",
        {
            "type": "account",
            "field": "account.attributes.employees",
            "operator": {"op": "greater_than", "value": 1000},
        },
    )
    for user in ("ann", "bob"):
        ingest(container, ws, {"type": "group", "userId": user, "groupId": "g1", "traits": {"employees": 50}})
    container.audience.run_once()
    assert members(container, ws, big.id) == set()

    ingest(container, ws, {"type": "group", "userId": "ann", "groupId": "g1", "traits": {"employees": 5000}})
    container.audience.run_once()
    everyone = {contact_of(container, ws, "ann"), contact_of(container, ws, "bob")}
    assert members(container, ws, big.id) == everyone

    [account] = container.accounts.list(ws).items
    container.accounts.change(ws, account.id, {"employees": 10}, replace=False)
    container.audience.run_once()
    assert members(container, ws, big.id) == set()
    container.accounts.change(ws, account.id, {"employees": 2000}, replace=False)
    container.audience.run_once()
    assert members(container, ws, big.id) == everyone
    container.accounts.delete(ws, account.id)
    container.audience.run_once()
    assert members(container, ws, big.id) == set()


def test_several_workers_share_the_queue_without_doing_anything_twice(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    active = segment(container, ws, "Active", LOGIN_30)
    pro = segment(container, ws, "Pro", PRO)
    for n in range(60):
        track(container, ws, f"u{n}", "Login")
        ingest(
            container,
            ws,
            {"type": "identify", "userId": f"u{n}", "traits": {"plan": "pro" if n % 2 else "free"}},
        )
    workers = [AudienceWorker(container.db, container.clock, container.segments, batch=7) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(lambda w: w.run_once(), workers))
    assert sum(stats.changes for stats in done) > 0
    container.audience.run_once()  # whatever a worker left for later
    assert len(members(container, ws, active.id)) == 60
    assert len(members(container, ws, pro.id)) == 30
    assert count(container, segment_memberships, ws) == 90  # one stay each: nobody entered twice
    assert len(entered_activities(container, ws)) == 90

    clock.advance(timedelta(days=31))
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda w: w.run_once(), workers))
    container.audience.run_once()
    assert members(container, ws, active.id) == set()
    assert count(container, pending_changes, ws) == 0


def entered_activities(container: Container, workspace_id: str) -> list[str]:
    with container.db.read() as conn:
        found = activity_store.listing(conn, workspace_id, limit=1000, kinds=[ActivityKind.SEGMENT_ENTERED])
    return [a.contact_id for a in found]
