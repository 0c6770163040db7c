"""Ingest Segment-format messages: dedupe by messageId, resolve the contact, store the event.

One call is one transaction: either every message of the request is stored or none is, and the
call returns only after commit, so a 2xx means the events are on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.accounts import AccountUpdate, parse_account_traits
from nurture.domain.contacts import Contact, IdentityKind
from nurture.domain.errors import FieldError, Invalid, join_path
from nurture.domain.profile import TraitUpdate, normalize_locale, normalize_timezone, parse_traits
from nurture.domain.tracking import Batch, EventTimes, MessageType, TrackingMessage, resolve_times
from nurture.services.accounts import AccountBook
from nurture.services.clock import Clock
from nurture.services.identity import IdentityGraph
from nurture.store import events as event_store
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.sql import lock_keys


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int


class IngestService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def ingest(self, workspace_id: str, batch: Batch) -> IngestResult:
        """Store every new message of the batch in one transaction; known message ids are skipped."""
        received_at = self.clock.now()
        prepared = _prepare(batch, received_at)
        with self.db.write() as conn:
            stored = _Ingest(conn, workspace_id, received_at).run(prepared)
        return IngestResult(len(batch.messages), stored, len(batch.messages) - stored)


@dataclass
class _Prepared:
    """A message with its message id fixed, its times resolved and its traits already validated."""

    message: TrackingMessage
    message_id: str
    times: EventTimes
    email: str | None
    traits: TraitUpdate | None
    account: AccountUpdate | None


def _prepare(batch: Batch, received_at: datetime) -> list[_Prepared]:
    """Validate times and traits and drop repeats of a messageId within the request (before any I/O)."""
    seen: set[str] = set()
    out: list[_Prepared] = []
    errors: list[FieldError] = []
    for index, message in enumerate(batch.messages):
        path = "" if batch.single else f"batch[{index}]"
        message_id = message.messageId or f"nurture-{new_id()}"
        if message_id in seen:
            continue
        seen.add(message_id)
        try:
            times = resolve_times(message, batch.sent_at, received_at)
        except Invalid as exc:
            errors.extend(exc.prefixed(path).errors)
            continue
        traits = account = None
        traits_path = f"{path}.traits" if path else "traits"
        try:
            if message.type is MessageType.IDENTIFY:
                traits = _identify_traits(message, path)
            elif message.type is MessageType.GROUP:
                account = parse_account_traits(message.traits or {}, traits_path)
        except Invalid as exc:
            errors.extend(exc.errors)
            continue
        email = traits.core.get("email") if traits else None
        out.append(_Prepared(message, message_id, times, email, traits, account))
    if errors:
        raise Invalid(errors)
    return out


def _identify_traits(message: TrackingMessage, path: str) -> TraitUpdate | None:
    """Validate every source of an identify's traits (each error names its own field) and merge them."""
    merged: TraitUpdate | None = None
    errors: list[FieldError] = []
    for name, given in message.identify_traits():
        try:
            update = parse_traits(given, join_path(path, name))
        except Invalid as exc:
            errors.extend(exc.errors)
            continue
        if merged is None:
            merged = update
        else:
            merged.core.update(update.core)
            merged.attributes.update(update.attributes)
    if errors:
        raise Invalid(errors)
    return merged


class _Ingest:
    def __init__(self, conn: Connection, workspace_id: str, received_at: datetime) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.received_at = received_at
        self.graph = IdentityGraph(conn, workspace_id, received_at)
        self.accounts = AccountBook(conn, workspace_id, received_at)

    def run(self, prepared: list[_Prepared]) -> int:
        keys = _identity_keys(prepared)
        lock_keys(self.conn, (f"{self.workspace_id}:{kind}:{value}" for kind, value in keys))
        known = event_store.existing_message_ids(
            self.conn, self.workspace_id, (p.message_id for p in prepared)
        )
        fresh = [p for p in prepared if p.message_id not in known]
        if not fresh:
            return 0
        self.graph.prefetch(keys)
        self.accounts.prefetch(p.message.groupId for p in fresh if p.message.groupId)
        pending: list[tuple[dict[str, Any], Contact]] = []
        for item in fresh:
            contact = self._contact_for(item)
            self.graph.seen(contact, min(item.times.timestamp, self.received_at))
            pending.append((self._event_row(item, contact.id, item.times), contact))
        self.graph.flush()
        self.accounts.flush(self.graph.final_id)
        rows = []
        for row, contact in pending:
            row["contact_id"] = self.graph.final_id(contact.id)
            rows.append(row)
        return event_store.insert_events(self.conn, rows)

    def _contact_for(self, item: _Prepared) -> Contact:
        message = item.message
        if message.type is MessageType.ALIAS:
            return self._alias(message)
        contact = self.graph.resolve(
            user_id=message.userId, anonymous_id=message.anonymousId, email=item.email
        )
        if item.traits is not None:
            self.graph.apply(contact, item.traits)
        self._fill_from_context(contact, message.context)
        if item.account is not None and message.groupId:
            self.accounts.group(contact.id, message.groupId, item.account)
        return contact

    def _alias(self, message: TrackingMessage) -> Contact:
        """`alias(previousId → userId)`: the profile known by previousId joins the user's profile."""
        previous_id = message.previousId or ""
        target = self.graph.resolve(user_id=message.userId, anonymous_id=None, email=None)
        source = self.graph.lookup(IdentityKind.USER_ID, previous_id) or self.graph.lookup(
            IdentityKind.ANONYMOUS_ID, previous_id
        )
        if source is None:
            self.graph.attach(target, IdentityKind.ANONYMOUS_ID, previous_id)
        elif source.id != target.id and source.user_id in (None, previous_id):
            self.graph.merge(source, target)
        return target

    def _fill_from_context(self, contact: Contact, context: dict[str, Any] | None) -> None:
        """Take the device's time zone and locale when the profile has none (bad values are ignored)."""
        if not context or (contact.timezone and contact.locale):
            return
        for name, normalize in (("timezone", normalize_timezone), ("locale", normalize_locale)):
            value = context.get(name)
            if getattr(contact, name) is None and isinstance(value, str):
                try:
                    setattr(contact, name, normalize(value))
                except ValueError:
                    continue
                contact.updated_at = self.received_at
                self.graph.touch(contact)

    def _event_row(self, item: _Prepared, contact_id: str, times: EventTimes) -> dict[str, Any]:
        message = item.message
        kind = message.type
        if kind is MessageType.TRACK:
            name, properties = message.event, message.properties
        elif kind in (MessageType.PAGE, MessageType.SCREEN):
            name, properties = message.name, message.properties
        elif kind is MessageType.GROUP:
            name, properties = message.groupId, message.traits
        elif kind is MessageType.ALIAS:
            name, properties = message.previousId, None
        else:
            name, properties = (
                None,
                {k: v for _, given in message.identify_traits() for k, v in given.items()},
            )
        return {
            "workspace_id": self.workspace_id,
            "id": new_id(),
            "contact_id": contact_id,
            "message_id": item.message_id,
            "type": kind.value,
            "name": name,
            "user_id": message.userId,
            "anonymous_id": message.anonymousId,
            "properties": properties or {},
            "context": message.context or {},
            "timestamp": times.timestamp,
            "original_timestamp": times.original_timestamp,
            "sent_at": times.sent_at,
            "received_at": times.received_at,
        }


def _identity_keys(prepared: list[_Prepared]) -> list[tuple[IdentityKind, str]]:
    keys: set[tuple[IdentityKind, str]] = set()
    for item in prepared:
        message = item.message
        if message.userId:
            keys.add((IdentityKind.USER_ID, message.userId))
        if message.anonymousId:
            keys.add((IdentityKind.ANONYMOUS_ID, message.anonymousId))
        if item.email:
            keys.add((IdentityKind.EMAIL, item.email))
        if message.previousId:
            keys.add((IdentityKind.USER_ID, message.previousId))
            keys.add((IdentityKind.ANONYMOUS_ID, message.previousId))
    return sorted(keys)
