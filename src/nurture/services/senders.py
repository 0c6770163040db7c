"""Senders: create, read, change and delete who a workspace's mail comes from. One sender is the
default (the first one made is); making another the default takes the flag from the rest."""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from nurture.domain.errors import Conflict, NotFound
from nurture.domain.messages.senders import Sender, SenderInput, check_sender
from nurture.services.clock import Clock
from nurture.store import senders as store
from nurture.store.db import Database
from nurture.store.ids import new_id


def add_sender(conn: Connection, workspace_id: str, data: SenderInput, clock: Clock) -> Sender:
    """Insert a checked sender in the caller's transaction (also used to seed a workspace)."""
    now = clock.now()
    if store.name_taken(conn, workspace_id, data.name, None):
        raise Conflict(f"a sender named {data.name!r} exists already")
    is_default = data.is_default or store.count(conn, workspace_id) == 0
    sender = Sender(new_id(), **{**data.__dict__, "is_default": is_default}, created_at=now, updated_at=now)
    store.save(conn, workspace_id, sender, new=True)
    if is_default:
        store.clear_default(conn, workspace_id, sender.id, now)
    return sender


class SenderService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, workspace_id: str, data: dict[str, Any]) -> Sender:
        checked = check_sender(data)
        with self.db.write() as conn:
            return add_sender(conn, workspace_id, checked, self.clock)

    def list(self, workspace_id: str) -> builtins.list[Sender]:
        with self.db.read() as conn:
            return store.all_senders(conn, workspace_id)

    def get(self, workspace_id: str, sender_id: str) -> Sender:
        with self.db.read() as conn:
            return self._get(conn, workspace_id, sender_id)

    @staticmethod
    def _get(conn: Connection, workspace_id: str, sender_id: str, *, lock: bool = False) -> Sender:
        found = store.get(conn, workspace_id, sender_id, lock=lock)
        if found is None:
            raise NotFound(f"no sender {sender_id} in this workspace")
        return found

    def replace(self, workspace_id: str, sender_id: str, data: dict[str, Any]) -> Sender:
        """The body is the whole sender, except `dkim_key`, which is kept when left out (it is never
        shown), and a masked SMTP password, which keeps the stored one. The default stays the default
        (make another sender the default instead)."""
        now = self.clock.now()
        with self.db.write() as conn:
            current = self._get(conn, workspace_id, sender_id, lock=True)
            checked = check_sender(data, current)
            if store.name_taken(conn, workspace_id, checked.name, sender_id):
                raise Conflict(f"a sender named {checked.name!r} exists already")
            is_default = checked.is_default or current.is_default
            sender = replace(current, **{**checked.__dict__, "is_default": is_default}, updated_at=now)
            store.save(conn, workspace_id, sender, new=False)
            if is_default and not current.is_default:
                store.clear_default(conn, workspace_id, sender.id, now)
        return sender

    def delete(self, workspace_id: str, sender_id: str) -> None:
        """Messages that name a deleted sender fail with `no_sender` when dispatched."""
        with self.db.write() as conn:
            current = self._get(conn, workspace_id, sender_id, lock=True)
            if current.is_default and store.count(conn, workspace_id) > 1:
                raise Conflict("this is the default sender; make another sender the default first")
            store.remove(conn, workspace_id, sender_id)
