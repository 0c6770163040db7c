"""Bulk-load a generated workspace into a migrated nurture database, as fast as each database allows.

PostgreSQL: COPY (psycopg `cursor.copy`) into each table with its indexes and key constraints
dropped, then the very same definitions re-created (read from the catalog before the load), ANALYZE.
SQLite: `executemany` in transactions of 100,000 rows with the journal off and a large cache, the
secondary indexes dropped and re-created from `sqlite_master`, then ANALYZE and back to WAL.
The schema after the load is the migrated one (checked: same index definitions as before).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import orjson
import psycopg

from bench import audience_data as data

TABLES = (
    ("events", data.EVENTS_COLUMNS),
    ("contacts", data.CONTACTS_COLUMNS),
    ("contact_identities", data.IDENTITIES_COLUMNS),
    ("accounts", data.ACCOUNTS_COLUMNS),
    ("account_members", data.MEMBERS_COLUMNS),
)
SQLITE_CHUNK = 100_000


def create_workspace(database_url: str) -> dict[str, str]:
    """Migrate the database and create a workspace with `nurture workspace create --json`: id and keys."""
    env = {**os.environ, "NURTURE_DATABASE_URL": database_url, "NURTURE_LOG_LEVEL": "warning"}
    done = subprocess.run(
        [sys.executable, "-m", "nurture.cli.main", "workspace", "create", "Audiences", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    created = orjson.loads(done.stdout)
    return {"id": created["id"], "write_key": created["write_key"], "secret_key": created["secret_key"]}


def _streams(ws: data.Workspace) -> Iterator[tuple[str, tuple[str, ...], Iterable[tuple[Any, ...]]]]:
    """Each table's rows in load order; events first, since contacts carry what events taught."""
    yield "events", data.EVENTS_COLUMNS, ws.events()
    yield "contacts", data.CONTACTS_COLUMNS, ws.contacts()
    yield "contact_identities", data.IDENTITIES_COLUMNS, ws.identities()
    accounts, members = ws.account_rows()
    yield "accounts", data.ACCOUNTS_COLUMNS, accounts
    yield "account_members", data.MEMBERS_COLUMNS, members


def driver_url(database_url: str) -> str:
    """What psycopg or sqlite3 opens for a nurture database URL."""
    if database_url.startswith("sqlite"):
        return database_url.removeprefix("sqlite:///")
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def load(database_url: str, ws: data.Workspace) -> dict[str, Any]:
    """Load `ws` into the database (already migrated, workspace row present); returns timings."""
    if database_url.startswith("sqlite"):
        return _load_sqlite(driver_url(database_url), ws)
    return _load_postgres(driver_url(database_url), ws)


def _result(rows: dict[str, int], seconds: dict[str, float], started: float) -> dict[str, Any]:
    total = time.perf_counter() - started
    all_rows = sum(rows.values())
    return {
        "rows": rows,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "total_seconds": round(total, 2),
        "rows_per_s": round(all_rows / total, 1),
        "events_per_s_copy": round(rows["events"] / seconds["events"], 1) if seconds["events"] else 0.0,
    }


# ---- PostgreSQL ----


def _pg_keys(
    conn: psycopg.Connection[Any], table: str
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(constraints: name, definition) for primary keys and unique constraints, (indexes: name, sql)."""
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY conname",
        (table,),
    ).fetchall()
    names = {name for name, _ in constraints}
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s "
        "ORDER BY indexname",
        (table,),
    ).fetchall()
    return [(n, d) for n, d in constraints], [(n, d) for n, d in indexes if n not in names]


def _load_postgres(url: str, ws: data.Workspace) -> dict[str, Any]:
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        keys = {table: _pg_keys(conn, table) for table, _ in TABLES}
        for table, (constraints, indexes) in keys.items():
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            for name, _ in constraints:
                conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        conn.commit()
        for table, columns, stream in _streams(ws):
            began = time.perf_counter()
            count = 0
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in stream:
                    copy.write_row(row)
                    count += 1
            conn.commit()
            rows[table] = count
            seconds[table] = time.perf_counter() - began
        began = time.perf_counter()
        for table, (constraints, indexes) in keys.items():
            for name, definition in constraints:
                conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            for _, definition in indexes:
                conn.execute(definition)
            conn.commit()
        seconds["indexes"] = time.perf_counter() - began
        after = {table: _pg_keys(conn, table) for table, _ in TABLES}
        if after != keys:
            raise RuntimeError(f"indexes differ after the load: {keys} != {after}")
        conn.commit()
        conn.autocommit = True
        began = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        seconds["analyze"] = time.perf_counter() - began
        conn.execute("CHECKPOINT")
    result = _result(rows, seconds, started)
    result["method"] = "psycopg COPY, keys and indexes re-created after, VACUUM ANALYZE"
    return result


# ---- SQLite ----


def _sqlite_indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    tables = tuple(table for table, _ in TABLES)
    found = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({', '.join('?' * len(tables))}) ORDER BY name",
        tables,
    ).fetchall()
    return [(str(name), str(sql)) for name, sql in found]


def _load_sqlite(path: str, ws: data.Workspace) -> dict[str, Any]:
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-2000000")  # 2 GB
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        indexes = _sqlite_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for table, columns, stream in _streams(ws):
            began = time.perf_counter()
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            count = 0
            iterator = iter(stream)
            while chunk := list(islice(iterator, SQLITE_CHUNK)):
                conn.execute("BEGIN")
                conn.executemany(insert, chunk)
                conn.execute("COMMIT")
                count += len(chunk)
            rows[table] = count
            seconds[table] = time.perf_counter() - began
        began = time.perf_counter()
        for _, sql in indexes:
            conn.execute(sql)
        seconds["indexes"] = time.perf_counter() - began
        if _sqlite_indexes(conn) != indexes:
            raise RuntimeError("indexes differ after the load")
        began = time.perf_counter()
        conn.execute("ANALYZE")
        seconds["analyze"] = time.perf_counter() - began
        conn.execute("PRAGMA locking_mode=NORMAL")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    result = _result(rows, seconds, started)
    result["method"] = (
        f"sqlite3 executemany, {SQLITE_CHUNK:,} rows/txn, journal off, indexes re-created after"
    )
    return result
