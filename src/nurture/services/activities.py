"""Reading activities — what nurture did to contacts (list and tag changes, stage changes, owner
assignments, subscription changes, segment entries, …) — in id order with a cursor: how a CRM sync
or any other consumer follows along."""

from __future__ import annotations

from collections.abc import Sequence

from nurture.domain.activities import Activity, ActivityKind
from nurture.domain.contacts import Page
from nurture.domain.errors import Invalid, NotFound
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.store import activities as store
from nurture.store.db import Database

MAX_PAGE = 1000


def parse_kinds(values: Sequence[str], field: str = "kind") -> list[ActivityKind]:
    kinds = []
    for value in values:
        for part in value.split(","):
            try:
                kinds.append(ActivityKind(part.strip()))
            except ValueError:
                known = ", ".join(k.value for k in ActivityKind)
                raise Invalid.one(field, f"unknown kind {part.strip()!r}: use one of {known}") from None
    return kinds


class ActivityService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def list(
        self,
        workspace_id: str,
        *,
        after: str | None = None,
        kinds: Sequence[str] = (),
        contact_id: str | None = None,
        limit: int = 100,
    ) -> Page[Activity]:
        """Activities after the cursor, oldest first. `next_cursor` is always set (the last id seen,
        or the cursor given when nothing is new), so a poller keeps passing it back."""
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
        wanted = parse_kinds(kinds)
        try:
            last = decode_id_cursor(after)
        except Invalid as exc:
            raise Invalid.one("after", exc.errors[0].message) from None
        with self.db.read() as conn:
            if contact_id is not None:
                try:
                    contact_id = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
                except NotFound as exc:
                    raise Invalid.one("contact_id", exc.detail) from None
            found = store.listing(
                conn, workspace_id, after=last, limit=limit, contact_id=contact_id, kinds=wanted
            )
        cursor = encode_id_cursor(found[-1].id) if found else after
        return Page(found, cursor)

    def of_contact(
        self,
        workspace_id: str,
        contact_id: str,
        *,
        after: str | None = None,
        kinds: Sequence[str] = (),
        limit: int = 100,
    ) -> Page[Activity]:
        """One contact's activities (a merged-away id leads to its survivor); NotFound when unknown."""
        with self.db.read() as conn:
            found = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
        return self.list(workspace_id, after=after, kinds=kinds, contact_id=found, limit=limit)
