"""Routing as other services call it: concurrent round-robin turns, `assign_owner` from code, and the
owner kept out of the rows ingest writes."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from nurture.bootstrap import Container
from nurture.domain.errors import NotFound
from nurture.services.clock import ManualClock
from nurture.services.contacts import ContactInput
from nurture.services.routing import assign_on_stage, assign_owner
from nurture.services.workspaces import NewWorkspace


def _people(container: Container, workspace: NewWorkspace, n: int) -> list[str]:
    return [
        container.contacts.create(workspace.id, ContactInput({"first_name": f"p{i}"})).id for i in range(n)
    ]


def test_concurrent_assignments_take_distinct_turns(container: Container, workspace: NewWorkspace) -> None:
    owners = [
        container.owners.create(workspace.id, {"name": f"o{i}", "email": f"o{i}@example.com"}).id
        for i in range(3)
    ]
    container.routing.create_rule(workspace.id, "rotation", {"kind": "round_robin", "owner_ids": owners})
    people = _people(container, workspace, 24)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda c: container.routing.assign(workspace.id, c), people))
    assert all(r.changed for r in results)
    assert Counter(r.owner_id for r in results) == dict.fromkeys(owners, 8)
    rule = container.routing.rules(workspace.id)[0]
    assert rule.last_owner_id in owners


def test_assign_owner_is_callable_in_a_callers_transaction(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    rita = container.owners.create(workspace.id, {"name": "Rita", "email": "rita@example.com"}).id
    [ann, bob] = _people(container, workspace, 2)
    with container.db.write() as conn:
        assert (
            assign_owner(conn, workspace.id, ann, clock.now(), {"trigger": "score"}) is None
        )  # no rules yet
    container.routing.create_rule(workspace.id, "all to Rita", {"kind": "round_robin", "owner_ids": [rita]})
    with container.db.write() as conn:
        assert (
            assign_owner(conn, workspace.id, ann, clock.now(), {"trigger": "score", "model": "fit"}) == rita
        )
        assert assign_on_stage(conn, workspace.id, bob, "lead", clock.now()) is None  # lead does not route
        assert assign_on_stage(conn, workspace.id, bob, "mql", clock.now()) == rita
    [activity] = container.activities.of_contact(workspace.id, ann).items
    assert activity.data["trigger"] == "score"
    assert activity.data["model"] == "fit"
    with pytest.raises(NotFound), container.db.write() as conn:
        assign_owner(conn, workspace.id, "01AAAAAAAAAAAAAAAAAAAAAAAA", clock.now(), {})
