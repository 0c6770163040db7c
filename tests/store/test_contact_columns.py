"""The bulk contact writes of ingest and import never carry the stage or owner: a stale copy of a
contact written back cannot undo a stage change or an assignment made meanwhile."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.services.contacts import ContactInput
from nurture.services.workspaces import NewWorkspace
from nurture.store import contacts as store
from nurture.store.schema import contacts


def test_writing_a_stale_contact_back_keeps_the_stored_stage_and_owner(
    container: Container, workspace: NewWorkspace
) -> None:
    rita = container.owners.create(workspace.id, {"name": "Rita", "email": "rita@example.com"})
    created = container.contacts.create(workspace.id, ContactInput({"first_name": "Ann"}))
    with container.db.read() as conn:
        stale = store.load_contacts(conn, workspace.id, [created.id])[created.id]
    assert (stale.lifecycle_stage, stale.owner_id) == (None, None)
    container.contacts.change(
        workspace.id,
        created.id,
        ContactInput({}, managed={"lifecycle_stage": "sql", "owner_id": rita.id}),
        replace=False,
    )
    with container.db.write() as conn:
        store.update_contacts(
            conn, workspace.id, [replace(stale, first_name="Annie", lifecycle_stage="lead")]
        )
        row = conn.execute(
            select(contacts.c.first_name, contacts.c.lifecycle_stage, contacts.c.owner_id).where(
                contacts.c.workspace_id == workspace.id, contacts.c.id == created.id
            )
        ).one()
    assert tuple(row) == ("Annie", "sql", rita.id)
    assert not {"lifecycle_stage", "owner_id"} & set(store.contact_row(workspace.id, stale))
