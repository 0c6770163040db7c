"""Writers queue only the changes a segment or scoring model reads. A consumer defined later finds
what came before through its own first computation, and a change of what is read applies to the very
next write. Real databases, a manual clock."""

from __future__ import annotations

from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import pending_changes
from tests.conftest import ingest
from tests.services.audience import LOGIN_30, PRO, contact_of, members, segment, track


def queued(container: Container, workspace_id: str) -> list[tuple[str, str | None]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(pending_changes.c.kind, pending_changes.c.name).where(
                pending_changes.c.workspace_id == workspace_id
            )
        ).all()
    return sorted((kind, name) for kind, name in rows)


def test_an_event_no_segment_reads_is_stored_but_not_queued(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    segment(container, ws, "Active", LOGIN_30)
    track(container, ws, "ann", "Signed Up")
    assert queued(container, ws) == [("profile", None)]  # a new contact may enter any segment
    container.audience.run_once()

    track(container, ws, "ann", "Scrolled")
    ingest(container, ws, {"type": "identify", "userId": "ann", "traits": {"plan": "pro"}})
    assert queued(container, ws) == []
    track(container, ws, "ann", "Login")
    assert queued(container, ws) == [("event", "Login")]
    assert container.contacts.get(ws, contact_of(container, ws, "ann")).attributes == {"plan": "pro"}


def test_a_segment_defined_later_finds_earlier_events_and_reads_later_ones_at_once(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    track(container, ws, "ann", "Login")
    assert queued(container, ws) == []  # nothing reads anything yet

    active = container.segments.create(ws, {"name": "Active", "condition": LOGIN_30})
    track(container, ws, "bob", "Login")
    assert ("event", "Login") in queued(container, ws)
    container.audience.run_once()  # the first full computation, then the queue
    assert members(container, ws, active.id) == {
        contact_of(container, ws, "ann"),
        contact_of(container, ws, "bob"),
    }


def test_archiving_the_only_reader_stops_the_queueing_and_reactivating_resumes_it(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    active = segment(container, ws, "Active", LOGIN_30)
    container.segments.update(ws, active.id, {"status": "archived"})
    track(container, ws, "ann", "Login")
    assert queued(container, ws) == []

    container.segments.update(ws, active.id, {"status": "active"})
    track(container, ws, "ann", "Login", messageId="again")
    assert queued(container, ws) == [("event", "Login")]
    container.audience.run_once()
    assert members(container, ws, active.id) == {contact_of(container, ws, "ann")}


def test_a_changed_condition_reads_what_the_new_one_reads(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    plan = segment(container, ws, "Pro", PRO)
    track(container, ws, "ann", "Login")
    container.audience.run_once()
    track(container, ws, "ann", "Login", messageId="second")
    assert queued(container, ws) == []

    container.segments.update(ws, plan.id, {"condition": LOGIN_30})
    track(container, ws, "ann", "Login", messageId="third")
    assert queued(container, ws) == [("event", "Login")]


def test_scoring_rules_read_their_events_pages_included(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    model = container.scoring.create(
        ws,
        {"name": "Engagement", "rules": [{"type": "event", "id": "pricing", "name": "Pricing", "points": 5}]},
    )
    ingest(container, ws, {"type": "page", "userId": "ann", "name": "Home"})
    assert queued(container, ws) == []
    ingest(container, ws, {"type": "page", "userId": "ann", "name": "Pricing"})
    assert queued(container, ws) == [("event", None)]

    container.audience.run_once()
    [score] = container.scoring.scores(ws, contact_of(container, ws, "ann"))
    assert (score.model_id, score.score) == (model.id, 5.0)

    container.scoring.delete(ws, model.id)  # queues the score's change for the segments that read it
    container.audience.run_once()
    ingest(container, ws, {"type": "page", "userId": "ann", "name": "Pricing", "messageId": "later"})
    assert queued(container, ws) == []


def test_a_merge_no_segment_reads_is_not_queued_and_a_later_segment_finds_the_survivor(
    container: Container, workspace: NewWorkspace
) -> None:
    ws = workspace.id
    track(container, ws, "ann", "Signed Up")
    ingest(container, ws, {"type": "track", "anonymousId": "device-1", "event": "Login"})
    ingest(container, ws, {"type": "identify", "userId": "ann", "anonymousId": "device-1"})  # one profile now
    assert queued(container, ws) == []

    active = container.segments.create(ws, {"name": "Active", "condition": LOGIN_30})
    container.audience.run_once()
    assert members(container, ws, active.id) == {contact_of(container, ws, "ann")}
