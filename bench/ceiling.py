"""The ceiling: the same rows the server stores, written straight through the database driver.

Per transaction: upsert the contacts touched (last_seen_at), insert the identities used (ON CONFLICT
DO NOTHING), insert the events. SQLite uses the sqlite3 module with the server's durability (WAL,
synchronous=FULL); PostgreSQL uses psycopg 3 `executemany` (pipelined) or COPY for the events. No
validation, no identity lookups, no HTTP: this is what the database and driver allow.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from bench.workload import Rows

_CONTACT_COLUMNS = "workspace_id, id, attributes, created_at, updated_at, last_seen_at"
_EVENT_COLUMNS = (
    "workspace_id, id, contact_id, message_id, type, name, user_id, anonymous_id, properties, context, "
    "timestamp, original_timestamp, received_at"
)


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _group(rows: Sequence[Rows], per_txn: int) -> list[Rows]:
    """Regroup per-request rows into transactions of `per_txn` requests."""
    out = []
    for start in range(0, len(rows), per_txn):
        merged = Rows()
        for part in rows[start : start + per_txn]:
            merged.events.extend(part.events)
            merged.contacts.update(part.contacts)
            merged.identities.update(part.identities)
        out.append(merged)
    return out


def _sqlite_writer(url: str, workspace_id: str) -> Callable[[Rows], None]:
    path = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    upsert = (
        f"INSERT INTO contacts ({_CONTACT_COLUMNS}) VALUES (?, ?, '{{}}', ?, ?, ?) "
        "ON CONFLICT (workspace_id, id) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
        "updated_at = excluded.updated_at"
    )
    identity = (
        "INSERT INTO contact_identities (workspace_id, kind, value, contact_id, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    )
    event = f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    def write(rows: Rows) -> None:
        now = _sqlite_time(datetime.now(UTC))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(upsert, [(workspace_id, c, now, now, now) for c in rows.contacts])
        conn.executemany(identity, [(workspace_id, k, v, c, now) for k, v, c in sorted(rows.identities)])
        conn.executemany(
            event,
            [
                (
                    workspace_id,
                    e[0],
                    e[1],
                    e[2],
                    e[3],
                    e[4],
                    e[5],
                    e[6],
                    orjson.dumps(e[7]).decode(),
                    orjson.dumps(e[8]).decode(),
                    _sqlite_time(e[9]),
                    _sqlite_time(e[10]),
                    _sqlite_time(e[11]),
                )
                for e in rows.events
            ],
        )
        conn.execute("COMMIT")

    return write


def _postgres_writer(url: str, workspace_id: str, copy: bool) -> Callable[[Rows], None]:
    conn = psycopg.connect(url)
    upsert = (
        f"INSERT INTO contacts ({_CONTACT_COLUMNS}) VALUES (%s, %s, '{{}}', %s, %s, %s) "
        "ON CONFLICT (workspace_id, id) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
        "updated_at = excluded.updated_at"
    )
    identity = (
        "INSERT INTO contact_identities (workspace_id, kind, value, contact_id, created_at) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
    )
    event = (
        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
    )

    def write(rows: Rows) -> None:
        now = datetime.now(UTC)
        with conn.transaction(), conn.cursor() as cur:
            # sorted, as the server locks identities in order, so concurrent writers cannot deadlock
            cur.executemany(upsert, [(workspace_id, c, now, now, now) for c in sorted(rows.contacts)])
            cur.executemany(identity, [(workspace_id, k, v, c, now) for k, v, c in sorted(rows.identities)])
            values = [
                (
                    workspace_id,
                    e[0],
                    e[1],
                    e[2],
                    e[3],
                    e[4],
                    e[5],
                    e[6],
                    orjson.dumps(e[7]).decode(),
                    orjson.dumps(e[8]).decode(),
                    e[9],
                    e[10],
                    e[11],
                )
                for e in rows.events
            ]
            if copy:
                with cur.copy(f"COPY events ({_EVENT_COLUMNS}) FROM STDIN") as out:
                    for value in values:
                        out.write_row(value)
            else:
                cur.executemany(event, values)

    return write


def measure(
    url: str,
    workspace_id: str,
    rows: Sequence[Rows],
    *,
    requests_per_txn: int,
    writers: int,
    seconds: float,
    copy: bool = False,
) -> dict[str, Any]:
    """Write `rows` in transactions of `requests_per_txn` requests from `writers` threads (one
    connection each) until done or `seconds` have passed; returns events/s and transactions/s."""
    transactions = _group(rows, requests_per_txn)
    is_sqlite = url.startswith("sqlite")
    writer_functions = [
        _sqlite_writer(url, workspace_id) if is_sqlite else _postgres_writer(url, workspace_id, copy)
        for _ in range(writers)
    ]
    next_index = 0
    done_events = 0
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds

    def loop(write: Callable[[Rows], None]) -> None:
        nonlocal next_index, done_events
        while time.perf_counter() < deadline:
            with lock:
                if next_index >= len(transactions):
                    return
                txn = transactions[next_index]
                next_index += 1
            write(txn)
            with lock:
                done_events += len(txn.events)

    threads = [threading.Thread(target=loop, args=(w,)) for w in writer_functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "events": done_events,
        "seconds": round(elapsed, 3),
        "events_per_s": round(done_events / elapsed, 1),
        "events_per_txn": len(transactions[0].events) if transactions else 0,
        "writers": writers,
        "method": "sqlite3 executemany"
        if is_sqlite
        else ("psycopg executemany + COPY events" if copy else "psycopg executemany"),
    }
