"""Tags on contacts: added and removed one at a time, recorded as activities and queued for the
audience worker (`membership`, `tag:TAG`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.audiences import check_tag
from nurture.domain.errors import NotFound
from nurture.services.clock import Clock
from nurture.store import activities
from nurture.store import contacts as contact_store
from nurture.store import tags as store
from nurture.store.db import Database


def tag_contact(
    conn: Connection, workspace_id: str, contact_id: str, tag: str, now: datetime, source: str
) -> bool:
    """Add a (checked) tag in the caller's transaction; False when the contact had it."""
    if not store.add(conn, workspace_id, contact_id, tag, now):
        return False
    activities.record(
        conn, workspace_id, contact_id, ActivityKind.TAG_ADDED, now, data={"tag": tag, "source": source}
    )
    activities.enqueue_change(conn, workspace_id, contact_id, ChangeKind.MEMBERSHIP, now, f"tag:{tag}")
    return True


def untag_contact(
    conn: Connection, workspace_id: str, contact_id: str, tag: str, now: datetime, source: str
) -> bool:
    """Remove a tag in the caller's transaction; False when the contact did not have it."""
    if not store.remove(conn, workspace_id, contact_id, tag):
        return False
    activities.record(
        conn, workspace_id, contact_id, ActivityKind.TAG_REMOVED, now, data={"tag": tag, "source": source}
    )
    activities.enqueue_change(conn, workspace_id, contact_id, ChangeKind.MEMBERSHIP, now, f"tag:{tag}")
    return True


class TagService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def add(self, workspace_id: str, contact_id: str, tag: str) -> list[str]:
        """Tag the contact (doing nothing when it has the tag); returns its tags."""
        return self._change(workspace_id, contact_id, tag, add=True)

    def remove(self, workspace_id: str, contact_id: str, tag: str) -> list[str]:
        """Untag the contact (doing nothing when it lacks the tag); returns its tags."""
        return self._change(workspace_id, contact_id, tag, add=False)

    def _change(self, workspace_id: str, contact_id: str, tag: str, *, add: bool) -> list[str]:
        checked = check_tag(tag)
        now = self.clock.now()
        with self.db.write() as conn:
            if not contact_store.lock(conn, workspace_id, contact_id):
                raise NotFound(f"no contact {contact_id} in this workspace")
            if add:
                tag_contact(conn, workspace_id, contact_id, checked, now, "api")
            else:
                untag_contact(conn, workspace_id, contact_id, checked, now, "api")
            return store.tags_of(conn, workspace_id, [contact_id]).get(contact_id, [])
