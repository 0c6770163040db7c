"""Finding the contacts an API caller names: by id (a merged-away id leads to its survivor), by email
or by user id."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from nurture.domain.audiences import ContactRef
from nurture.domain.contacts import IdentityKind
from nurture.domain.errors import NotFound
from nurture.store import contacts as contact_store


def resolve(
    conn: Connection, workspace_id: str, refs: Sequence[ContactRef]
) -> tuple[dict[int, str], list[ContactRef]]:
    """(ref index → contact id for the refs that find a contact, the refs that find none)."""
    found: dict[int, str] = {}
    ids = contact_store.existing_ids(conn, workspace_id, [r.value for r in refs if r.kind == "id"])
    keys = [(IdentityKind(r.kind), r.value) for r in refs if r.kind != "id"]
    owners, _ = contact_store.find_owners(conn, workspace_id, keys) if keys else ({}, {})
    missing: list[ContactRef] = []
    for ref in refs:
        contact_id: str | None
        if ref.kind == "id":
            contact_id = (
                ref.value if ref.value in ids else contact_store.merged_into(conn, workspace_id, ref.value)
            )
        else:
            contact_id = owners.get((IdentityKind(ref.kind), ref.value))
        if contact_id is None:
            missing.append(ref)
        else:
            found[ref.index] = contact_id
    return found, missing


def existing_contact(conn: Connection, workspace_id: str, contact_id: str, *, follow_merges: bool) -> str:
    """The id of the contact `contact_id` names (its survivor when merged and `follow_merges`), or
    NotFound."""
    if contact_store.existing_ids(conn, workspace_id, [contact_id]):
        return contact_id
    if follow_merges:
        into = contact_store.merged_into(conn, workspace_id, contact_id)
        if into is not None:
            return into
    raise NotFound(f"no contact {contact_id} in this workspace")
