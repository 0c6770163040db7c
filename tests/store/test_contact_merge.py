"""A merge leaves nothing of the merged-away contact behind: every table with a `contact_id` column
holds a row of it before the merge, and afterwards only the tables whose rows are deliberately kept
under the old id (or left to the audience worker) still name it.

The tables are found from the schema, so a new per-contact table fails this test until the merge
handles it (`store.contacts.MERGED_TABLES`) or it is named below with the reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, Float, Integer, Table, func, select

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store.contacts import MERGED_TABLES
from nurture.store.schema import contact_identities, contact_merges, contacts, metadata
from tests.conftest import START, ingest

# Kept under the merged id on purpose: segment history stays where it happened; the audience worker
# follows `contact_merges` for the queued changes and timers and ends the old stays itself.
KEPT = {"segment_memberships", "segment_timers", "pending_changes"}
# Dropped rather than moved: date timers (the survivor's own stand).
DROPPED = {"journey_timers"}
PER_CONTACT = sorted(t.name for t in metadata.sorted_tables if "contact_id" in t.c)
# rows whose values are read back while merging must hold values the code accepts
VALUES: dict[str, dict[str, Any]] = {"subscriptions": {"status": "subscribed", "topic": ""}}


def _row(table: Table, workspace_id: str, contact_id: str) -> dict[str, Any]:
    """A row of `table` for the contact, every required column filled with a value of its type."""
    row: dict[str, Any] = {}
    for column in table.c:
        if column.name == "workspace_id":
            row[column.name] = workspace_id
        elif column.name == "contact_id":
            row[column.name] = contact_id
        elif column.nullable and not column.primary_key:
            continue
        elif isinstance(column.type, JSON):
            row[column.name] = {}
        elif isinstance(column.type, Integer):
            row[column.name] = 1
        elif isinstance(column.type, Float):
            row[column.name] = 1.0
        elif column.type.python_type is str:
            length = getattr(column.type, "length", None) or 64
            row[column.name] = f"{table.name}-{column.name}"[-length:]
        else:
            row[column.name] = START
    return {**row, **VALUES.get(table.name, {})}


def _count(container: Container, table: Table, workspace_id: str, contact_id: str) -> int:
    with container.db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.workspace_id == workspace_id, table.c.contact_id == contact_id)
            ).scalar_one()
        )


def _owner(container: Container, workspace_id: str, kind: str, value: str) -> str:
    with container.db.read() as conn:
        return str(
            conn.execute(
                select(contact_identities.c.contact_id).where(
                    contact_identities.c.workspace_id == workspace_id,
                    contact_identities.c.kind == kind,
                    contact_identities.c.value == value,
                )
            ).scalar_one()
        )


def test_every_per_contact_table_is_merged_or_named() -> None:
    merged = {t.name for t in MERGED_TABLES}
    assert merged | KEPT | DROPPED >= set(PER_CONTACT) - {"contact_merges"}, (
        "a new table with contact_id: add it to store.contacts.MERGED_TABLES (and move its rows) or "
        "name it here with the reason"
    )


def test_a_merge_leaves_nothing_of_the_source_behind(container: Container, workspace: NewWorkspace) -> None:
    ingest(container, workspace.id, {"type": "track", "event": "Viewed", "anonymousId": "a1"})
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}})
    source = _owner(container, workspace.id, "anonymous_id", "a1")
    target = _owner(container, workspace.id, "user_id", "u1")
    tables = [t for t in metadata.sorted_tables if t.name in PER_CONTACT and t.name != "contact_merges"]
    with container.db.write() as conn:
        for table in tables:
            if table is not contact_identities:  # it has one already (a1)
                conn.execute(table.insert().values(_row(table, workspace.id, source)))
        # an older profile merged into the source, and a stage the target lacks
        conn.execute(
            contact_merges.insert().values(
                workspace_id=workspace.id, merged_id="older", into_id=source, merged_at=START
            )
        )
        conn.execute(
            contacts.update()
            .where(contacts.c.workspace_id == workspace.id, contacts.c.id == source)
            .values(lifecycle_stage="lead")
        )
    for table in tables:
        assert _count(container, table, workspace.id, source) >= 1, table.name

    # the anonymous visitor logs in: a1's profile merges into u1's
    ingest(
        container,
        workspace.id,
        {
            "type": "identify",
            "userId": "u1",
            "anonymousId": "a1",
            "timestamp": (START + timedelta(minutes=1)).isoformat(),
        },
    )

    left = {t.name for t in tables if _count(container, t, workspace.id, source)}
    assert left == KEPT
    for table in tables:
        if table.name not in KEPT | DROPPED:
            assert _count(container, table, workspace.id, target) >= 1, f"{table.name} did not move"
    with container.db.read() as conn:
        into = dict(
            conn.execute(
                select(contact_merges.c.merged_id, contact_merges.c.into_id).where(
                    contact_merges.c.workspace_id == workspace.id
                )
            ).all()
        )
        stage = conn.execute(
            select(contacts.c.lifecycle_stage).where(
                contacts.c.workspace_id == workspace.id, contacts.c.id == target
            )
        ).scalar_one()
        gone = conn.execute(
            select(func.count()).select_from(contacts).where(contacts.c.id == source)
        ).scalar_one()
    assert into == {"older": target, source: target}
    assert stage == "lead"
    assert gone == 0


@pytest.mark.parametrize("table", ["events", "list_members", "journey_runs"])
def test_a_merge_moves_what_the_source_has_and_nothing_else(
    container: Container, workspace: NewWorkspace, table: str
) -> None:
    """The source holds rows in one table only: the merge moves those and leaves the target's own."""
    ingest(container, workspace.id, {"type": "identify", "anonymousId": "a1", "traits": {"plan": "free"}})
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}})
    source = _owner(container, workspace.id, "anonymous_id", "a1")
    target = _owner(container, workspace.id, "user_id", "u1")
    chosen = metadata.tables[table]
    with container.db.write() as conn:
        if table != "events":
            conn.execute(chosen.insert().values(_row(chosen, workspace.id, source)))
    before = _count(container, chosen, workspace.id, source) + _count(container, chosen, workspace.id, target)
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "a1"})
    assert _count(container, chosen, workspace.id, source) == 0
    # everything moved, and the identify of the merge is an event of the survivor too
    after = _count(container, chosen, workspace.id, target)
    assert after == before + (1 if table == "events" else 0)
