"""CSV contact import: `nurture import contacts` on a generated file, beside the same contacts and
identities written straight through the driver in chunks of the same size."""

from __future__ import annotations

import csv
import os
import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench.workload import ulid

CHUNK_ROWS = 1000  # what ImportService writes per transaction
HEADER = [
    "user_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "plan",
    "country",
    "signup_date",
    "lifetime_value",
    "newsletter",
]
COUNTRIES = ("DE", "FR", "US", "GB", "ES", "IT", "NL", "SE", "PL", "BR")


def write_csv(path: Path, rows: int, seed: int = 7) -> list[list[str]]:
    """A contacts CSV with core fields, a phone on a third of the rows and typed attributes."""
    rng = random.Random(seed)
    start = date(2020, 1, 1)
    out = []
    for i in range(rows):
        out.append(
            [
                f"cust-{i:07d}",
                f"customer{i}@example.org",
                f"First{i}",
                f"Last{i}",
                f"+4930{rng.randrange(1_000_000, 9_999_999)}" if i % 3 == 0 else "",
                rng.choice(("free", "starter", "pro")),
                rng.choice(COUNTRIES),
                (start + timedelta(days=rng.randrange(2000))).isoformat(),
                f"{rng.uniform(0, 5000):.2f}",
                rng.choice(("true", "false")),
            ]
        )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(out)
    return out


def _cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NURTURE_DATABASE_URL": database_url, "NURTURE_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "nurture.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def create_workspace(database_url: str) -> str:
    """Migrate the database and create a workspace with `nurture workspace create`; returns its id."""
    created = _cli(["workspace", "create", "Bench", "--json"], database_url)
    if created.returncode != 0:
        raise RuntimeError(created.stderr)
    return str(orjson.loads(created.stdout)["id"])


def measure_cli(database_url: str, csv_path: Path) -> dict[str, Any]:
    """Wall time of `nurture import contacts FILE --json` (process start and migration check included)."""
    workspace_id = create_workspace(database_url)
    started = time.perf_counter()
    done = _cli(["import", "contacts", str(csv_path), "-w", workspace_id, "--json"], database_url)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr + done.stdout[:2000])
    report = orjson.loads(done.stdout)
    return {
        "rows": report["rows"],
        "created": report["created"],
        "errors": len(report["errors"]),
        "seconds": round(elapsed, 3),
        "rows_per_s": round(report["rows"] / elapsed, 1),
        "workspace_id": workspace_id,
    }


def _contact_values(row: list[str], now: datetime) -> tuple[Any, ...]:
    attributes = {
        "plan": row[5],
        "country": row[6],
        "signup_date": row[7],
        "lifetime_value": float(row[8]),
        "newsletter": row[9] == "true",
    }
    return (row[1], row[4] or None, row[2], row[3], orjson.dumps(attributes).decode())


def measure_ceiling(database_url: str, workspace_id: str, rows: list[list[str]]) -> dict[str, Any]:
    """Insert the same contacts and their user id and email identities, CHUNK_ROWS per transaction."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    millis = int(now.timestamp() * 1000)
    is_sqlite = database_url.startswith("sqlite")
    columns = "workspace_id, id, email, phone, first_name, last_name, attributes, created_at, updated_at"
    if is_sqlite:
        stamp: Any = now.replace(tzinfo=None).isoformat(sep=" ")
        conn: Any = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        mark = "?"
    else:
        stamp = now
        conn = psycopg.connect(database_url)
        mark = "%s"
    insert_contact = f"INSERT INTO contacts ({columns}) VALUES ({', '.join([mark] * 9)})"
    insert_identity = (
        "INSERT INTO contact_identities (workspace_id, kind, value, contact_id, created_at) "
        f"VALUES ({', '.join([mark] * 5)}) ON CONFLICT DO NOTHING"
    )
    started = time.perf_counter()
    for start in range(0, len(rows), CHUNK_ROWS):
        contacts = []
        identities = []
        for row in rows[start : start + CHUNK_ROWS]:
            contact_id = ulid(rng, millis)
            contacts.append((workspace_id, contact_id, *_contact_values(row, now), stamp, stamp))
            identities.append((workspace_id, "user_id", row[0], contact_id, stamp))
            identities.append((workspace_id, "email", row[1], contact_id, stamp))
        if is_sqlite:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert_contact, contacts)
            conn.executemany(insert_identity, identities)
            conn.execute("COMMIT")
        else:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(insert_contact, contacts)
                cur.executemany(insert_identity, identities)
    elapsed = time.perf_counter() - started
    conn.close()
    return {
        "rows": len(rows),
        "seconds": round(elapsed, 3),
        "rows_per_s": round(len(rows) / elapsed, 1),
        "method": "sqlite3 executemany" if is_sqlite else "psycopg executemany",
    }
