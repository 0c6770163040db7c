"""Workspaces and API keys: create, list, issue, revoke, authenticate."""

from __future__ import annotations

import builtins
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from nurture.domain.errors import Conflict, Invalid, NotFound, Unauthorized
from nurture.domain.keys import PREFIXES, KeyKind, display_prefix, hash_key
from nurture.services.clock import Clock
from nurture.services.messaging_seed import seed_example
from nurture.store import workspaces as store
from nurture.store.db import Database
from nurture.store.ids import new_id

EXAMPLE_WORKSPACE = "Example"
MAX_NAME = 200


@dataclass(frozen=True)
class NewWorkspace:
    id: str
    name: str
    write_key: str
    secret_key: str


@dataclass(frozen=True)
class IssuedKey:
    id: str
    workspace_id: str
    kind: KeyKind
    key: str


class WorkspaceService:
    def __init__(self, db: Database, clock: Clock, key_cache_seconds: float = 5.0) -> None:
        self.db = db
        self.clock = clock
        self.key_cache_seconds = key_cache_seconds
        self._cache: dict[str, tuple[str, str, float]] = {}
        self._cache_lock = threading.Lock()

    def create(self, name: str) -> NewWorkspace:
        """Create a workspace with one write key and one secret key (shown only now)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise Invalid.one("name", f"must be 1 to {MAX_NAME} characters")
        workspace_id = new_id()
        with self.db.write() as conn:
            store.insert_workspace(conn, workspace_id, name, self.clock.now())
            write = self._issue(conn, workspace_id, KeyKind.WRITE)
            secret = self._issue(conn, workspace_id, KeyKind.SECRET)
        return NewWorkspace(workspace_id, name, write.key, secret.key)

    def ensure_example(self) -> NewWorkspace | None:
        """On a database without workspaces, create 'Example' with a sender, a postal address and
        topics (so it can send at once); otherwise do nothing."""
        with self.db.read() as conn:
            if store.list_workspaces(conn):
                return None
        created = self.create(EXAMPLE_WORKSPACE)
        with self.db.write() as conn:
            seed_example(conn, created.id, self.clock)
        return created

    def list(self) -> builtins.list[store.WorkspaceRow]:
        with self.db.read() as conn:
            return store.list_workspaces(conn)

    def resolve(self, workspace_id: str | None) -> str:
        """The given workspace if it exists, or the only one when none is given (for the CLI)."""
        with self.db.read() as conn:
            if workspace_id is not None:
                if store.get_workspace(conn, workspace_id) is None:
                    raise NotFound(f"workspace {workspace_id} does not exist (see `nurture workspace list`)")
                return workspace_id
            found = store.list_workspaces(conn)
        if len(found) == 1:
            return found[0].id
        if not found:
            raise NotFound("there is no workspace yet; create one with `nurture workspace create NAME`")
        raise Conflict(f"there are {len(found)} workspaces; choose one with --workspace ID")

    def issue_key(self, workspace_id: str, kind: KeyKind) -> IssuedKey:
        with self.db.write() as conn:
            if store.get_workspace(conn, workspace_id) is None:
                raise NotFound(f"workspace {workspace_id} does not exist")
            return self._issue(conn, workspace_id, kind)

    def list_keys(self, workspace_id: str) -> builtins.list[store.KeyRow]:
        with self.db.read() as conn:
            return store.list_keys(conn, workspace_id)

    def revoke_key(self, workspace_id: str, key_id: str) -> None:
        with self.db.write() as conn:
            if not store.revoke_key(conn, workspace_id, key_id, self.clock.now()):
                raise NotFound(f"no active key {key_id} in workspace {workspace_id}")
        with self._cache_lock:
            self._cache.clear()

    def authenticate(self, token: str, kind: KeyKind) -> str:
        """The workspace id a key of this kind belongs to; Unauthorized otherwise."""
        digest = hash_key(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is None or cached[2] < now:
            with self.db.read() as conn:
                row = store.find_key(conn, digest)
            found = ("", "", now + self.key_cache_seconds)
            if row is not None and row.revoked_at is None:
                found = (row.workspace_id, row.kind, now + self.key_cache_seconds)
            with self._cache_lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = found
            cached = found
        return _check(cached, kind)

    def authenticate_cached(self, token: str, kind: KeyKind) -> str | None:
        """`authenticate` without I/O when the key was looked up lately; None when it must be looked up
        (so an event loop can answer most requests without a trip to a thread)."""
        cached = self._cache.get(hash_key(token))
        if cached is None or cached[2] < time.monotonic():
            return None
        return _check(cached, kind)

    def _issue(self, conn: Connection, workspace_id: str, kind: KeyKind) -> IssuedKey:
        token = PREFIXES[kind] + secrets.token_urlsafe(24)
        key_id = new_id()
        store.insert_key(
            conn,
            key_id=key_id,
            workspace_id=workspace_id,
            kind=kind.value,
            key_hash=hash_key(token),
            prefix=display_prefix(token),
            now=self.clock.now(),
        )
        return IssuedKey(key_id, workspace_id, kind, token)


def _check(cached: tuple[str, str, float], kind: KeyKind) -> str:
    workspace_id, found_kind, _ = cached
    if not workspace_id or found_kind != kind.value:
        raise Unauthorized(f"a valid {kind.value} key is required")
    return workspace_id
