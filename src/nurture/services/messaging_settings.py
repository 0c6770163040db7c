"""A workspace's messaging settings: read (defaults when never saved) and replace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from nurture.domain.messages.settings import MessagingSettings, parse_settings
from nurture.services.clock import Clock
from nurture.store import messaging_settings as store
from nurture.store.db import Database

# Keys of the same document that other modules own and check (SMS provider, link tracking): the
# messaging settings API neither shows nor replaces them.
OWNED_ELSEWHERE = frozenset({"sms", "tracking"})


def own_part(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in OWNED_ELSEWHERE}


def load(conn: Connection, workspace_id: str) -> MessagingSettings:
    """The workspace's settings; the defaults when it has saved none."""
    data = store.get(conn, workspace_id)
    return MessagingSettings() if data is None else MessagingSettings.model_validate(own_part(data))


def save(conn: Connection, workspace_id: str, settings: MessagingSettings, clock: Clock) -> None:
    kept = {k: v for k, v in (store.get(conn, workspace_id) or {}).items() if k in OWNED_ELSEWHERE}
    store.put(conn, workspace_id, {**settings.document(), **kept}, clock.now())


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
