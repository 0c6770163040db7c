"""SQL for the outbox (`messages`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from nurture.store.schema import messages
from nurture.store.sql import execute_many, insert_ignore


def insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows; a send id already in the workspace is skipped. Returns rows written."""
    return execute_many(conn, insert_ignore(conn, messages), rows)
