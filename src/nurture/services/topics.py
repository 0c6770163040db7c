"""Subscription topics through the API: create, list, read, change, delete.

Deleting a topic leaves the contacts' statuses for it in place: a topic made again under the same
name finds them, and an unsubscribe is never forgotten."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from nurture.domain.errors import Conflict, NotFound
from nurture.domain.messages.topics import Topic, check_fields, check_identity
from nurture.domain.subscriptions import check_channel
from nurture.services.clock import Clock
from nurture.store import topics as store
from nurture.store.db import Database


class TopicService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def list(self, workspace_id: str, channel: str | None = None) -> builtins.list[Topic]:
        checked = check_channel(channel) if channel is not None else None
        with self.db.read() as conn:
            return store.list_topics(conn, workspace_id, checked)

    def get(self, workspace_id: str, channel: str, name: str) -> Topic:
        with self.db.read() as conn:
            found = store.get(conn, workspace_id, channel, name)
        if found is None:
            raise NotFound(f"no {channel} topic {name!r} in this workspace")
        return found

    def create(self, workspace_id: str, channel: Any, name: Any, values: Mapping[str, Any]) -> Topic:
        checked_channel, checked_name = check_identity(channel, name)
        fields = check_fields(values)
        topic = Topic(
            checked_channel,
            checked_name,
            fields.label,
            fields.description,
            fields.default_status,
            fields.double_opt_in,
            self.clock.now(),
        )
        with self.db.write() as conn:
            if store.get(conn, workspace_id, checked_channel, checked_name) is not None:
                raise Conflict(f"a {checked_channel} topic named {checked_name!r} exists already")
            store.insert(conn, workspace_id, topic)
        return topic

    def change(self, workspace_id: str, channel: str, name: str, values: Mapping[str, Any]) -> Topic:
        fields = check_fields(values)
        with self.db.write() as conn:
            if not store.change(conn, workspace_id, channel, name, fields):
                raise NotFound(f"no {channel} topic {name!r} in this workspace")
            found = store.get(conn, workspace_id, channel, name)
        assert found is not None
        return found

    def delete(self, workspace_id: str, channel: str, name: str) -> None:
        with self.db.write() as conn:
            if not store.remove(conn, workspace_id, channel, name):
                raise NotFound(f"no {channel} topic {name!r} in this workspace")
