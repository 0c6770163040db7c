"""Static lists: create, rename, delete, and put contacts on and off them.

Every membership change is recorded as an activity (journeys trigger on it) and queued for the
audience worker (`membership`, `list:ID`), in the transaction that makes it.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.audiences import MembershipReport, StaticList, check_description, check_name, parse_refs
from nurture.domain.contacts import Page
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.services.audience_refs import existing_contact, resolve
from nurture.services.clock import Clock
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.store import activities
from nurture.store import lists as store
from nurture.store.db import Database
from nurture.store.ids import new_id

MAX_PAGE = 500


@dataclass(frozen=True)
class Member:
    contact_id: str
    added_at: datetime


def change_name(name: str) -> str:
    return f"list:{name}"


def add_contacts(
    conn: Connection, workspace_id: str, list_id: str, contact_ids: Sequence[str], now: datetime, source: str
) -> int:
    """Put contacts on the list in the caller's transaction; returns how many were not on it yet."""
    new = sorted(set(contact_ids) - store.present(conn, workspace_id, list_id, contact_ids))
    store.add(conn, workspace_id, list_id, new, now)
    for contact_id in new:
        activities.record(
            conn, workspace_id, contact_id, ActivityKind.LIST_ADDED, now, list_id, {"source": source}
        )
        activities.enqueue_change(
            conn, workspace_id, contact_id, ChangeKind.MEMBERSHIP, now, change_name(list_id)
        )
    return len(new)


def remove_contacts(
    conn: Connection, workspace_id: str, list_id: str, contact_ids: Sequence[str], now: datetime, source: str
) -> int:
    """Take contacts off the list in the caller's transaction; returns how many were on it."""
    gone = sorted(store.present(conn, workspace_id, list_id, contact_ids))
    store.remove(conn, workspace_id, list_id, gone)
    for contact_id in gone:
        activities.record(
            conn, workspace_id, contact_id, ActivityKind.LIST_REMOVED, now, list_id, {"source": source}
        )
        activities.enqueue_change(
            conn, workspace_id, contact_id, ChangeKind.MEMBERSHIP, now, change_name(list_id)
        )
    return len(gone)


def require_list(
    conn: Connection, workspace_id: str, list_id: str, field: str | None = None, *, lock: bool = False
) -> StaticList:
    """The list, or NotFound (Invalid naming `field` when the id came in a body or option). Writers
    `lock` it: membership changes of one list are serialised, so each is recorded exactly once."""
    found = store.get(conn, workspace_id, list_id, lock=lock)
    if found is None:
        if field is not None:
            raise Invalid.one(field, f"no list {list_id} in this workspace")
        raise NotFound(f"no list {list_id} in this workspace")
    return found


def _page_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
    return limit


class ListService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, workspace_id: str, name: Any, description: Any = None) -> StaticList:
        checked = check_name(name)
        text = check_description(description)
        now = self.clock.now()
        with self.db.write() as conn:
            if store.by_name(conn, workspace_id, checked) is not None:
                raise Conflict(f"a list named {checked!r} exists already")
            item = StaticList(new_id(), checked, text, now, now)
            store.insert(conn, workspace_id, item)
        return item

    def get(self, workspace_id: str, list_id: str) -> StaticList:
        with self.db.read() as conn:
            return require_list(conn, workspace_id, list_id)

    def list(self, workspace_id: str, *, cursor: str | None = None, limit: int = 50) -> Page[StaticList]:
        limit = _page_limit(limit)
        with self.db.read() as conn:
            found = store.listing(conn, workspace_id, after=decode_id_cursor(cursor), limit=limit + 1)
        items = found[:limit]
        return Page(items, encode_id_cursor(items[-1].id) if len(found) > limit else None)

    def change(self, workspace_id: str, list_id: str, changes: dict[str, Any]) -> StaticList:
        """Rename or describe the list (PATCH: only the given keys change)."""
        now = self.clock.now()
        with self.db.write() as conn:
            current = require_list(conn, workspace_id, list_id)
            name = check_name(changes["name"]) if "name" in changes else current.name
            text = (
                check_description(changes["description"]) if "description" in changes else current.description
            )
            other = store.by_name(conn, workspace_id, name)
            if other is not None and other != list_id:
                raise Conflict(f"a list named {name!r} exists already")
            store.change(conn, workspace_id, list_id, name, text, now)
            return require_list(conn, workspace_id, list_id)

    def delete(self, workspace_id: str, list_id: str) -> None:
        """Delete the list; each member's removal is recorded and queued like any other."""
        now = self.clock.now()
        with self.db.write() as conn:
            require_list(conn, workspace_id, list_id, lock=True)
            remove_contacts(
                conn,
                workspace_id,
                list_id,
                store.member_ids(conn, workspace_id, list_id),
                now,
                "list_deleted",
            )
            store.delete_list(conn, workspace_id, list_id)

    def add_members(self, workspace_id: str, list_id: str, items: Sequence[Any]) -> MembershipReport:
        return self._members(workspace_id, list_id, items, add=True)

    def remove_members(self, workspace_id: str, list_id: str, items: Sequence[Any]) -> MembershipReport:
        return self._members(workspace_id, list_id, items, add=False)

    def _members(
        self, workspace_id: str, list_id: str, items: Sequence[Any], *, add: bool
    ) -> MembershipReport:
        refs = parse_refs(items)
        now = self.clock.now()
        with self.db.write() as conn:
            require_list(conn, workspace_id, list_id, lock=True)
            found, missing = resolve(conn, workspace_id, refs)
            ids = sorted(set(found.values()))
            if add:
                changed = add_contacts(conn, workspace_id, list_id, ids, now, "api")
            else:
                changed = remove_contacts(conn, workspace_id, list_id, ids, now, "api")
        return MembershipReport(changed=changed, unchanged=len(ids) - changed, not_found=missing)

    def members(
        self, workspace_id: str, list_id: str, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Member]:
        limit = _page_limit(limit)
        with self.db.read() as conn:
            require_list(conn, workspace_id, list_id)
            found = store.members(
                conn, workspace_id, list_id, after=decode_id_cursor(cursor), limit=limit + 1
            )
        items = [Member(c, t) for c, t in found[:limit]]
        return Page(items, encode_id_cursor(items[-1].contact_id) if len(found) > limit else None)

    def remove_member(self, workspace_id: str, list_id: str, contact_id: str) -> None:
        """Take one contact off the list; NotFound when it is not on it."""
        now = self.clock.now()
        with self.db.write() as conn:
            require_list(conn, workspace_id, list_id, lock=True)
            if not remove_contacts(conn, workspace_id, list_id, [contact_id], now, "api"):
                raise NotFound(f"contact {contact_id} is not on list {list_id}")

    def lists_of(self, workspace_id: str, contact_id: str) -> builtins.list[tuple[StaticList, datetime]]:
        with self.db.read() as conn:
            found = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
            return store.lists_of(conn, workspace_id, found)
