"""Identity resolution inside one write transaction: find, create and merge contacts, in batches.

Lookups are prefetched for a whole batch, changes are kept in memory and written at `flush()` in a
few statements. A merge moves the stored rows of the merged contact at once, so events written
later in the same transaction land on the surviving contact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ChangeKind
from nurture.domain.catalog import Entry, EntryKind
from nurture.domain.contacts import Contact, IdentityKind
from nurture.domain.profile import CORE_FIELDS, TraitUpdate, apply_attributes
from nurture.services import audience_interest, catalog
from nurture.services.catalog import attribute_entries
from nurture.store import activities as change_queue
from nurture.store import contacts as store
from nurture.store.ids import new_id

Key = tuple[IdentityKind, str]


def address_hash(address: str) -> str:
    """How an address (email or phone) is kept on the suppression list: SHA-256 of its normal form."""
    return hashlib.sha256(address.encode()).hexdigest()


class IdentityGraph:
    """The contacts one transaction touches, keyed by the identities that find them."""

    def __init__(self, conn: Connection, workspace_id: str, now: datetime) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.now = now
        self._owner: dict[Key, str | None] = {}
        self._contacts: dict[str, Contact] = {}
        self._merged: dict[str, str] = {}
        self._new: set[str] = set()
        self._dirty: set[str] = set()
        self._seen: dict[str, datetime] = {}  # stored contacts whose last_seen_at moves forward
        self._new_identities: dict[Key, str] = {}
        self._catalog: set[Entry] = set()  # attributes written, for the data catalog
        # what changed about whom, for the audience worker: (contact id, kind, name), in order
        self._changes: dict[tuple[str, ChangeKind, str | None], None] = {}

    # reading

    def prefetch(self, keys: Iterable[Key]) -> None:
        """Load every contact that any of `keys` finds: one query for the identities (theirs and
        their contacts' others), one for the contacts."""
        wanted = {key for key in keys if key not in self._owner}
        if not wanted:
            return
        found, identities = store.find_owners(self.conn, self.workspace_id, wanted)
        found_ids: set[str] = set()
        for key in wanted:
            owner = found.get(key)
            self._owner[key] = owner
            if owner is not None:
                found_ids.add(owner)
        missing = found_ids - self._contacts.keys()
        if missing:
            self._contacts.update(
                store.load_contacts(self.conn, self.workspace_id, missing, identities, lock=True)
            )

    def load(self, contact_ids: Iterable[str]) -> dict[str, Contact]:
        missing = [c for c in contact_ids if c not in self._contacts]
        if missing:
            self._contacts.update(store.load_contacts(self.conn, self.workspace_id, missing, lock=True))
        return {c: self._contacts[c] for c in contact_ids if c in self._contacts}

    def lookup(self, kind: IdentityKind, value: str) -> Contact | None:
        key = (kind, value)
        if key not in self._owner:
            self.prefetch([key])
        owner = self._owner[key]
        return None if owner is None else self._contacts[self.final_id(owner)]

    def final_id(self, contact_id: str) -> str:
        """Follow merges made in this transaction to the surviving contact."""
        while contact_id in self._merged:
            contact_id = self._merged[contact_id]
        return contact_id

    # changing

    def create(self) -> Contact:
        contact = Contact(
            id=new_id(),
            email=None,
            phone=None,
            first_name=None,
            last_name=None,
            timezone=None,
            locale=None,
            attributes={},
            created_at=self.now,
            updated_at=self.now,
            last_seen_at=None,
        )
        self._contacts[contact.id] = contact
        self._new.add(contact.id)
        self._changes[(contact.id, ChangeKind.PROFILE, None)] = None  # new: every segment may apply
        return contact

    def attach(self, contact: Contact, kind: IdentityKind, value: str) -> bool:
        """Make `value` find `contact`; False when it already finds another contact."""
        if (kind, value) not in self._owner:
            self.prefetch([(kind, value)])  # a stored owner must win: the insert would be ignored
        owner = self._owner[(kind, value)]
        if owner is not None:
            return self.final_id(owner) == contact.id
        self._owner[(kind, value)] = contact.id
        self._new_identities[(kind, value)] = contact.id
        if kind is IdentityKind.USER_ID:
            contact.user_id = value
        elif kind is IdentityKind.ANONYMOUS_ID:
            contact.anonymous_ids.append(value)
        return True

    def detach(self, contact: Contact, kind: IdentityKind, value: str) -> None:
        """Stop `value` finding `contact` (if it does)."""
        key = (kind, value)
        if self._new_identities.get(key) == contact.id:
            del self._new_identities[key]
        else:
            store.delete_identity(self.conn, self.workspace_id, kind, value, contact.id)
        owner = self._owner.get(key)
        if owner is not None and self.final_id(owner) == contact.id:
            self._owner[key] = None

    def resolve(self, *, user_id: str | None, anonymous_id: str | None, email: str | None) -> Contact:
        """The contact these identities describe, merging an anonymous profile into a known one and
        creating a contact when none matches. A contact known by another user id is never merged."""
        by_user = self.lookup(IdentityKind.USER_ID, user_id) if user_id else None
        by_email = self.lookup(IdentityKind.EMAIL, email) if email else None
        by_anon = self.lookup(IdentityKind.ANONYMOUS_ID, anonymous_id) if anonymous_id else None

        def fits(candidate: Contact | None) -> Contact | None:
            if candidate is None or (user_id and candidate.user_id not in (None, user_id)):
                return None
            return candidate

        primary = by_user or fits(by_email) or fits(by_anon) or self.create()
        for other in (fits(by_email), fits(by_anon)):
            # email and anonymous id may find the same profile: it is merged once
            if other is not None and other.id not in (primary.id, *self._merged) and other.user_id is None:
                self.merge(other, primary)
        if user_id and primary.user_id is None:
            self.attach(primary, IdentityKind.USER_ID, user_id)
        if anonymous_id and by_anon is None:
            self.attach(primary, IdentityKind.ANONYMOUS_ID, anonymous_id)
        return primary

    def merge(self, source: Contact, target: Contact) -> None:
        """Fold `source` into `target`: target's values win, source fills the gaps; rows move."""
        for name, value in source.core().items():
            if getattr(target, name) is None and value is not None:
                setattr(target, name, value)
        target.attributes = {**source.attributes, **target.attributes}
        target.created_at = min(target.created_at, source.created_at)
        if source.last_seen_at is not None:
            self.seen(target, source.last_seen_at)
        target.anonymous_ids.extend(source.anonymous_ids)
        target.user_id = target.user_id or source.user_id
        target.updated_at = self.now
        self._dirty.add(target.id)
        for key, owner in self._new_identities.items():
            if owner == source.id:
                self._new_identities[key] = target.id
        if source.id in self._new:
            self._new.discard(source.id)
        else:
            store.move_contact_rows(self.conn, self.workspace_id, source.id, target.id, self.now)
            self._changes[(target.id, ChangeKind.MERGE, source.id)] = None
        self._dirty.discard(source.id)
        self._merged[source.id] = target.id
        del self._contacts[source.id]

    def apply(self, contact: Contact, update: TraitUpdate) -> bool:
        """Apply validated traits; returns whether anything changed. The email identity follows the
        email field; when the new address already finds another known contact, only the field changes."""
        changed = False
        for name, value in update.core.items():
            old = getattr(contact, name)
            if old == value:
                continue
            if name == "email":
                self._move_email(contact, old, value)
            setattr(contact, name, value)
            self.changed(contact, name)
            changed = True
        if update.attributes:
            self._catalog |= attribute_entries(EntryKind.ATTRIBUTE, update.attributes)
            merged = apply_attributes(contact.attributes, update.attributes)
            if merged != contact.attributes:
                self._attributes_changed(contact, merged)
                contact.attributes = merged
                changed = True
        if changed:
            contact.updated_at = self.now
            self.touch(contact)
        return changed

    def replace(self, contact: Contact, core: dict[str, str | None], attributes: dict[str, Any]) -> bool:
        """Set every core field and the whole attribute set (PUT semantics)."""
        update = TraitUpdate(core={name: core.get(name) for name in CORE_FIELDS})
        changed = self.apply(contact, update)
        if attributes != contact.attributes:
            self._catalog |= attribute_entries(EntryKind.ATTRIBUTE, attributes)
            self._attributes_changed(contact, attributes)
            contact.attributes = dict(attributes)
            contact.updated_at = self.now
            self.touch(contact)
            changed = True
        return changed

    def _move_email(self, contact: Contact, old: str | None, new: str | None) -> None:
        if old is not None:
            self.detach(contact, IdentityKind.EMAIL, old)
        # An address that already finds another contact stays with it; only the field changes here.
        if new is not None and self.lookup(IdentityKind.EMAIL, new) is None:
            self.attach(contact, IdentityKind.EMAIL, new)

    def changed(self, contact: Contact, field: str) -> None:
        """Note that a field (`email`, `attributes.plan`, `account`, ...) of the contact changed, so the
        audience worker re-evaluates the segments that read it."""
        self._changes[(contact.id, ChangeKind.PROFILE, field)] = None

    def _attributes_changed(self, contact: Contact, new: dict[str, Any]) -> None:
        old = contact.attributes
        for key in sorted(old.keys() | new.keys()):
            if key not in old or key not in new or old[key] != new[key]:
                self.changed(contact, f"attributes.{key}")

    def take_changes(self) -> list[dict[str, Any]]:
        """The queued-change rows of everything noted so far (merged contacts' under their survivor)."""
        rows: dict[tuple[str, ChangeKind, str | None], dict[str, Any]] = {}
        for contact_id, kind, name in self._changes:
            final = self.final_id(contact_id)
            key = (final, kind, name)
            if key not in rows and not (kind is ChangeKind.MERGE and name == final):
                rows[key] = change_queue.change_row(self.workspace_id, final, kind, self.now, name)
        self._changes.clear()
        return list(rows.values())

    def is_new(self, contact: Contact) -> bool:
        """Whether the contact was created in this transaction (and is not yet written)."""
        return contact.id in self._new

    def touch(self, contact: Contact) -> None:
        if contact.id not in self._new:
            self._dirty.add(contact.id)

    def seen(self, contact: Contact, at: datetime) -> None:
        """The contact was active at `at`: `last_seen_at` moves forward (only that column is written)."""
        if contact.last_seen_at is None or at > contact.last_seen_at:
            contact.last_seen_at = at
            if contact.id not in self._new:
                self._seen[contact.id] = at

    def flush(self, *, queue_changes: bool = True) -> None:
        """Write new contacts, changed contacts and new identities, and (unless the caller takes them
        itself with `take_changes`) queue what changed for the audience worker."""
        store.insert_contacts(self.conn, self.workspace_id, [self._contacts[c] for c in sorted(self._new)])
        store.update_contacts(
            self.conn, self.workspace_id, [self._contacts[c] for c in self._dirty if c in self._contacts]
        )
        store.advance_last_seen(
            self.conn, self.workspace_id, {c: at for c, at in self._seen.items() if c in self._contacts}
        )
        store.insert_identities(
            self.conn,
            [
                {
                    "workspace_id": self.workspace_id,
                    "kind": kind.value,
                    "value": value,
                    "contact_id": self.final_id(owner),
                    "created_at": self.now,
                }
                for (kind, value), owner in self._new_identities.items()
            ],
        )
        catalog.record(self.conn, self.workspace_id, self._catalog, self.now)
        self._new.clear()
        self._dirty.clear()
        self._seen.clear()
        self._new_identities.clear()
        self._catalog.clear()
        if queue_changes:
            audience_interest.enqueue(self.conn, self.workspace_id, self.take_changes())
