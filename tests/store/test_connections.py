"""Pooled connections: one the server dropped while it sat idle in the pool is replaced before use."""

from __future__ import annotations

from sqlalchemy import text

from nurture.store.db import Database


def test_a_connection_dropped_while_idle_is_replaced_before_use(database_url: str, is_postgres: bool) -> None:
    db = Database(database_url, ping_after_idle=0.0)
    try:
        with db.read() as conn:
            conn.execute(text("SELECT 1"))
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar() if is_postgres else None
        if is_postgres:
            other = Database(database_url)
            with other.write() as conn:
                assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
            other.dispose()
        with db.read() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            if is_postgres:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != backend
    finally:
        db.dispose()
