"""Lifecycle stage changes: validated, recorded as activities, queued for the audience worker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.activities import ActivityKind
from nurture.domain.errors import Invalid, NotFound
from nurture.domain.lifecycle import DEFAULT_STAGES, is_forward
from nurture.services.lifecycle import change_stage
from nurture.services.workspaces import NewWorkspace
from nurture.store import activities
from nurture.store.schema import contacts, pending_changes
from tests.conftest import ingest


def _contact(container: Container, workspace: NewWorkspace) -> str:
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "traits": {}})
    with container.db.read() as conn:
        return str(
            conn.execute(select(contacts.c.id).where(contacts.c.workspace_id == workspace.id)).scalar_one()
        )


def _stage(container: Container, workspace_id: str, contact_id: str) -> str | None:
    with container.db.read() as conn:
        return conn.execute(
            select(contacts.c.lifecycle_stage).where(
                contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id
            )
        ).scalar_one()


def test_a_change_is_stored_recorded_and_queued(container: Container, workspace: NewWorkspace) -> None:
    contact_id = _contact(container, workspace)
    now = container.clock.now()
    with container.db.write() as conn:
        assert change_stage(conn, workspace.id, contact_id, "lead", now, {"source": "api"})
        assert not change_stage(conn, workspace.id, contact_id, "lead", now, {"source": "api"})
    assert _stage(container, workspace.id, contact_id) == "lead"
    with container.db.read() as conn:
        (activity,) = activities.listing(conn, workspace.id, contact_id=contact_id)
        queued = conn.execute(
            select(pending_changes.c.kind, pending_changes.c.name).where(
                pending_changes.c.workspace_id == workspace.id,
                pending_changes.c.contact_id == contact_id,
                pending_changes.c.kind == "profile",
                pending_changes.c.name == "lifecycle_stage",
            )
        ).all()
    assert activity.kind is ActivityKind.LIFECYCLE_CHANGED
    assert activity.data == {"from": None, "to": "lead", "source": "api"}
    assert len(queued) == 1


def test_forward_only_never_demotes(container: Container, workspace: NewWorkspace) -> None:
    contact_id = _contact(container, workspace)
    now = container.clock.now()
    with container.db.write() as conn:
        change_stage(conn, workspace.id, contact_id, "customer", now, {})
        assert not change_stage(conn, workspace.id, contact_id, "mql", now, {}, forward_only=True)
    assert _stage(container, workspace.id, contact_id) == "customer"


def test_unknown_stage_and_contact_are_refused(container: Container, workspace: NewWorkspace) -> None:
    contact_id = _contact(container, workspace)
    now = container.clock.now()
    with pytest.raises(Invalid) as caught, container.db.write() as conn:
        change_stage(conn, workspace.id, contact_id, "champion", now, {})
    assert caught.value.errors[0].field == "lifecycle_stage"
    with pytest.raises(NotFound), container.db.write() as conn:
        change_stage(conn, workspace.id, "01NOSUCHCONTACT0000000000", "lead", now, {})
    assert _stage(container, workspace.id, contact_id) is None


def test_forward_follows_the_stage_order() -> None:
    assert is_forward(None, "subscriber", DEFAULT_STAGES)
    assert is_forward("lead", "mql", DEFAULT_STAGES)
    assert not is_forward("sql", "lead", DEFAULT_STAGES)
    assert is_forward("retired-stage", "lead", DEFAULT_STAGES)
