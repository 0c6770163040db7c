"""Statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(conn: Connection, table: Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING."""
    stmt: Insert = insert(conn, table).on_conflict_do_nothing()
    return stmt


def lock_keys(conn: Connection, keys: Iterable[str]) -> None:
    """Serialise concurrent writers on the same identity values (PostgreSQL transaction locks).

    SQLite needs nothing: a write transaction holds the whole database (BEGIN IMMEDIATE).
    Locks are taken in sorted order so two transactions can never wait on each other.
    """
    if conn.dialect.name != "postgresql":
        return
    numbers = sorted({_lock_number(key) for key in keys})
    if numbers:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"),
            {"keys": numbers},
        )


def _lock_number(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    """Split long IN lists so SQLite's variable limit is never reached."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def contains_pattern(text_value: str) -> str:
    """A LIKE pattern (escape character `\\`) matching `text_value` anywhere, case-folded."""
    escaped = text_value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
