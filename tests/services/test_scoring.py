"""Lead scoring on a real database: event and condition rules, caps, once, decay, thresholds, merges,
erasure, rescoring. Scenarios in the marketer's words: a lead does X at T, its score is Y."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from nurture.bootstrap import Container
from nurture.domain.activities import ActivityKind
from nurture.domain.catalog import EntryKind
from nurture.domain.errors import Invalid
from nurture.services import lifecycle
from nurture.services.clock import ManualClock
from nurture.services.contacts import ContactInput
from nurture.services.scoring import decay_due, rescore_conditions, score_events
from nurture.services.workspaces import NewWorkspace
from nurture.store import activities
from nurture.store.events import all_events
from nurture.store.schema import contact_identities, contact_scores, contacts, pending_changes, score_changes
from tests.conftest import ingest

DAY = timedelta(days=1)
PRICING = {"type": "event", "id": "pricing", "points": 10, "name": "Viewed Pricing"}
THRESHOLDS = [{"score": 50, "stage": "mql"}, {"score": 80, "stage": "sql"}]


class Lead:
    """One contact of the workspace, tracked as user `user_id`, and the engine around it."""

    def __init__(self, container: Container, workspace: NewWorkspace, user_id: str = "u1") -> None:
        self.container = container
        self.workspace_id = workspace.id
        self.user_id = user_id
        ingest(container, workspace.id, {"type": "identify", "userId": user_id, "traits": {}})
        self.id = self._id()

    def _id(self) -> str:
        with self.container.db.read() as conn:
            return str(
                conn.execute(
                    select(contacts.c.id)
                    .where(contacts.c.workspace_id == self.workspace_id)
                    .order_by(contacts.c.created_at.desc())
                )
                .scalars()
                .first()
            )

    def does(self, event: str, scored: bool = True, **properties: Any) -> None:
        """Track `event` now; the audience worker's call to score it follows unless `scored` is False."""
        before = self.event_ids()
        ingest(
            self.container,
            self.workspace_id,
            {"type": "track", "userId": self.user_id, "event": event, "properties": properties},
        )
        if scored:
            self.score([e for e in self.events() if e.id not in before])

    def events(self) -> list[Any]:
        with self.container.db.read() as conn:
            return all_events(conn, self.workspace_id, self.id)

    def event_ids(self) -> set[str]:
        return {e.id for e in self.events()}

    def score(self, events: list[Any]) -> list[str]:
        with self.container.db.write() as conn:
            return score_events(conn, self.workspace_id, self.id, events, self.container.clock.now())

    def conditions(self) -> list[str]:
        with self.container.db.write() as conn:
            return rescore_conditions(conn, self.workspace_id, self.id, self.container.clock.now())

    def stored(self, model_id: str) -> float | None:
        with self.container.db.read() as conn:
            found: float | None = conn.execute(
                select(contact_scores.c.score).where(
                    contact_scores.c.workspace_id == self.workspace_id,
                    contact_scores.c.model_id == model_id,
                    contact_scores.c.contact_id == self.id,
                )
            ).scalar()
            return found

    def stage(self) -> str | None:
        with self.container.db.read() as conn:
            stage: str | None = conn.execute(
                select(contacts.c.lifecycle_stage).where(
                    contacts.c.workspace_id == self.workspace_id, contacts.c.id == self.id
                )
            ).scalar()
            return stage

    def activities(self, kind: ActivityKind) -> list[dict[str, Any]]:
        with self.container.db.read() as conn:
            return [
                a.data for a in activities.listing(conn, self.workspace_id, contact_id=self.id, kinds=[kind])
            ]

    def queued_scores(self) -> list[str | None]:
        with self.container.db.read() as conn:
            return list(
                conn.execute(
                    select(pending_changes.c.name).where(
                        pending_changes.c.workspace_id == self.workspace_id,
                        pending_changes.c.contact_id == self.id,
                        pending_changes.c.kind == "score",
                    )
                ).scalars()
            )


def make_model(container: Container, workspace: NewWorkspace, **definition: Any) -> str:
    # condition rules read attributes.title before any contact has had it
    container.catalog.declare(workspace.id, EntryKind.ATTRIBUTE, "title", ["string"])
    body = {"name": definition.pop("name", "Engagement"), "rules": [PRICING], **definition}
    return container.scoring.create(workspace.id, body).id


def recompute_due(container: Container) -> int:
    with container.db.write() as conn:
        return decay_due(conn, container.clock.now(), 100)


def test_every_event_scores_once_even_when_the_worker_retries(
    container: Container, workspace: NewWorkspace
) -> None:
    model_id = make_model(container, workspace)
    lead = Lead(container, workspace)
    lead.does("Viewed Pricing")
    lead.does("Viewed Pricing")
    lead.does("Signed Up")
    assert lead.stored(model_id) == 20
    assert lead.score(lead.events()) == []  # the same events again: nothing more
    assert lead.stored(model_id) == 20
    assert lead.queued_scores() == [model_id, model_id]
    history = container.scoring.history(workspace.id, lead.id, model_id, cursor=None).items
    assert [(h.rule_id, h.points, h.kind) for h in history] == [("pricing", 10, "event")] * 2
    assert {h.event_id for h in history} <= lead.event_ids()


def test_once_rules_score_the_first_time_only_and_caps_hold_per_period(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    rules = [
        {"type": "event", "id": "signup", "points": 25, "name": "Signed Up", "frequency": "once"},
        {**PRICING, "cap": {"max_times": 2, "days": 7}},
        {
            "type": "event",
            "id": "big-order",
            "points": 30,
            "name": "Order Completed",
            "where": [{"property": "properties.total", "operator": {"op": "greater_or_equal", "value": 100}}],
        },
    ]
    model_id = make_model(container, workspace, rules=rules)
    lead = Lead(container, workspace)
    for _ in range(2):
        lead.does("Signed Up")
    for _ in range(3):
        lead.does("Viewed Pricing")
        clock.advance(DAY)
    lead.does("Order Completed", total=99)
    lead.does("Order Completed", total=150)
    assert lead.stored(model_id) == 25 + 2 * 10 + 30
    clock.advance(5 * DAY)  # a week after the first two pricing views: the cap allows two more
    lead.does("Viewed Pricing")
    assert lead.stored(model_id) == 25 + 3 * 10 + 30


def test_thresholds_move_the_stage_forward_and_record_crossings_both_ways(
    container: Container, workspace: NewWorkspace
) -> None:
    model_id = make_model(container, workspace, thresholds=THRESHOLDS)
    lead = Lead(container, workspace)
    for _ in range(5):
        lead.does("Viewed Pricing")
    assert (lead.stored(model_id), lead.stage()) == (50, "mql")
    container.scoring.add_points(workspace.id, lead.id, model_id, 35, "demo call went well")
    assert (lead.stored(model_id), lead.stage()) == (85, "sql")
    container.scoring.add_points(workspace.id, lead.id, model_id, -40, "went quiet")
    assert (lead.stored(model_id), lead.stage()) == (45, "sql")  # thresholds never demote
    crossed = [
        (a["threshold"], a["direction"]) for a in lead.activities(ActivityKind.SCORE_THRESHOLD_CROSSED)
    ]
    assert crossed == [(50, "up"), (80, "up"), (80, "down"), (50, "down")]
    stages = [(a["from"], a["to"], a["source"]) for a in lead.activities(ActivityKind.LIFECYCLE_CHANGED)]
    assert stages == [(None, "mql", "score"), ("mql", "sql", "score")]


def test_a_jump_over_two_thresholds_moves_straight_to_the_higher_stage(
    container: Container, workspace: NewWorkspace
) -> None:
    model_id = make_model(container, workspace, thresholds=THRESHOLDS)
    lead = Lead(container, workspace)
    container.scoring.add_points(workspace.id, lead.id, model_id, 90, "met at a trade fair")
    assert lead.stage() == "sql"
    assert len(lead.activities(ActivityKind.LIFECYCLE_CHANGED)) == 1
    assert len(lead.activities(ActivityKind.SCORE_THRESHOLD_CROSSED)) == 2


def test_condition_points_are_given_while_the_condition_holds_and_taken_back_after(
    container: Container, workspace: NewWorkspace
) -> None:
    vp = {
        "type": "condition",
        "id": "vp",
        "points": 15,
        "condition": {
            "type": "attribute",
            "field": "attributes.title",
            "operator": {"op": "equals", "value": "VP"},
        },
    }
    model_id = make_model(container, workspace, name="Fit", rules=[vp])
    lead = Lead(container, workspace)
    assert lead.conditions() == []
    assert lead.stored(model_id) is None
    container.contacts.change(workspace.id, lead.id, ContactInput({}, {"title": "VP"}), replace=False)
    assert lead.conditions() == [model_id]
    assert lead.conditions() == []  # still holds: nothing new
    assert lead.stored(model_id) == 15
    container.contacts.change(workspace.id, lead.id, ContactInput({}, {"title": "Intern"}), replace=False)
    lead.conditions()
    assert lead.stored(model_id) == 0
    history = container.scoring.history(workspace.id, lead.id, model_id, cursor=None).items
    assert sorted(h.points for h in history) == [-15, 15]


def test_a_time_relative_condition_is_rescored_when_time_alone_changes_it(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    active = {
        "type": "condition",
        "id": "active",
        "points": 10,
        "condition": {"type": "event", "name": "Logged In", "window": {"kind": "last_days", "days": 7}},
    }
    model_id = make_model(container, workspace, rules=[active])
    lead = Lead(container, workspace)
    lead.does("Logged In")  # score_events re-evaluates conditions that read the event
    assert lead.stored(model_id) == 10
    clock.advance(7 * DAY)
    assert recompute_due(container) == 0
    clock.advance(timedelta(seconds=1))
    assert recompute_due(container) == 1
    assert lead.stored(model_id) == 0
    assert recompute_due(container) == 0


def test_half_life_decay_alone_crosses_a_threshold_down(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    model_id = make_model(
        container,
        workspace,
        decay={"kind": "half_life", "days": 10},
        thresholds=[{"score": 50, "stage": "mql"}],
    )
    lead = Lead(container, workspace)
    container.scoring.add_points(workspace.id, lead.id, model_id, 100, "imported from the old CRM")
    runs = 0
    for _ in range(24 * 12):  # a worker polling every hour for 12 days
        clock.advance(timedelta(hours=1))
        runs += recompute_due(container)
    assert 40 < lead.stored(model_id) < 50  # type: ignore[operator]
    assert runs < 24 * 12 / 2, "decay re-stores a score only when it moved"
    assert [a["direction"] for a in lead.activities(ActivityKind.SCORE_THRESHOLD_CROSSED)] == ["up", "down"]
    exact = 100 * 0.5**1.2
    assert abs(lead.stored(model_id) - exact) <= 0.5 + 0.005  # type: ignore[operator]


def test_expired_points_leave_the_score_on_the_day_they_expire(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    model_id = make_model(container, workspace, decay={"kind": "expire", "days": 30})
    lead = Lead(container, workspace)
    lead.does("Viewed Pricing")
    clock.advance(10 * DAY)
    lead.does("Viewed Pricing")
    clock.advance(20 * DAY)
    assert recompute_due(container) == 1
    assert lead.stored(model_id) == 10
    clock.advance(10 * DAY)
    assert recompute_due(container) == 1
    assert lead.stored(model_id) == 0
    [line] = container.scoring.scores(workspace.id, lead.id)[0].rules
    assert (line.rule_id, line.times_applied, line.points) == ("pricing", 2, 0)


def test_the_breakdown_explains_the_score(container: Container, workspace: NewWorkspace) -> None:
    model_id = make_model(container, workspace)
    never = {"type": "event", "id": "webinar", "points": 5, "name": "Attended Webinar"}
    fit = make_model(container, workspace, name="Webinars", rules=[never])
    lead = Lead(container, workspace)
    for _ in range(3):
        lead.does("Viewed Pricing")
    container.scoring.add_points(workspace.id, lead.id, model_id, 32, "asked for a demo")
    scores = {s.model_id: s for s in container.scoring.scores(workspace.id, lead.id)}
    assert (scores[fit].score, scores[fit].rules) == (0, [])
    mine = scores[model_id]
    assert mine.score == 62
    assert [(r.rule_id, r.times_applied, r.points) for r in mine.rules] == [
        ("manual", 1, 32),
        ("pricing", 3, 30),
    ]


def test_a_merge_gives_the_survivor_the_merged_contacts_points(
    container: Container, workspace: NewWorkspace
) -> None:
    signup = {"type": "event", "id": "signup", "points": 25, "name": "Signed Up", "frequency": "once"}
    model_id = make_model(container, workspace, rules=[PRICING, signup])
    known = Lead(container, workspace, "u1")
    known.does("Signed Up")
    ingest(container, workspace.id, {"type": "track", "anonymousId": "visitor", "event": "Viewed Pricing"})
    ingest(container, workspace.id, {"type": "track", "anonymousId": "visitor", "event": "Signed Up"})
    visitor = Lead.__new__(Lead)
    visitor.container, visitor.workspace_id, visitor.user_id = container, workspace.id, ""
    with container.db.read() as conn:
        visitor.id = conn.execute(
            select(contact_identities.c.contact_id).where(
                contact_identities.c.workspace_id == workspace.id, contact_identities.c.value == "visitor"
            )
        ).scalar_one()
    visitor.score(visitor.events())
    assert visitor.stored(model_id) == 35
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "visitor"})
    with container.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 1
        rows = conn.execute(
            select(score_changes.c.contact_id, score_changes.c.rule_id).where(
                score_changes.c.workspace_id == workspace.id
            )
        ).all()
    assert sorted(r.rule_id for r in rows) == ["pricing", "signup"]  # one signup: the earlier one
    assert {r.contact_id for r in rows} == {known.id}
    assert recompute_due(container) == 1
    assert known.stored(model_id) == 35
    assert visitor.stored(model_id) is None
    # a worker still holding the merged-away id scores the survivor
    assert visitor.score(known.events()) == []


def test_erasure_removes_scores_and_history(container: Container, workspace: NewWorkspace) -> None:
    model_id = make_model(container, workspace)
    lead = Lead(container, workspace)
    lead.does("Viewed Pricing")
    container.contacts.erase(workspace.id, lead.id)
    with container.db.read() as conn:
        for table in (score_changes, contact_scores):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
    assert model_id


def test_rescore_applies_new_rules_to_stored_events_and_is_repeatable(
    container: Container, workspace: NewWorkspace
) -> None:
    lead = Lead(container, workspace)
    for _ in range(3):
        lead.does("Viewed Pricing", scored=False)
    lead.does("Requested Demo", scored=False)
    model_id = make_model(container, workspace, thresholds=THRESHOLDS)
    container.scoring.add_points(workspace.id, lead.id, model_id, 5, "kept across rescoring")
    assert container.scoring.rescore(workspace.id, model_id).changed == 1
    assert lead.stored(model_id) == 35
    demo = {"type": "event", "id": "demo", "points": 50, "name": "Requested Demo"}
    container.scoring.replace(
        workspace.id, model_id, {"name": "Engagement", "rules": [PRICING, demo], "thresholds": THRESHOLDS}
    )
    report = container.scoring.rescore(workspace.id, model_id)
    assert (report.contacts, report.changed) == (1, 1)
    assert (lead.stored(model_id), lead.stage()) == (85, "sql")
    assert container.scoring.rescore(workspace.id, model_id).changed == 0


def test_workspace_stages_are_configurable_and_thresholds_follow_them(
    container: Container, workspace: NewWorkspace
) -> None:
    assert list(container.lifecycle.get(workspace.id)) == list(lifecycle.DEFAULT_STAGES)
    assert container.lifecycle.set(workspace.id, ["visitor", "trial", "hot", "paying"]) == (
        "visitor",
        "trial",
        "hot",
        "paying",
    )
    with pytest.raises(Invalid) as caught:
        make_model(container, workspace, thresholds=THRESHOLDS)
    assert caught.value.errors[0].field == "thresholds[0].stage"
    model_id = make_model(container, workspace, thresholds=[{"score": 20, "stage": "hot"}])
    with pytest.raises(Invalid) as refused:
        container.lifecycle.set(workspace.id, ["visitor", "trial"])
    assert refused.value.errors[0].field == "stages"
    assert list(container.lifecycle.get(workspace.id)) == ["visitor", "trial", "hot", "paying"]
    lead = Lead(container, workspace)
    lead.does("Viewed Pricing")
    lead.does("Viewed Pricing")
    assert (lead.stored(model_id), lead.stage()) == (20, "hot")


def test_a_replaced_model_applies_its_new_decay_and_drops_removed_condition_rules(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    signed = {
        "type": "condition",
        "id": "signed-up",
        "points": 7,
        "condition": {"type": "event", "name": "Signed Up"},
    }
    model_id = make_model(container, workspace, rules=[PRICING, signed])
    lead = Lead(container, workspace)
    lead.does("Signed Up")
    lead.does("Viewed Pricing")
    assert lead.stored(model_id) == 17
    container.scoring.replace(
        workspace.id,
        model_id,
        {"name": "Engagement", "rules": [PRICING], "decay": {"kind": "expire", "days": 2}},
    )
    assert recompute_due(container) == 1
    assert lead.stored(model_id) == 10  # the removed rule's points went back
    [event_points] = [
        h
        for h in container.scoring.history(workspace.id, lead.id, model_id, cursor=None).items
        if h.kind == "event"
    ]
    assert event_points.expires_at == event_points.occurred_at + 2 * DAY
    clock.advance(2 * DAY)
    assert recompute_due(container) == 1
    assert lead.stored(model_id) == 0


def test_a_model_reading_another_models_score_sees_it_change_in_the_same_call(
    container: Container, workspace: NewWorkspace
) -> None:
    vp = {
        "type": "condition",
        "id": "vp",
        "points": 20,
        "condition": {
            "type": "attribute",
            "field": "attributes.title",
            "operator": {"op": "equals", "value": "VP"},
        },
    }
    fit = make_model(container, workspace, name="Fit", rules=[vp])
    good_fit = {
        "type": "condition",
        "id": "good-fit",
        "points": 5,
        "condition": {"type": "score", "model": fit, "operator": {"op": "greater_or_equal", "value": 20}},
    }
    priority = make_model(container, workspace, name="Priority", rules=[good_fit])
    lead = Lead(container, workspace)
    container.contacts.change(workspace.id, lead.id, ContactInput({}, {"title": "VP"}), replace=False)
    assert lead.conditions() == [fit, priority]
    assert (lead.stored(fit), lead.stored(priority)) == (20, 5)


def test_two_workers_scoring_the_same_events_at_once_grant_them_once(
    container: Container, workspace: NewWorkspace
) -> None:
    signup = {"type": "event", "id": "signup", "points": 25, "name": "Signed Up", "frequency": "once"}
    model_id = make_model(container, workspace, rules=[PRICING, signup])
    lead = Lead(container, workspace)
    lead.does("Viewed Pricing", scored=False)
    lead.does("Signed Up", scored=False)
    events = lead.events()
    start = threading.Barrier(2)
    results: list[list[str]] = []

    def worker() -> None:
        start.wait()
        results.append(lead.score(events))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [model_id]]
    assert lead.stored(model_id) == 35
    assert len(container.scoring.history(workspace.id, lead.id, model_id, cursor=None).items) == 2
