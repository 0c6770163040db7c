"""Engines and transactions. SQLite: WAL, busy timeout, writers take the lock up front (BEGIN IMMEDIATE)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
# psycopg prepares a query run this many times on a connection; PostgreSQL then switches it to one
# generic plan, which cannot see how many values an `= ANY(array)` parameter holds and may scan a
# whole table per lookup. So plain queries are planned for their actual values every time;
# `executemany` (bulk inserts) is still prepared, as psycopg always does for it.
PREPARE_NEVER = 2**31
PING_AFTER_IDLE_SECONDS = 2.0


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_engine(url: str, begin: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        poolclass=NullPool if parsed.database in (None, "", ":memory:") else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is deferred-only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")  # a 2xx promises the event is on disk
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's own lower() folds ASCII only; text search must match "ÖZTÜRK" as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Check a pooled connection before use when it has been idle for `seconds` (the
    server may have restarted or dropped it meanwhile): a dead one is replaced, as `pool_pre_ping`
    does, but connections in steady use skip the round trip that pinging every checkout costs."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        idle = idle_since is not None and time.monotonic() - idle_since >= seconds
        if idle and not engine.dialect._do_ping_w_event(dbapi_connection):
            raise DisconnectionError("the pooled connection was lost; the pool opens a new one")


class _WriterTurns:
    """SQLite writers of every process on one file take turns in a queue, not by polling.

    SQLite lets one writer in at a time and makes the others retry with sleeps of up to 100 ms, so
    with several server processes a transaction can wait long after the lock is free. Threads here
    queue on a lock, processes on an flock of a file beside the database; SQLite's own lock still
    guards the data (other programs writing the file are not in this queue).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread_turn = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._thread_turn:
            if self._depth == 0:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._thread_turn:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class Database:
    """One database: a writer and a reader engine (the same engine on PostgreSQL)."""

    def __init__(
        self, url: str, pool_size: int = 10, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS
    ) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        self._turns: _WriterTurns | None = None
        if self.dialect == "sqlite":
            self.writer = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.reader = _sqlite_engine(self.url, "BEGIN")
            path = make_url(self.url).database
            if path and path != ":memory:":
                self._turns = _WriterTurns(f"{path}-write.lock")
        else:
            self.writer = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
                connect_args={"prepare_threshold": PREPARE_NEVER},
            )
            _ping_when_idle(self.writer, ping_after_idle)
            self.reader = self.writer

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; commits on success, rolls back on any exception."""
        with self._turns.turn() if self._turns else nullcontext(), self.writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
        if self._turns:
            self._turns.close()
