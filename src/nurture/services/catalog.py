"""The data catalog: recorded as data is written, read when conditions are saved.

Writers call `record` inside their transaction with what they wrote. A per-process memory of
entries already stored keeps that to a set lookup per key on the hot path; it forgets a workspace
after CACHE_SECONDS, so an entry whose transaction rolled back after being remembered is written again
the next time the data holds it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.catalog import (
    Catalog,
    Entry,
    EntryKind,
    ValueType,
    check_condition,
    document_entries,
    document_shape,
)
from nurture.domain.conditions.nodes import Condition
from nurture.domain.errors import Invalid
from nurture.services.clock import Clock
from nurture.store import catalog as store
from nurture.store.db import Database

CACHE_SECONDS = 60.0
DECLARABLE = (EntryKind.ATTRIBUTE, EntryKind.ACCOUNT_ATTRIBUTE)


class _Stored:
    """Entries known to be in the table, per workspace, each workspace forgotten after a while."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, set[Entry]]] = {}

    def unseen(self, workspace_id: str, entries: set[Entry]) -> set[Entry]:
        with self._lock:
            held = self._known.get(workspace_id)
            if held is None or time.monotonic() - held[0] > CACHE_SECONDS:
                held = self._known[workspace_id] = (time.monotonic(), set())
            return entries - held[1]

    def remember(self, workspace_id: str, entries: set[Entry]) -> None:
        with self._lock:
            held = self._known.get(workspace_id)
            if held is not None:
                held[1].update(entries)


_stored = _Stored()


def record(conn: Connection, workspace_id: str, entries: set[Entry], now: datetime) -> None:
    """Add to the catalog, in the caller's transaction, whatever of `entries` it may not hold yet."""
    if not entries:
        return
    fresh = _stored.unseen(workspace_id, entries)
    if fresh:
        store.add(conn, workspace_id, fresh, now, declared=False)
        _stored.remember(workspace_id, fresh)


class _Shapes:
    """Entries of documents by their shape (`document_shape`): events of one name mostly have the
    same properties with values of the same types, and walking each one cost more than storing it."""

    MAX = 4096

    def __init__(self) -> None:
        self._entries: dict[tuple[EntryKind, str, Hashable], frozenset[Entry]] = {}

    def entries(
        self, kind: EntryKind, scope: str, document: Mapping[str, Any], also: Entry | None = None
    ) -> AbstractSet[Entry]:
        """`document_entries`, plus `also` (which must depend on `kind` and `scope` alone)."""
        shape = document_shape(document)
        if shape is None:
            found = document_entries(kind, scope, document)
            return found | {also} if also else found
        key = (kind, scope, shape)
        cached = self._entries.get(key)
        if cached is None:
            if len(self._entries) >= self.MAX:
                self._entries.clear()
            walked = document_entries(kind, scope, document)
            cached = self._entries[key] = frozenset(walked | {also} if also else walked)
        return cached


_shapes = _Shapes()


def attribute_entries(kind: EntryKind, attributes: Mapping[str, Any]) -> AbstractSet[Entry]:
    return _shapes.entries(kind, "", attributes) if attributes else frozenset()


def event_entries(name: str | None, properties: Mapping[str, Any]) -> AbstractSet[Entry]:
    if not name:
        return frozenset()
    return _shapes.entries(EntryKind.PROPERTY, name, properties, also=(EntryKind.EVENT, "", name, ""))


def workspace_catalog(conn: Connection, workspace_id: str) -> Catalog:
    return Catalog.of(store.entries(conn, workspace_id))


def check(conn: Connection, workspace_id: str, condition: Condition, path: str = "") -> None:
    """Raise Invalid naming each node that reads an attribute the workspace has never had, or
    compares values with a type they have never had."""
    errors = check_condition(condition, workspace_catalog(conn, workspace_id), path)
    if errors:
        raise Invalid(errors)


class CatalogService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    check = staticmethod(check)

    def describe(self, workspace_id: str) -> dict[str, Any]:
        """The catalog as the API shows it: attributes and account attributes with their types, and
        events with their properties."""
        with self.db.read() as conn:
            rows = store.listing(conn, workspace_id)
        grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows:
            key = (str(row["kind"]), str(row["scope"]), str(row["name"]))
            entry = grouped.setdefault(
                key,
                {"name": row["name"], "types": [], "declared": True, "first_seen_at": row["first_seen_at"]},
            )
            if row["type"]:
                entry["types"].append(row["type"])
            entry["declared"] = entry["declared"] and bool(row["declared"])
            entry["first_seen_at"] = min(entry["first_seen_at"], row["first_seen_at"])
        events: dict[str, dict[str, Any]] = {}
        out: dict[str, Any] = {"attributes": [], "account_attributes": [], "events": []}
        for (kind, scope, name), entry in grouped.items():
            if kind == EntryKind.EVENT:
                events[name] = {"name": name, "first_seen_at": entry["first_seen_at"], "properties": []}
            elif kind == EntryKind.PROPERTY:
                events.setdefault(scope, {"name": scope, "first_seen_at": None, "properties": []})
                events[scope]["properties"].append(entry)
            else:
                out[f"{kind}s"].append(entry)
        out["events"] = [events[name] for name in sorted(events)]
        return out

    def declare(self, workspace_id: str, kind: EntryKind, name: str, types: Iterable[str]) -> None:
        """Declare an attribute ahead of the data that will carry it, so conditions may read it."""
        if kind not in DECLARABLE:
            raise Invalid.one("kind", "declare an attribute or an account_attribute")
        if not name or len(name) > 255 or "." in name or name != name.strip():
            raise Invalid.one("name", "must be 1 to 255 characters without dots or surrounding spaces")
        wanted = list(types)
        if not wanted:
            raise Invalid.one("types", "name at least one type")
        for index, type_ in enumerate(wanted):
            if type_ not in {t.value for t in ValueType}:
                raise Invalid.one(
                    f"types[{index}]", f"unknown type {type_!r}: use one of {', '.join(ValueType)}"
                )
        with self.db.write() as conn:
            store.add(
                conn, workspace_id, {(kind, "", name, t) for t in wanted}, self.clock.now(), declared=True
            )
