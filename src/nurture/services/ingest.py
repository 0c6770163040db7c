"""Ingest Segment-format messages: dedupe by messageId, resolve the contact, store the event.

One call is one transaction: either every message of the request is stored or none is, and the
call returns only after commit, so a 2xx means the events are on disk. `submit` lets concurrent
requests share a transaction (group commit); each still gets the outcome it would have had alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection

from nurture.domain.accounts import AccountUpdate, parse_account_traits
from nurture.domain.activities import ChangeKind
from nurture.domain.audience import Change
from nurture.domain.catalog import Entry
from nurture.domain.contacts import Contact, IdentityKind
from nurture.domain.errors import FieldError, Invalid, join_path
from nurture.domain.profile import TraitUpdate, normalize_locale, normalize_timezone, parse_traits
from nurture.domain.tracking import Batch, EventTimes, MessageType, TrackingMessage, resolve_times
from nurture.services import audience_interest, catalog
from nurture.services.accounts import AccountBook
from nurture.services.catalog import event_entries
from nurture.services.clock import Clock
from nurture.services.group_commit import GroupCommitter
from nurture.services.identity import IdentityGraph
from nurture.store import audience_versions
from nurture.store import events as event_store
from nurture.store.activities import change_row, enqueue_changes
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.sql import lock_keys


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int


# Most events one shared transaction carries (a full /v1/batch holds a few hundred), and how many
# must be waiting before a second transaction starts beside one in flight.
MAX_GROUP_EVENTS = 2000
OVERLAP_EVENTS = 200
# Transactions in flight per process, at most: SQLite writes one at a time; PostgreSQL overlaps the
# round trips of one transaction with the work of another.
WRITERS = {"sqlite": 1, "postgresql": 4}


class IngestService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        # called after a commit that stored events (the embedded worker wakes up instead of polling)
        self.on_commit: Callable[[], None] | None = None
        self._group: GroupCommitter[_Request, IngestResult] = GroupCommitter(
            self.store,
            lambda request: len(request.items),
            max_weight=MAX_GROUP_EVENTS,
            overlap_weight=OVERLAP_EVENTS,
            writers=WRITERS.get(db.dialect, 1),
            name="nurture-ingest",
        )

    def ingest(self, workspace_id: str, batch: Batch) -> IngestResult:
        """Store every new message of the batch in one transaction; known message ids are skipped."""
        result = self.store([self._request(workspace_id, batch)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def submit(self, workspace_id: str, batch: Batch) -> Future[IngestResult]:
        """Like `ingest`, but the batch may share its transaction with other concurrent requests.
        Invalid messages raise here, before anything is queued; the future resolves after commit."""
        return self._group.submit(self._request(workspace_id, batch))

    def close(self) -> None:
        """Store what was submitted and stop the group-commit thread."""
        self._group.close()

    def store(self, requests: Sequence[_Request]) -> list[IngestResult | Exception]:
        """Store requests in one transaction, in order, as if one after the other. If that fails and
        there are several, each is stored alone, so one request's failure is only its own."""
        results, queued = self._store(requests)
        if self.on_commit is not None and queued:
            self.on_commit()
        return results

    def _store(self, requests: Sequence[_Request]) -> tuple[list[IngestResult | Exception], int]:
        """The results, and how many changes were queued for the audience worker. Events go in by
        COPY on PostgreSQL, which fails on a message id a concurrent transaction has just stored;
        the retries, one request at a time, skip such ids instead."""
        copy = self.db.is_postgres
        try:
            stored, queued = self._store_together(requests, copy=copy)
            return list(stored), queued
        except Exception as exc:
            if len(requests) == 1 and not copy:
                return [exc], 0
        results: list[IngestResult | Exception] = []
        queued = 0
        for request in requests:
            try:
                stored, count = self._store_together([request], copy=False)
            except Exception as exc:
                results.append(exc)
            else:
                results.extend(stored)
                queued += count
        return results, queued

    def _request(self, workspace_id: str, batch: Batch) -> _Request:
        received_at = self.clock.now()
        items = _prepare(batch, received_at)
        for item in items:
            # built before the transaction, which then only fills in the contact
            item.row = _event_row(workspace_id, item)
        return _Request(workspace_id, received_at, len(batch.messages), items)

    def _store_together(self, requests: Sequence[_Request], *, copy: bool) -> tuple[list[IngestResult], int]:
        stored: dict[int, int] = {}
        queued = 0
        with self.db.write() as conn:
            # one workspace after another, in id order, so concurrent transactions lock in one order
            order = sorted(range(len(requests)), key=lambda i: requests[i].workspace_id)
            for workspace_id, indexes in groupby(order, key=lambda i: requests[i].workspace_id):
                part = list(indexes)
                run = _Ingest(conn, workspace_id, requests[part[0]].received_at, copy=copy)
                counts = run.run([requests[i] for i in part])
                stored.update(zip(part, counts, strict=True))
                queued += run.queued
        results = [
            IngestResult(request.received, stored[i], request.received - stored[i])
            for i, request in enumerate(requests)
        ]
        return results, queued


@dataclass
class _Prepared:
    """A message with its message id fixed, its times resolved and its traits already validated."""

    message: TrackingMessage
    message_id: str
    times: EventTimes
    email: str | None
    traits: TraitUpdate | None
    account: AccountUpdate | None
    row: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Request:
    """One API request, validated and ready to store."""

    workspace_id: str
    received_at: datetime
    received: int
    items: list[_Prepared]


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
    def __init__(self, conn: Connection, workspace_id: str, received_at: datetime, *, copy: bool) -> None:
        self.conn = conn
        self.copy = copy
        self.workspace_id = workspace_id
        self.received_at = received_at
        self.graph = IdentityGraph(conn, workspace_id, received_at)
        self.accounts = AccountBook(conn, workspace_id, received_at)
        self.queued = 0  # changes queued for the audience worker

    def run(self, requests: Sequence[_Request]) -> list[int]:
        """Store the requests of one workspace in order; returns how many new events each had."""
        prepared = [item for request in requests for item in request.items]
        keys = _identity_keys(prepared)
        lock_keys(
            self.conn,
            (f"{self.workspace_id}:{kind}:{value}" for kind, value in keys),
            then_shared=[audience_versions.lock_key(self.workspace_id)],
        )
        known, version = event_store.existing_message_ids_and_version(
            self.conn, self.workspace_id, (p.message_id for p in prepared)
        )
        fresh_by_request: list[list[_Prepared]] = []
        for request in requests:
            fresh = []
            for item in request.items:
                if item.message_id not in known:
                    known.add(item.message_id)  # a later request repeating it holds a duplicate
                    fresh.append(item)
            fresh_by_request.append(fresh)
        if not any(fresh_by_request):
            return [0] * len(requests)
        wanted = audience_interest.at_version(self.conn, self.workspace_id, version)
        self.graph.prefetch(keys)
        self.accounts.prefetch(p.message.groupId for f in fresh_by_request for p in f if p.message.groupId)
        pending: list[tuple[dict[str, Any], Contact]] = []
        for request, fresh in zip(requests, fresh_by_request, strict=True):
            self._received(request.received_at)
            for item in fresh:
                contact = self._contact_for(item)
                self.graph.seen(contact, min(item.times.timestamp, self.received_at))
                pending.append((item.row, contact))
        self.graph.flush(queue_changes=False)
        self.accounts.flush(self.graph.final_id)
        rows = []
        for row, contact in pending:
            row["contact_id"] = self.graph.final_id(contact.id)
            rows.append(row)
        stored = event_store.insert_events(self.conn, rows, copy=self.copy)
        written: set[Entry] = set()
        for row in rows:
            if row["type"] == "track":
                written |= event_entries(row["name"], row["properties"])
        catalog.record(self.conn, self.workspace_id, written, self.received_at)
        # the audience worker's queue, in one go: the profile changes and one row per (contact, event
        # name) that a segment or scoring model reads
        changes = [c for c in self.graph.take_changes() if wanted.wants(Change(c["kind"], c["name"]))]
        # conditions need the latest event of each name; journeys need every event they trigger on or
        # wait for (two carts in one request are two runs), in the order they happened
        each = wanted.journeys.event_names if wanted.journeys is not None else frozenset()
        seen: set[tuple[str, str | None]] = set()
        picked: list[tuple[tuple[str, str | None], str]] = []
        for row in reversed(rows):
            track = row["type"] == MessageType.TRACK.value
            key = (row["contact_id"], row["name"] if track else None)
            if (key in seen and not (track and row["name"] in each)) or not wanted.wants_event(
                row["type"], row["name"]
            ):
                continue
            seen.add(key)
            picked.append((key, row["id"]))
        for (contact_id, name), event_id in reversed(picked):  # queue ids ascend with the events
            changes.append(
                change_row(self.workspace_id, contact_id, ChangeKind.EVENT, self.received_at, name, event_id)
            )
        enqueue_changes(self.conn, changes)
        self.queued = len(changes)
        if len(requests) == 1:
            return [stored]
        return [len(fresh) for fresh in fresh_by_request]

    def _received(self, at: datetime) -> None:
        """Changes made for the next request carry its own time of arrival."""
        self.received_at = self.graph.now = self.accounts.now = at

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
            self.graph.changed(contact, "account")
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
                self.graph.changed(contact, name)
                contact.updated_at = self.received_at
                self.graph.touch(contact)


def _event_row(workspace_id: str, item: _Prepared) -> dict[str, Any]:
    """The event's row; its contact is filled in once identities are resolved."""
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
        "workspace_id": workspace_id,
        "id": new_id(),
        "contact_id": None,
        "message_id": item.message_id,
        "type": kind.value,
        "name": name,
        "user_id": message.userId,
        "anonymous_id": message.anonymousId,
        "properties": properties or {},
        "context": message.context or {},
        "timestamp": item.times.timestamp,
        "original_timestamp": item.times.original_timestamp,
        "sent_at": item.times.sent_at,
        "received_at": item.times.received_at,
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
