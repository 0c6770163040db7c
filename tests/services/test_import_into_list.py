"""CSV import into a static list: stored rows (new, updated or unchanged) join it; bad rows do not."""

from __future__ import annotations

import io

import pytest

from nurture.bootstrap import Container
from nurture.domain.errors import Invalid
from nurture.services.workspaces import NewWorkspace

CSV = (
    "email,user_id,plan\n"
    "ada@example.com,u1,pro\n"
    "not-an-email,u2,free\n"
    "bob@example.com,,free\n"
    "ada@example.com,u1,pro\n"  # the same person twice joins once
)


def test_imported_rows_join_the_list_and_bad_rows_do_not(
    container: Container, workspace: NewWorkspace
) -> None:
    existing = container.imports.import_contacts(
        workspace.id, io.StringIO("email\nbob@example.com\n", newline="")
    )
    assert existing.created == 1
    item = container.lists.create(workspace.id, "Webinar")
    report = container.imports.import_contacts(workspace.id, io.StringIO(CSV, newline=""), list_id=item.id)
    assert (report.created, report.updated, report.added_to_list) == (1, 1, 2)
    assert [(e.row, e.column) for e in report.errors] == [(3, "email")]
    members = {m.contact_id for m in container.lists.members(workspace.id, item.id).items}
    emails = {c.id: c.email for c in container.contacts.list(workspace.id).items}
    assert {emails[m] for m in members} == {"ada@example.com", "bob@example.com"}
    added = container.activities.list(workspace.id, kinds=["list_added"]).items
    assert sorted(a.contact_id for a in added) == sorted(members)
    assert {a.data["source"] for a in added} == {"import"}

    again = container.imports.import_contacts(workspace.id, io.StringIO(CSV, newline=""), list_id=item.id)
    assert (again.unchanged, again.added_to_list) == (3, 0)


def test_an_unknown_list_is_named_and_nothing_is_imported(
    container: Container, workspace: NewWorkspace
) -> None:
    with pytest.raises(Invalid) as caught:
        container.imports.import_contacts(
            workspace.id,
            io.StringIO(CSV, newline=""),
            list_id="01AAAAAAAAAAAAAAAAAAAAAAAA",
            list_field="--list",
        )
    assert caught.value.errors[0].field == "--list"
    assert container.contacts.list(workspace.id).items == []
