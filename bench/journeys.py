"""Journeys at scale: N contacts enrolled in a two-send journey (send, wait, send), carried by K
`nurture worker` processes on PostgreSQL, one of them killed with SIGKILL part-way. Checks that every
contact got exactly one message per send step — none missing, none twice — and that every run ended;
reports runs and sends per second beside the ceiling measured in the same run: the same outbox rows,
run updates and trace lines written straight through the driver in batches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.servers import fresh_database
from nurture.bootstrap import build
from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services.templates import TemplateInput
from nurture.settings import Settings

JOURNEY = {
    "name": "Two sends",
    "category": "transactional",
    "trigger": {"type": "manual"},
    "entry": {"reentry": "once"},
    "nodes": [
        {"id": "first", "type": "send", "template": "First"},
        {"id": "pause", "type": "delay", "duration": "3s"},
        {"id": "second", "type": "send", "template": "Second"},
    ],
    "edges": [{"from": "first", "to": "pause"}, {"from": "pause", "to": "second"}],
}


def _setup(url: str, contacts: int) -> str:
    container = build(Settings(database_url=url, seed_example=False, log_level="warning"))
    container.migrate()
    workspace = container.workspaces.create("Bench").id
    for name in ("First", "Second"):
        content = Content(
            subject=name, body_format=BodyFormat.HTML, body="<p>Hi {{ contact.first_name }}</p>"
        )
        container.templates.create(
            workspace, TemplateInput(name, TemplateKind.EMAIL, Category.TRANSACTIONAL, content)
        )
    journey = container.journeys.apply(workspace, JOURNEY).journey.id
    container.close()
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO contacts
                 (workspace_id, id, email, first_name, attributes, created_at, updated_at)
               SELECT %s, lpad(n::text, 26, '0'), 'person' || n || '@example.com', 'P' || n,
                      '{}'::jsonb, now(), now()
               FROM generate_series(1, %s) AS n""",
            (workspace, contacts),
        )
        conn.execute(
            """INSERT INTO journey_inbox
                 (workspace_id, id, contact_id, kind, name, event_id, data, created_at)
               SELECT %s, lpad(n::text, 26, '0'), lpad(n::text, 26, '0'), 'enroll', %s, NULL,
                      '{"source": "bench"}'::jsonb, now()
               FROM generate_series(1, %s) AS n""",
            (workspace, journey, contacts),
        )
    return workspace


def _progress(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        runs = dict(conn.execute("SELECT status, count(*) FROM journey_runs GROUP BY status").fetchall())
        sends = dict(conn.execute("SELECT node_id, count(*) FROM messages GROUP BY node_id").fetchall())
        inbox = conn.execute("SELECT count(*) FROM journey_inbox").fetchone()
    return {
        "completed": int(runs.get("completed", 0)),
        "live": int(sum(v for k, v in runs.items() if k in ("active", "waiting", "calling"))),
        "failed": int(runs.get("failed", 0)),
        "first": int(sends.get("first", 0)),
        "second": int(sends.get("second", 0)),
        "inbox": int(inbox[0]) if inbox else 0,
    }


def _workers(url: str, count: int, workdir: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env.update(NURTURE_DATABASE_URL=url, NURTURE_LOG_LEVEL="warning")
    return [
        subprocess.Popen(
            [sys.executable, "-m", "nurture.cli.main", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / f"journey-worker-{n}.log").open("wb"),
        )
        for n in range(count)
    ]


def _ceiling(url: str, contacts: int) -> float:
    """The rows the journey writes, straight through psycopg in batches of 500 (seconds)."""
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE c_runs (id text PRIMARY KEY, node text, status text, steps int)")
        conn.execute(
            "CREATE TEMP TABLE c_out (id text PRIMARY KEY, contact_id text, node_id text, context jsonb)"
        )
        conn.execute(
            "CREATE TEMP TABLE c_steps (run_id text, seq int, reason text, PRIMARY KEY (run_id, seq))"
        )
        for start in range(0, contacts, 500):
            ids = [f"{n:026d}" for n in range(start, min(start + 500, contacts))]
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO c_runs VALUES (%s, 'first', 'active', 0)", [(i,) for i in ids])
            for node in ("first", "second"):
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO c_out VALUES (%s, %s, %s, '{}'::jsonb)",
                        [(f"{node}{i}", i, node) for i in ids],
                    )
                    cur.executemany(
                        "INSERT INTO c_steps VALUES (%s, %s, 'send')",
                        [(i, 1 if node == "first" else 2) for i in ids],
                    )
                    cur.executemany(
                        "UPDATE c_runs SET node = %s, steps = steps + 1 WHERE id = %s",
                        [(node, i) for i in ids],
                    )
            conn.commit()
    return time.monotonic() - started


def run(db: str, options: Any, workdir: Path) -> dict[str, Any]:
    contacts = options.journey_contacts
    workers = options.workers_journeys
    if db != "postgresql":
        return {"scenario": "journeys", "database": db, "skipped": "several worker processes need PostgreSQL"}
    with fresh_database(db, workdir, "journeys") as url:
        _setup(url, contacts)
        processes = _workers(url, workers, workdir)
        started = time.monotonic()
        killed_at: dict[str, int] | None = None
        deadline = started + options.journey_timeout
        try:
            while time.monotonic() < deadline:
                progress = _progress(url)
                if killed_at is None and progress["first"] >= contacts // 3:
                    processes[0].send_signal(signal.SIGKILL)  # mid-run, while it holds claimed rows
                    killed_at = progress
                if progress["completed"] + progress["failed"] >= contacts and progress["inbox"] == 0:
                    break
                time.sleep(0.25)
            elapsed = time.monotonic() - started
        finally:
            for process in processes[1:]:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
        final = _progress(url)
        with psycopg.connect(url) as conn:
            twice = conn.execute(
                "SELECT count(*) FROM (SELECT contact_id, node_id FROM messages"
                " GROUP BY 1, 2 HAVING count(*) > 1) d"
            ).fetchone()
            traced = conn.execute("SELECT count(*) FROM run_steps WHERE action = 'send'").fetchone()
        ceiling = _ceiling(url, contacts)
    exact = final["first"] == contacts and final["second"] == contacts and final["completed"] == contacts
    return {
        "scenario": "journeys",
        "database": db,
        "contacts": contacts,
        "workers": workers,
        "killed_worker_at": killed_at,
        "seconds": round(elapsed, 2),
        "runs_per_second": round(contacts / elapsed, 1),
        "sends_per_second": round(2 * contacts / elapsed, 1),
        "final": final,
        "duplicate_sends": int(twice[0]) if twice else -1,
        "send_trace_lines": int(traced[0]) if traced else -1,
        "exactly_once": exact and (twice is not None and twice[0] == 0),
        "ceiling_seconds": round(ceiling, 2),
        "ceiling_runs_per_second": round(contacts / ceiling, 1),
        "note": "the run includes a 3 s wait between the two sends",
    }


def table(results: list[dict[str, Any]]) -> str:
    rows = [r for r in results if r.get("scenario") == "journeys" and "skipped" not in r]
    if not rows:
        return ""
    lines = [
        "| journeys | contacts | workers (one SIGKILLed) | seconds | runs/s | sends/s | ceiling runs/s "
        "| exactly once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| two sends, 3 s apart | {r['contacts']:,} | {r['workers']} | {r['seconds']} "
            f"| {r['runs_per_second']:,} | {r['sends_per_second']:,} | {r['ceiling_runs_per_second']:,} | "
            f"{'yes' if r['exactly_once'] else 'NO'} ({r['final']['first']:,} + "
            f"{r['final']['second']:,} sends, {r['duplicate_sends']} twice) |"
        )
    return "\n".join(lines)
