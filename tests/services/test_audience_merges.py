"""When two profiles merge, the survivor keeps the union of lists and tags, the stronger subscription
status (an unsubscribe is never lost) and fills a missing stage or owner; erasure removes them all."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.subscriptions import Status, Subscription, merge_winner
from nurture.services.clock import ManualClock
from nurture.services.lifecycle import change_stage
from nurture.services.routing import change_owner
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import activities, contact_tags, list_members, metadata, subscriptions
from tests.conftest import START, ingest


def _contact(container: Container, workspace: NewWorkspace, **ids: str) -> str:
    ingest(container, workspace.id, {"type": "identify", **ids, "traits": {}})
    found = [c for c in container.contacts.list(workspace.id).items if c.user_id == ids.get("userId")]
    return found[-1].id


def test_a_merge_keeps_lists_tags_stage_owner_and_the_unsubscribe(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    rita = container.owners.create(workspace.id, {"name": "Rita", "email": "rita@example.com"})
    ingest(container, workspace.id, {"type": "track", "anonymousId": "a1", "event": "Visited"})
    ingest(
        container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}}
    )
    by_id = {c.user_id: c.id for c in container.contacts.list(workspace.id).items}
    anonymous, known = by_id[None], by_id["u1"]
    both, only_anonymous, only_known = (
        container.lists.create(workspace.id, n) for n in ("both", "anon", "known")
    )
    for item, members in ((both, [anonymous, known]), (only_anonymous, [anonymous]), (only_known, [known])):
        container.lists.add_members(workspace.id, item.id, [{"id": m} for m in members])
    container.tags.add(workspace.id, anonymous, "visitor")
    container.tags.add(workspace.id, anonymous, "vip")
    container.tags.add(workspace.id, known, "vip")
    container.subscriptions.set(workspace.id, anonymous, "email", None, "unsubscribed", "unsubscribe_link")
    clock.advance(timedelta(hours=1))
    container.subscriptions.set(workspace.id, known, "email", None, "subscribed", "form")  # later, yet loses
    container.subscriptions.set(workspace.id, anonymous, "email", "news", "subscribed", "form")
    container.subscriptions.set(workspace.id, known, "email", "news", "pending", "form")
    container.subscriptions.set(workspace.id, anonymous, "sms", None, "pending", "form")
    with container.db.write() as conn:
        change_stage(conn, workspace.id, anonymous, "lead", clock.now(), {})
        change_owner(conn, workspace.id, anonymous, rita.id, clock.now())

    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {}})

    survivor = container.contacts.get(workspace.id, anonymous)
    assert survivor.id == known
    assert (survivor.lifecycle_stage, survivor.owner_id, survivor.tags) == (
        "lead",
        rita.id,
        ["vip", "visitor"],
    )
    assert [item.name for item, _ in container.lists.lists_of(workspace.id, known)] == [
        "both",
        "anon",
        "known",
    ]
    statuses = {
        (s.channel, s.topic): (s.status, s.source)
        for s in container.subscriptions.of_contact(workspace.id, known)
    }
    assert statuses == {
        ("email", None): (Status.UNSUBSCRIBED, "unsubscribe_link"),
        ("email", "news"): (Status.SUBSCRIBED, "form"),
        ("sms", None): (Status.PENDING, "form"),
    }
    history = container.activities.of_contact(workspace.id, known, limit=1000).items
    assert {a.contact_id for a in history} == {known}
    assert len(history) == 4 + 3 + 5 + 1 + 1  # list adds, tags, subscription changes, stage, owner
    with container.db.read() as conn:
        for table in (list_members, contact_tags, subscriptions, activities):
            assert conn.execute(select(table).where(table.c.contact_id == anonymous)).all() == [], table.name


def test_the_survivors_own_stage_and_owner_win(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    rita = container.owners.create(workspace.id, {"name": "Rita", "email": "rita@example.com"})
    sam = container.owners.create(workspace.id, {"name": "Sam", "email": "sam@example.com"})
    ingest(container, workspace.id, {"type": "track", "anonymousId": "a1", "event": "Visited"})
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "traits": {}})
    by_id = {c.user_id: c.id for c in container.contacts.list(workspace.id).items}
    with container.db.write() as conn:
        change_stage(conn, workspace.id, by_id[None], "customer", clock.now(), {})
        change_owner(conn, workspace.id, by_id[None], rita.id, clock.now())
        change_stage(conn, workspace.id, by_id["u1"], "lead", clock.now(), {})
        change_owner(conn, workspace.id, by_id["u1"], sam.id, clock.now())
    ingest(container, workspace.id, {"type": "alias", "userId": "u1", "previousId": "a1"})
    survivor = container.contacts.get(workspace.id, by_id["u1"])
    assert (survivor.lifecycle_stage, survivor.owner_id) == ("lead", sam.id)


def test_erasure_removes_lists_tags_subscriptions_and_activities(
    container: Container, workspace: NewWorkspace
) -> None:
    keep = _contact(container, workspace, userId="keep")
    gone = _contact(container, workspace, userId="gone")
    item = container.lists.create(workspace.id, "list")
    for contact_id in (keep, gone):
        container.lists.add_members(workspace.id, item.id, [{"id": contact_id}])
        container.tags.add(workspace.id, contact_id, "vip")
        container.subscriptions.set(workspace.id, contact_id, "email", None, "subscribed")
    container.contacts.erase(workspace.id, gone)
    with container.db.read() as conn:
        for table in metadata.sorted_tables:
            if "contact_id" in table.c:
                assert (
                    conn.execute(select(table).where(table.c.contact_id == gone)).all() == []
                    or table.name == "pending_changes"
                ), table.name
        kept = conn.execute(select(contact_tags.c.contact_id)).scalars().all()
    assert kept == [keep]
    assert container.lists.get(workspace.id, item.id).members == 1


def test_the_merge_winner_prefers_unsubscribed_then_subscribed_then_the_latest() -> None:
    def sub(status: Status, minutes: int) -> Subscription:
        return Subscription("email", None, status, "x", START + timedelta(minutes=minutes))

    assert merge_winner(sub(Status.UNSUBSCRIBED, 0), sub(Status.SUBSCRIBED, 5)).status is Status.UNSUBSCRIBED
    assert merge_winner(sub(Status.PENDING, 9), sub(Status.UNSUBSCRIBED, 0)).status is Status.UNSUBSCRIBED
    assert merge_winner(sub(Status.PENDING, 9), sub(Status.SUBSCRIBED, 0)).status is Status.SUBSCRIBED
    later = sub(Status.SUBSCRIBED, 7)
    assert merge_winner(sub(Status.SUBSCRIBED, 1), later) is later
