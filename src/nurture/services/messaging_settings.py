"""A workspace's messaging settings: read (defaults when never saved) and replace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from nurture.domain.messages.settings import MessagingSettings, parse_settings
from nurture.services.clock import Clock
from nurture.store import messaging_settings as store
from nurture.store.db import Database


def load(conn: Connection, workspace_id: str) -> MessagingSettings:
    """The workspace's settings; the defaults when it has saved none."""
    data = store.get(conn, workspace_id)
    return MessagingSettings() if data is None else MessagingSettings.model_validate(data)


def save(conn: Connection, workspace_id: str, settings: MessagingSettings, clock: Clock) -> None:
    store.put(conn, workspace_id, settings.document(), clock.now())


class MessagingSettingsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, workspace_id: str) -> MessagingSettings:
        with self.db.read() as conn:
            return load(conn, workspace_id)

    def replace(self, workspace_id: str, data: Any) -> MessagingSettings:
        """Replace the whole document (fields left out take their defaults)."""
        settings = parse_settings(data)
        with self.db.write() as conn:
            save(conn, workspace_id, settings, self.clock)
        return settings
