"""Contacts through the admin API: list, read, create, replace, patch, erase, export."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import Activity
from nurture.domain.audiences import StaticList, check_tag
from nurture.domain.contacts import Account, Contact, Event, IdentityKind, Page
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.domain.lifecycle import check_stage
from nurture.domain.messages.consent import ConsentRecord
from nurture.domain.profile import CORE_FIELDS, TraitUpdate, parse_traits
from nurture.domain.subscriptions import Subscription
from nurture.services.clock import Clock
from nurture.services.identity import IdentityGraph, address_hash
from nurture.services.lifecycle import change_stage, stages
from nurture.services.paging import decode_id_cursor, decode_time_cursor, encode_id_cursor, encode_time_cursor
from nurture.services.routing import change_owner
from nurture.store import accounts as account_store
from nurture.store import activities as activity_store
from nurture.store import consents as consent_store
from nurture.store import contacts as store
from nurture.store import events as event_store
from nurture.store import lists as list_store
from nurture.store import segments as segment_store
from nurture.store import subscriptions as subscription_store
from nurture.store import suppressions
from nurture.store import tags as tag_store
from nurture.store.db import Database

MAX_PAGE = 500


@dataclass(frozen=True)
class ContactExport:
    """Everything held on one contact (data-subject access request)."""

    contact: Contact
    identities: list[tuple[str, str]]
    events: list[Event]
    accounts: list[Account]
    merged: list[dict[str, Any]]
    lists: list[tuple[StaticList, datetime]]
    subscriptions: list[Subscription]
    consents: list[ConsentRecord]
    activities: list[Activity]


@dataclass(frozen=True)
class ContactInput:
    """A contact as the API and CSV import give it: core fields, user id and attributes. `managed`
    holds `lifecycle_stage` and `owner_id` when given (None clears): they are written through their
    own paths (services.lifecycle, services.routing), never with the profile row."""

    fields: Mapping[str, Any]
    attributes: Mapping[str, Any] | None = None
    managed: Mapping[str, str | None] = field(default_factory=dict)


def _page_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
    return limit


def _user_id(fields: Mapping[str, Any]) -> str | None:
    value = fields.get("user_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise Invalid.one("user_id", "must be a non-empty string of at most 255 characters")
    return value.strip()


def _core(fields: Mapping[str, Any]) -> TraitUpdate:
    unknown = set(fields) - set(CORE_FIELDS) - {"user_id"}
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid.one(
            name, f"unknown field; core fields are {', '.join(CORE_FIELDS)} (others go in attributes)"
        )
    return parse_traits({k: v for k, v in fields.items() if k != "user_id"}, "")


class ContactService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def list(
        self,
        workspace_id: str,
        *,
        email: str | None = None,
        user_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        search: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        tag: str | None = None,
        lifecycle_stage: str | None = None,
        owner_id: str | None = None,
    ) -> Page[Contact]:
        limit = _page_limit(limit)
        with self.db.read() as conn:
            if lifecycle_stage is not None:
                check_stage(lifecycle_stage, stages(conn, workspace_id))
            found = store.list_contacts(
                conn,
                workspace_id,
                email=email.strip().lower() if email else None,
                user_id=user_id,
                attributes=attributes or {},
                search=search,
                after=decode_id_cursor(cursor),
                limit=limit + 1,
                tag=check_tag(tag) if tag is not None else None,
                lifecycle_stage=lifecycle_stage,
                owner_id=owner_id,
            )
            self._decorate(conn, workspace_id, found[:limit])
        items = found[:limit]
        return Page(items, encode_id_cursor(items[-1].id) if len(found) > limit else None)

    def get(self, workspace_id: str, contact_id: str) -> Contact:
        """The contact; an id that was merged away leads to the contact it was merged into."""
        with self.db.read() as conn:
            contact = self._get(conn, workspace_id, contact_id, follow_merges=True)
            self._decorate(conn, workspace_id, [contact])
            return contact

    def events(
        self, workspace_id: str, contact_id: str, *, cursor: str | None, limit: int = 50
    ) -> Page[Event]:
        limit = _page_limit(limit)
        with self.db.read() as conn:
            contact = self._get(conn, workspace_id, contact_id, follow_merges=True)
            found = event_store.list_events(
                conn, workspace_id, contact.id, before=decode_time_cursor(cursor), limit=limit + 1
            )
        items = found[:limit]
        more = len(found) > limit
        return Page(items, encode_time_cursor(items[-1].timestamp, items[-1].id) if more else None)

    def create(self, workspace_id: str, data: ContactInput) -> Contact:
        """A new contact; 409 when its user id or email already finds one."""
        update = _core(data.fields)
        user_id = _user_id(data.fields)
        update.attributes = dict(data.attributes or {})
        now = self.clock.now()
        with self.db.write() as conn:
            graph = IdentityGraph(conn, workspace_id, now)
            email = update.core.get("email")
            for kind, value in ((IdentityKind.USER_ID, user_id), (IdentityKind.EMAIL, email)):
                if value is not None and (existing := graph.lookup(kind, value)) is not None:
                    raise Conflict(f"contact {existing.id} already has {kind.value} {value!r}")
            contact = graph.create()
            if user_id:
                graph.attach(contact, IdentityKind.USER_ID, user_id)
            graph.apply(contact, update)
            graph.flush()
            self._managed(conn, workspace_id, contact, data.managed, now)
            self._decorate(conn, workspace_id, [contact])
        return contact

    def change(self, workspace_id: str, contact_id: str, data: ContactInput, *, replace: bool) -> Contact:
        """PATCH: given fields change, null unsets, attributes merge. PUT (`replace`): the body is the
        whole profile, so anything it leaves out is cleared. The user id can be set once, not changed.
        An id that was merged away changes the contact it was merged into, as GET reads it."""
        update = _core(data.fields)
        user_id = _user_id(data.fields)
        now = self.clock.now()
        with self.db.write() as conn:
            graph = IdentityGraph(conn, workspace_id, now)
            contact_id = self._get(conn, workspace_id, contact_id, follow_merges=True).id
            contact = graph.load([contact_id])[contact_id]
            if user_id is not None and user_id != contact.user_id:
                if contact.user_id is not None:
                    raise Invalid.one("user_id", f"is {contact.user_id!r} and cannot be changed")
                if not graph.attach(contact, IdentityKind.USER_ID, user_id):
                    raise Conflict(f"another contact already has user_id {user_id!r}")
                graph.touch(contact)
            new_email = update.core.get("email")
            if new_email and new_email != contact.email:
                owner = graph.lookup(IdentityKind.EMAIL, new_email)
                if owner is not None and owner.id != contact.id:
                    raise Conflict(f"contact {owner.id} already has email {new_email!r}")
            if replace:
                core = {name: update.core.get(name) for name in CORE_FIELDS}
                graph.replace(contact, core, dict(data.attributes or {}))
            else:
                update.attributes = dict(data.attributes or {})
                graph.apply(contact, update)
            graph.flush()
            self._managed(conn, workspace_id, contact, data.managed, now)
            self._decorate(conn, workspace_id, [contact])
        return contact

    def erase(self, workspace_id: str, contact_id: str) -> None:
        """Delete the contact, its events and personal data; keep its addresses hashed on the
        suppression list so a later import cannot silently make it reachable again. An id that was
        merged away erases the person it became (it is the same person)."""
        now = self.clock.now()
        with self.db.write() as conn:
            contact = self._get(conn, workspace_id, contact_id, follow_merges=True)
            segment_store.lock_contacts(conn, workspace_id, [contact.id])  # not while the worker has it
            identities = store.identities_of(conn, workspace_id, [contact.id]).get(contact.id, [])
            emails = {value for kind, value in identities if kind == IdentityKind.EMAIL}
            if contact.email:
                emails.add(contact.email)
            for email in sorted(emails):
                suppressions.add(conn, workspace_id, "email", address_hash(email), "erased", now)
            if contact.phone:
                suppressions.add(conn, workspace_id, "sms", address_hash(contact.phone), "erased", now)
            store.delete_contact_rows(conn, workspace_id, contact.id)

    def export(self, workspace_id: str, contact_id: str) -> ContactExport:
        with self.db.read() as conn:
            contact = self._get(conn, workspace_id, contact_id, follow_merges=True)
            self._decorate(conn, workspace_id, [contact])
            return ContactExport(
                contact=contact,
                identities=store.identities_of(conn, workspace_id, [contact.id]).get(contact.id, []),
                events=event_store.all_events(conn, workspace_id, contact.id),
                accounts=account_store.accounts_of(conn, workspace_id, contact.id),
                merged=store.merges_into(conn, workspace_id, contact.id),
                lists=list_store.lists_of(conn, workspace_id, contact.id),
                subscriptions=subscription_store.of_contact(conn, workspace_id, contact.id),
                consents=consent_store.of_contact(conn, workspace_id, contact.id),
                activities=_all_activities(conn, workspace_id, contact.id),
            )

    @staticmethod
    def _get(conn: Connection, workspace_id: str, contact_id: str, *, follow_merges: bool) -> Contact:
        found = store.load_contacts(conn, workspace_id, [contact_id]).get(contact_id)
        if found is None and follow_merges:
            into = store.merged_into(conn, workspace_id, contact_id)
            if into is not None:
                found = store.load_contacts(conn, workspace_id, [into]).get(into)
        if found is None:
            raise NotFound(f"no contact {contact_id} in this workspace")
        return found

    @staticmethod
    def _managed(
        conn: Connection,
        workspace_id: str,
        contact: Contact,
        managed: Mapping[str, str | None],
        now: datetime,
    ) -> None:
        """Stage and owner through their one write path each (activities, queued changes, routing)."""
        if "lifecycle_stage" in managed:
            change_stage(conn, workspace_id, contact.id, managed["lifecycle_stage"], now, {"source": "api"})
        if "owner_id" in managed:
            change_owner(conn, workspace_id, contact.id, managed["owner_id"], now)
        fresh = store.load_contacts(conn, workspace_id, [contact.id], {}).get(contact.id)
        if fresh is not None:
            contact.lifecycle_stage, contact.owner_id = fresh.lifecycle_stage, fresh.owner_id

    @classmethod
    def _decorate(cls, conn: Connection, workspace_id: str, found: builtins.list[Contact]) -> None:
        """Suppression flags and tags, for contacts about to be shown."""
        cls._mark_suppressed(conn, workspace_id, found)
        tags = tag_store.tags_of(conn, workspace_id, [c.id for c in found])
        for contact in found:
            contact.tags = tags.get(contact.id, [])

    @staticmethod
    def _mark_suppressed(conn: Connection, workspace_id: str, found: builtins.list[Contact]) -> None:
        hashes = {c.id: address_hash(c.email) for c in found if c.email}
        hit = suppressions.suppressed(conn, workspace_id, "email", hashes.values())
        for contact in found:
            contact.suppressed = hashes.get(contact.id) in hit


def _all_activities(conn: Connection, workspace_id: str, contact_id: str) -> list[Activity]:
    out: list[Activity] = []
    while True:
        page = activity_store.listing(
            conn, workspace_id, after=out[-1].id if out else None, limit=1000, contact_id=contact_id
        )
        out.extend(page)
        if len(page) < 1000:
            return out
