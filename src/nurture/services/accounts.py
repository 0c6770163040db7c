"""Accounts (companies, Segment `group`): upserted from group calls and managed through the API."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.accounts import AccountUpdate, parse_account_traits
from nurture.domain.activities import ChangeKind
from nurture.domain.audience import Change
from nurture.domain.catalog import Entry, EntryKind
from nurture.domain.contacts import Account, Page
from nurture.domain.errors import Conflict, NotFound
from nurture.domain.profile import apply_attributes
from nurture.services import audience_interest, catalog
from nurture.services.catalog import attribute_entries
from nurture.services.clock import Clock
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.store import accounts as store
from nurture.store.activities import change_row, enqueue_changes
from nurture.store.db import Database
from nurture.store.ids import new_id


def _apply(account: Account, update: AccountUpdate, now: datetime) -> bool:
    before = (account.name, account.domain, account.attributes)
    if update.name is not None:
        account.name = update.name
    if update.domain is not None:
        account.domain = update.domain
    for name in update.unset:
        setattr(account, name, None)
    account.attributes = apply_attributes(account.attributes, update.attributes)
    changed = before != (account.name, account.domain, account.attributes)
    if changed:
        account.updated_at = now
    return changed


def _new_account(group_id: str, now: datetime) -> Account:
    return Account(new_id(), group_id, None, None, {}, now, now)


def members_changed(conn: Connection, workspace_id: str, account_ids: Iterable[str], now: datetime) -> None:
    """Queue an `account` profile change for every contact of these accounts (their account
    conditions may answer differently now), when some segment or scoring rule reads accounts."""
    account_ids = list(account_ids)
    if not account_ids:
        return
    if not audience_interest.interest(conn, workspace_id).wants(Change(ChangeKind.PROFILE, "account")):
        return
    rows = [
        change_row(workspace_id, contact_id, ChangeKind.PROFILE, now, "account")
        for account_id in account_ids
        for contact_id in store.member_ids(conn, workspace_id, account_id)
    ]
    enqueue_changes(conn, rows)


class AccountBook:
    """Accounts touched by one ingest transaction: group calls upsert them and link the contact."""

    def __init__(self, conn: Connection, workspace_id: str, now: datetime) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.now = now
        self._by_group: dict[str, Account] = {}
        self._new: set[str] = set()
        self._dirty: set[str] = set()
        self._members: set[tuple[str, str]] = set()
        self._catalog: set[Entry] = set()  # attributes written, for the data catalog

    def prefetch(self, group_ids: Iterable[str]) -> None:
        wanted = set(group_ids) - self._by_group.keys()
        if wanted:
            self._by_group.update(store.by_group_ids(self.conn, self.workspace_id, wanted))

    def group(self, contact_id: str, group_id: str, update: AccountUpdate) -> None:
        self.prefetch([group_id])
        account = self._by_group.get(group_id)
        if account is None:
            account = self._by_group[group_id] = _new_account(group_id, self.now)
            self._new.add(group_id)
        if update.attributes:
            self._catalog |= attribute_entries(EntryKind.ACCOUNT_ATTRIBUTE, update.attributes)
        if _apply(account, update, self.now) and group_id not in self._new:
            self._dirty.add(group_id)
        self._members.add((account.id, contact_id))

    def flush(self, final_id: Callable[[str], str]) -> None:
        """Write accounts and memberships; `final_id` maps a contact to the one it was merged into."""
        store.insert_accounts(self.conn, self.workspace_id, [self._by_group[g] for g in sorted(self._new)])
        changed = [self._by_group[g] for g in sorted(self._dirty)]
        store.update_accounts(self.conn, self.workspace_id, changed)
        members_changed(self.conn, self.workspace_id, [a.id for a in changed], self.now)
        store.add_members(
            self.conn,
            [
                {"workspace_id": self.workspace_id, "account_id": a, "contact_id": c, "created_at": self.now}
                for a, c in sorted({(a, final_id(c)) for a, c in self._members})
            ],
        )
        catalog.record(self.conn, self.workspace_id, self._catalog, self.now)
        self._new.clear()
        self._dirty.clear()
        self._members.clear()
        self._catalog.clear()


class AccountService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def list(
        self,
        workspace_id: str,
        *,
        group_id: str | None = None,
        domain: str | None = None,
        search: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[Account]:
        with self.db.read() as conn:
            found = store.list_accounts(
                conn,
                workspace_id,
                group_id=group_id,
                domain=domain,
                search=search,
                after=decode_id_cursor(cursor),
                limit=limit + 1,
            )
        more = len(found) > limit
        items = found[:limit]
        return Page(items, encode_id_cursor(items[-1].id) if more and items else None)

    def get(self, workspace_id: str, account_id: str) -> Account:
        with self.db.read() as conn:
            return self._get(conn, workspace_id, account_id)

    def members(self, workspace_id: str, account_id: str) -> builtins.list[str]:
        with self.db.read() as conn:
            self._get(conn, workspace_id, account_id)
            return store.member_ids(conn, workspace_id, account_id)

    def create(self, workspace_id: str, group_id: str, traits: Mapping[str, Any]) -> Account:
        update = parse_account_traits(traits, "")
        now = self.clock.now()
        with self.db.write() as conn:
            if store.by_group_ids(conn, workspace_id, [group_id]):
                raise Conflict(f"an account with group_id {group_id!r} exists already")
            account = _new_account(group_id, now)
            _apply(account, update, now)
            store.insert_accounts(conn, workspace_id, [account])
        return account

    def change(
        self, workspace_id: str, account_id: str, traits: Mapping[str, Any], *, replace: bool
    ) -> Account:
        """PATCH merges traits (null unsets); PUT (`replace`) sets name, domain and attributes whole."""
        update = parse_account_traits(traits, "")
        now = self.clock.now()
        with self.db.write() as conn:
            account = self._get(conn, workspace_id, account_id)
            if replace:
                account.name = account.domain = None
                account.attributes = {}
            _apply(account, update, now)
            account.updated_at = now
            store.update_accounts(conn, workspace_id, [account])
            members_changed(conn, workspace_id, [account.id], now)
        return account

    def delete(self, workspace_id: str, account_id: str) -> None:
        with self.db.write() as conn:
            self._get(conn, workspace_id, account_id)
            members_changed(conn, workspace_id, [account_id], self.clock.now())
            store.delete_account(conn, workspace_id, account_id)

    @staticmethod
    def _get(conn: Connection, workspace_id: str, account_id: str) -> Account:
        account = store.get(conn, workspace_id, account_id)
        if account is None:
            raise NotFound(f"no account {account_id} in this workspace")
        return account
