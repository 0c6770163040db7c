"""The whole lead pipeline on the live path: a tracked event scores in the audience worker, the score
crosses a threshold, the stage moves to MQL, routing assigns an owner, and a segment on the score takes
the contact in; decay alone later takes it out again. Real databases, a manual clock."""

from __future__ import annotations

from datetime import timedelta

from nurture.bootstrap import Container
from nurture.domain.activities import ActivityKind
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from tests.services.audience import activities, contact_of, members, segment, track


def test_an_event_scores_moves_the_stage_routes_and_enters_a_score_segment(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ws = workspace.id
    model = container.scoring.create(
        ws,
        {
            "name": "Engagement",
            "rules": [{"type": "event", "id": "demo", "name": "Demo Requested", "points": 30}],
            "decay": {"kind": "half_life", "days": 1},
            "thresholds": [{"score": 25, "stage": "mql"}],
        },
    )
    owner = container.owners.create(ws, {"name": "Rep", "email": "rep@example.com"})
    container.routing.create_rule(ws, "Everyone", {"kind": "round_robin", "owner_ids": [owner.id]})
    hot = segment(
        container,
        ws,
        "Hot leads",
        {"type": "score", "model": model.id, "operator": {"op": "greater_or_equal", "value": 25}},
    )

    track(container, ws, "ann", "Demo Requested")
    container.audience.run_once()

    ann = contact_of(container, ws, "ann")
    [score] = container.scoring.scores(ws, ann)
    assert score.score == 30
    contact = container.contacts.get(ws, ann)
    assert (contact.lifecycle_stage, contact.owner_id) == ("mql", owner.id)
    assert members(container, ws, hot.id) == {ann}
    kinds = [kind for kind, _ in activities(container, ws, ann)]
    for kind in (
        ActivityKind.SCORE_THRESHOLD_CROSSED,
        ActivityKind.LIFECYCLE_CHANGED,
        ActivityKind.OWNER_ASSIGNED,
        ActivityKind.SEGMENT_ENTERED,
    ):
        assert kinds.count(kind) == 1, (kind, kinds)

    # a retried batch of the same events scores nothing twice
    track(container, ws, "ann", "Page Viewed")
    container.audience.run_once()
    assert container.scoring.scores(ws, ann)[0].score == 30

    # two half-lives later decay alone has taken the score under the threshold: the segment lets the
    # contact go, the stage stays (thresholds never demote)
    clock.advance(timedelta(days=2, minutes=1))
    stats = container.audience.run_once()
    assert stats.decayed >= 1
    assert container.scoring.scores(ws, ann)[0].score < 25
    assert members(container, ws, hot.id) == set()
    assert container.contacts.get(ws, ann).lifecycle_stage == "mql"
    assert [kind for kind, _ in activities(container, ws, ann)].count(ActivityKind.SEGMENT_EXITED) == 1
