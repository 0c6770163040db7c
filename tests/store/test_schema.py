"""The schema the migrations build is exactly the schema declared in code, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from nurture.bootstrap import Container
from nurture.store.schema import metadata


def test_migrated_schema_equals_declared_tables(container: Container) -> None:
    with container.db.writer.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_every_customer_table_is_keyed_by_workspace() -> None:
    for table in metadata.sorted_tables:
        if table.name == "workspaces":
            continue
        assert "workspace_id" in table.c, table.name
        if table.name != "api_keys":
            assert table.primary_key.columns.keys()[0] == "workspace_id", table.name


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(container: Container, is_postgres: bool) -> None:
    if is_postgres:
        with container.db.read() as conn:
            assert conn.execute(text("SHOW server_version")).scalar()
        return
    with container.db.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
