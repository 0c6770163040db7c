"""Sales owners: create, read, list, change, and delete those no contact or rule depends on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from nurture.domain.contacts import Page
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.domain.routing import Owner, parse_owner
from nurture.services.clock import Clock
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.store import owners as store
from nurture.store import routing as rule_store
from nurture.store.db import Database
from nurture.store.ids import new_id

MAX_PAGE = 500


class OwnerService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, workspace_id: str, data: Mapping[str, Any]) -> Owner:
        checked = parse_owner(data)
        with self.db.write() as conn:
            if store.by_email(conn, workspace_id, checked.email) is not None:
                raise Conflict(f"an owner with email {checked.email!r} exists already")
            owner = Owner(
                new_id(), checked.name, checked.email, checked.active, checked.attributes, self.clock.now()
            )
            store.insert(conn, workspace_id, owner)
        return owner

    def get(self, workspace_id: str, owner_id: str) -> Owner:
        with self.db.read() as conn:
            return _owner(conn, workspace_id, owner_id)

    def list(
        self, workspace_id: str, *, active: bool | None = None, cursor: str | None = None, limit: int = 50
    ) -> Page[Owner]:
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
        with self.db.read() as conn:
            found = store.listing(
                conn, workspace_id, after=decode_id_cursor(cursor), limit=limit + 1, active=active
            )
        items = found[:limit]
        return Page(items, encode_id_cursor(items[-1].id) if len(found) > limit else None)

    def change(self, workspace_id: str, owner_id: str, data: Mapping[str, Any], *, replace: bool) -> Owner:
        """PATCH: given keys change. PUT (`replace`): the body is the whole owner."""
        with self.db.write() as conn:
            current = _owner(conn, workspace_id, owner_id)
            checked = parse_owner(data, None if replace else current)
            other = store.by_email(conn, workspace_id, checked.email)
            if other is not None and other.id != owner_id:
                raise Conflict(f"an owner with email {checked.email!r} exists already")
            store.change(conn, workspace_id, owner_id, checked)
            return _owner(conn, workspace_id, owner_id)

    def delete(self, workspace_id: str, owner_id: str) -> None:
        """Delete an owner that owns no contact and no rule names; otherwise deactivate it instead."""
        with self.db.write() as conn:
            _owner(conn, workspace_id, owner_id)
            owned = store.owned_count(conn, workspace_id, owner_id)
            if owned:
                raise Conflict(
                    f"owner {owner_id} owns {owned} contact(s): reassign them or set active to false"
                )
            naming = rule_store.rules_naming(conn, workspace_id, owner_id)
            if naming:
                raise Conflict(
                    f"routing rule(s) {', '.join(map(repr, naming))} name owner {owner_id}; change them first"
                )
            store.delete_owner(conn, workspace_id, owner_id)


def _owner(conn: Connection, workspace_id: str, owner_id: str) -> Owner:
    owner = store.get(conn, workspace_id, owner_id)
    if owner is None:
        raise NotFound(f"no owner {owner_id} in this workspace")
    return owner
