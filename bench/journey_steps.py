"""Journey steps at scale, on PostgreSQL, carried by real `nurture worker --only journeys` processes.

`journey_steps`: N runs (100,000) wait on a delay node whose time has passed, all due at once; the
node after it sends an email (an outbox row) and the run completes. Runs are made by cloning one run
that the engine itself put to sleep on the delay (so every column is what the engine writes), with
`generate_series`, while the journey is paused; the workers start, and the clock starts when the
journey is resumed. Measured with 1, 2 and 4 worker processes, each time from the same rows. Beside
it, the ceiling: the same claim (`FOR UPDATE SKIP LOCKED`, batches of 1,000) and the same rows
written back (run state, the trace lines the engine wrote per run, one outbox row) through psycopg's
pipelined executemany, with 1 and 2 connections, in the same run.

`journey_sleepers`: M runs (1,000,000) sleep with `wake_at` in the future while D runs (10,000)
come due. Measured once with 10,000 sleepers and once with M: the claim statement's latency
(`claim_due_runs`, median of 30, rolled back), one worker process's time to step the D runs, and
its resident memory (VmHWM, the peak) — none of which may grow with the sleepers.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy import create_engine

from bench.servers import fresh_database
from nurture.bootstrap import build
from nurture.domain.journeys.runs import RunStatus
from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services.templates import TemplateInput
from nurture.settings import Settings
from nurture.store import journeys as store

JOURNEY = {
    "name": "Due at once",
    "category": "transactional",
    "trigger": {"type": "manual"},
    "entry": {"reentry": "always"},
    "nodes": [
        {"id": "pause", "type": "delay", "duration": "1d"},
        {"id": "mail", "type": "send", "template": "Reminder"},
    ],
    "edges": [{"from": "pause", "to": "mail"}],
}
CEILING_BATCH = 1_000
LISTENING = {"journeys", "dispatch"}  # the loops that LISTEN for wake-ups
RUN_COLUMNS = (
    "workspace_id, journey_id, version, correlation, status, node, lease_until, attempts, steps, "
    "context, sends, visits, entered_at, converted_at, ended_at, reason, updated_at"
)


@contextmanager
def workers(url: str, count: int, workdir: Path, loops: str = "journeys") -> Iterator[list[int]]:
    """`count` worker processes running only `loops`; yields their pids once each is listening."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env.update(NURTURE_DATABASE_URL=url, NURTURE_LOG_LEVEL="warning")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "nurture.cli.main", "worker", "--only", loops],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / f"journey-steps-worker-{n}.log").open("wb"),
        )
        for n in range(count)
    ]
    try:
        deadline = time.monotonic() + 60
        database = url.rsplit("/", 1)[1]
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN%%'",
                    (database,),
                ).fetchone()
                if row is not None and row[0] >= count * len(LISTENING & set(loops.split(","))):
                    break
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"workers did not start; see {workdir}/journey-steps-worker-*.log")
                time.sleep(0.1)
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM) of a process, in MB."""
    found: dict[str, float] = {}
    with Path(f"/proc/{pid}/status").open() as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(conn: psycopg.Connection[Any], database: str) -> list[int]:
    """The server processes of the database's connections, but for the asking one."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
    ).fetchall()
    return [int(row[0]) for row in rows]


class Bed:
    """A workspace with the journey, its contacts, and one run the engine put to sleep on the delay
    (`template`), cloned into as many runs as a measurement needs."""

    def __init__(self, url: str, contacts: int) -> None:
        self.url = url
        container = build(Settings(database_url=url, seed_example=False, log_level="warning"))
        container.migrate()
        self.workspace = container.workspaces.create("Bench").id
        content = Content(
            subject="Reminder", body_format=BodyFormat.HTML, body="<p>Hi {{ contact.first_name }}</p>"
        )
        container.templates.create(
            self.workspace, TemplateInput("Reminder", TemplateKind.EMAIL, Category.TRANSACTIONAL, content)
        )
        self.journey = container.journeys.apply(self.workspace, JOURNEY).journey.id
        with psycopg.connect(url) as conn:
            conn.execute(
                """INSERT INTO contacts
                     (workspace_id, id, email, first_name, attributes, created_at, updated_at)
                   SELECT %s, lpad(n::text, 26, '0'), 'person' || n || '@example.com', 'P' || n,
                          '{}'::jsonb, now(), now()
                   FROM generate_series(0, %s::bigint) AS n""",
                (self.workspace, contacts),
            )
            conn.execute(
                """INSERT INTO journey_inbox
                     (workspace_id, id, contact_id, kind, name, event_id, data, created_at)
                   VALUES (%s, 'inbox-template', lpad('0', 26, '0'), 'enroll', %s, NULL,
                           '{}'::jsonb, now())""",
                (self.workspace, self.journey),
            )
        container.journey_worker.run_once()
        container.close()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT id, status, node FROM journey_runs WHERE workspace_id = %s", (self.workspace,)
            ).fetchone()
        if row is None or row[1] != "waiting" or row[2] != "pause":
            raise RuntimeError(f"the template run is not asleep on the delay: {row}")
        self.template = str(row[0])

    def clone(
        self, conn: psycopg.Connection[Any], first: int, count: int, wake: str, *, contacts: bool
    ) -> None:
        """`count` copies of the template run, ids from `first`, waking at `wake` (an SQL expression
        of `n`); each for its own existing contact when `contacts`, else for contact ids no one has."""
        contact = "lpad(n::text, 26, '0')" if contacts else "'s' || lpad(n::text, 25, '0')"
        conn.execute(
            f"""INSERT INTO journey_runs (id, contact_id, wake_at, {RUN_COLUMNS})
                SELECT 'r' || lpad(n::text, 25, '0'), {contact}, {wake}, {RUN_COLUMNS}
                FROM journey_runs t, generate_series(%s::bigint, %s::bigint) AS n
                WHERE t.workspace_id = %s AND t.id = %s""",
            (first, first + count - 1, self.workspace, self.template),
        )

    def reset_due(self, count: int) -> None:
        """Leave only the sleepers: remove stepped runs, outbox rows and trace lines of clones, then
        add `count` runs due a minute ago (journey paused until `resume`), and settle the database."""
        with psycopg.connect(self.url) as conn:
            conn.execute("UPDATE journeys SET status = 'paused' WHERE id = %s", (self.journey,))
            conn.execute(
                "DELETE FROM journey_runs WHERE id <> %s AND contact_id NOT LIKE 's%%'", (self.template,)
            )
            conn.execute("TRUNCATE messages")
            conn.execute("DELETE FROM run_steps WHERE run_id <> %s", (self.template,))
            self.clone(conn, 1, count, "now() - interval '1 minute'", contacts=True)
        settle(self.url)

    def pause(self) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute("UPDATE journeys SET status = 'paused' WHERE id = %s", (self.journey,))

    def resume(self) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute("UPDATE journeys SET status = 'active' WHERE id = %s", (self.journey,))

    def due_left(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT count(*) FROM journey_runs WHERE status = 'waiting' AND wake_at <= now()"
        ).fetchone()
        return int(row[0]) if row else -1

    def outcome(self, due: int) -> dict[str, Any]:
        with psycopg.connect(self.url) as conn:
            counted = conn.execute("SELECT status, count(*) FROM journey_runs GROUP BY status").fetchall()
            runs: dict[str, int] = {str(status): int(n) for status, n in counted}
            sent = conn.execute("SELECT count(*), count(DISTINCT contact_id) FROM messages").fetchone()
            lines = conn.execute(
                "SELECT count(*) FROM run_steps WHERE run_id <> %s", (self.template,)
            ).fetchone()
        assert sent is not None
        assert lines is not None
        return {
            "completed": int(runs.get("completed", 0)),
            "failed": int(runs.get("failed", 0)),
            "outbox_rows": int(sent[0]),
            "contacts_sent": int(sent[1]),
            "trace_lines_per_run": round(int(lines[0]) / due, 2),
            "exactly_once": int(runs.get("completed", 0)) == due == int(sent[0]) == int(sent[1]),
        }

    def drain(self, processes: int, due: int, workdir: Path, timeout: float) -> dict[str, Any]:
        """Start the workers, resume the journey, wait until no run is due; seconds and memory."""
        peak: dict[int, dict[str, float]] = {}
        with (
            workers(self.url, processes, workdir) as pids,
            psycopg.connect(self.url, autocommit=True) as conn,
        ):
            database = self.url.rsplit("/", 1)[1]
            before = {pid: cpu_seconds(pid) for pid in [*pids, *backend_pids(conn, database)]}
            self.resume()
            started = time.monotonic()
            while self.due_left(conn) > 0:
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"{processes} workers: runs still due after {timeout:.0f} s")
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            peak = {pid: memory_mb(pid) for pid in pids}
            worker_cpu = sum(cpu_seconds(pid) - before[pid] for pid in pids)
            backends = backend_pids(conn, database)
            database_cpu = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in backends)
        result = {
            "processes": processes,
            "seconds": round(elapsed, 2),
            "steps_per_s": round(due / elapsed, 1),
            # CPU per step, and the rate both cores would give if they did nothing else
            "worker_cpu_us_per_step": round(worker_cpu / due * 1e6, 1),
            "database_cpu_us_per_step": round(database_cpu / due * 1e6, 1),
            "cpu_bound_steps_per_s_on_2_cores": round(2 * due / (worker_cpu + database_cpu), 1),
            "rss_mb": max(m["VmRSS"] for m in peak.values()),
            "peak_rss_mb": max(m["VmHWM"] for m in peak.values()),
        }
        result.update(self.outcome(due))
        return result


def settle(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


# ---- the ceiling: the same claim and the same rows, straight through psycopg ----


def _written(url: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """A run the engine stepped: its row, its outbox row and its new trace lines, as the model."""
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        run = conn.execute("SELECT * FROM journey_runs WHERE status = 'completed' LIMIT 1").fetchone()
        assert run is not None
        message = conn.execute(
            "SELECT * FROM messages WHERE contact_id = %s", (run["contact_id"],)
        ).fetchone()
        lines = conn.execute(
            "SELECT * FROM run_steps WHERE run_id = %s ORDER BY seq", (run["id"],)
        ).fetchall()
    assert message is not None
    assert lines
    return run, message, lines


def _types(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (table,),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _ceiling_worker(
    url: str, model: tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]], done: list[int]
) -> None:
    """Claim a batch, then write it back in three statements: the outbox rows (INSERT … SELECT from
    one JSON document, ON CONFLICT DO NOTHING), the trace lines (COPY), the run states (UPDATE …
    FROM one JSON document); commit; until nothing is due."""
    run, message, lines = model
    saved_columns = (
        "status",
        "node",
        "wake_at",
        "steps",
        "context",
        "sends",
        "visits",
        "ended_at",
        "updated_at",
    )
    with psycopg.connect(url) as conn:
        kinds = _types(conn, "messages")
        record = ", ".join(f"{name} {kind}" for name, kind in kinds.items())
        insert_messages = (
            f"INSERT INTO messages ({', '.join(kinds)}) SELECT {', '.join(kinds)}"
            f" FROM jsonb_to_recordset(%s::jsonb) AS v({record}) ON CONFLICT DO NOTHING"
        )
        run_kinds = _types(conn, "journey_runs")
        update_runs = (
            f"UPDATE journey_runs r SET {', '.join(f'{c} = v.{c}' for c in saved_columns)}"
            f" FROM jsonb_to_recordset(%s::jsonb) AS v(workspace_id text, id text,"
            f" {', '.join(f'{c} {run_kinds[c]}' for c in saved_columns)})"
            " WHERE r.workspace_id = v.workspace_id AND r.id = v.id"
        )
        conn.commit()
        while True:
            now = datetime.now(UTC)
            claimed = conn.execute(
                """SELECT r.workspace_id, r.id, r.contact_id, r.steps
                   FROM journey_runs r
                   WHERE r.status = 'waiting' AND r.wake_at <= %s
                     AND EXISTS (SELECT 1 FROM journeys j WHERE j.workspace_id = r.workspace_id
                                 AND j.id = r.journey_id AND j.status = 'active')
                   ORDER BY r.wake_at LIMIT %s FOR UPDATE OF r SKIP LOCKED""",
                (now, CEILING_BATCH),
            ).fetchall()
            if not claimed:
                conn.rollback()
                return
            messages, saved = [], []
            with conn.cursor() as cursor:
                with cursor.copy(
                    "COPY run_steps (workspace_id, run_id, seq, at, node, action, reason, data) FROM STDIN"
                ) as copy:
                    for workspace_id, run_id, contact_id, seq in claimed:
                        messages.append(
                            {
                                **message,
                                "id": f"c{run_id}",
                                "contact_id": contact_id,
                                "source_key": f"{run_id}:m",
                            }
                        )
                        for n, line in enumerate(lines):
                            copy.write_row(
                                (
                                    workspace_id,
                                    run_id,
                                    seq + n + 1,
                                    now,
                                    line["node"],
                                    line["action"],
                                    line["reason"],
                                    orjson.dumps(line["data"]).decode(),
                                )
                            )
                        saved.append(
                            {
                                "workspace_id": workspace_id,
                                "id": run_id,
                                "status": "completed",
                                "node": None,
                                "wake_at": None,
                                "steps": seq + len(lines),
                                "context": run["context"],
                                "sends": run["sends"],
                                "visits": run["visits"],
                                "ended_at": now,
                                "updated_at": now,
                            }
                        )
                cursor.execute(insert_messages, (orjson.dumps(messages).decode(),))
                cursor.execute(update_runs, (orjson.dumps(saved).decode(),))
            conn.commit()
            done.append(len(claimed))


def ceiling(bed: Bed, connections: int, due: int, model: Any) -> dict[str, Any]:
    bed.reset_due(due)
    bed.resume()
    done: list[int] = []
    threads = [
        threading.Thread(target=_ceiling_worker, args=(bed.url, model, done)) for _ in range(connections)
    ]
    started, python_cpu = time.monotonic(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, python_cpu = time.monotonic() - started, time.process_time() - python_cpu
    if sum(done) != due:
        raise RuntimeError(f"ceiling stepped {sum(done)} of {due} runs")
    return {
        "connections": connections,
        "seconds": round(elapsed, 2),
        "steps_per_s": round(due / elapsed, 1),
        "python_cpu_us_per_step": round(python_cpu / due * 1e6, 1),
    }


def run_steps(db: str, options: Any, workdir: Path) -> dict[str, Any]:
    if db != "postgresql":
        return {
            "scenario": "journey_steps",
            "database": db,
            "skipped": "several worker processes need PostgreSQL",
        }
    due = options.journey_due
    out: dict[str, Any] = {"scenario": "journey_steps", "database": db, "due": due, "rounds": []}
    with fresh_database(db, workdir, "journey_steps") as url:
        bed = Bed(url, due)
        for processes in options.journey_processes:
            print(f"  … {processes} worker process(es)", file=sys.stderr, flush=True)
            bed.reset_due(due)
            out["rounds"].append(bed.drain(processes, due, workdir, options.journey_timeout))
        model = _written(url)
        out["ceilings"] = [ceiling(bed, n, due, model) for n in (1, 2)]
    return out


# ---- sleepers ----


def claim_latency(url: str, limit: int, repeat: int = 30) -> dict[str, float]:
    """`claim_due_runs` as the worker runs it, rolled back each time: median and worst in ms."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    timings = []
    try:
        with engine.connect() as conn:
            for _ in range(repeat):
                started = time.perf_counter()
                claimed = store.claim_due_runs(conn, datetime.now(UTC), limit, RunStatus.WAITING)
                timings.append(time.perf_counter() - started)
                conn.rollback()
                if len(claimed) != limit:
                    raise RuntimeError(f"claimed {len(claimed)} runs, expected {limit}")
    finally:
        engine.dispose()
    return {"median_ms": round(statistics.median(timings) * 1000, 2), "max_ms": round(max(timings) * 1000, 2)}


def run_sleepers(db: str, options: Any, workdir: Path) -> dict[str, Any]:
    if db != "postgresql":
        return {"scenario": "journey_sleepers", "database": db, "skipped": "measured on PostgreSQL"}
    due, sleepers = options.journey_sleepers_due, options.journey_sleepers
    out: dict[str, Any] = {"scenario": "journey_sleepers", "database": db, "due": due, "rounds": []}
    base = 10_000_000  # sleeper ids and contacts start here, out of the due runs' way
    with fresh_database(db, workdir, "journey_sleepers") as url:
        bed = Bed(url, due)
        have = 0
        for wanted in (min(10_000, sleepers), sleepers):
            started = time.monotonic()
            with psycopg.connect(url) as conn:  # sleepers wake over the next 30 days
                bed.clone(
                    conn,
                    base + have,
                    wanted - have,
                    "now() + (mod(n, 2592000) + 3600) * interval '1 second'",
                    contacts=False,
                )
            made = time.monotonic() - started
            have = wanted
            bed.reset_due(due)
            bed.resume()  # claims skip paused journeys' runs; these are rolled back
            latency = claim_latency(url, 200)
            bed.pause()
            print(f"  … {due:,} due among {wanted:,} sleepers", file=sys.stderr, flush=True)
            drained = bed.drain(1, due, workdir, options.journey_timeout)
            out["rounds"].append(
                {"sleepers": wanted, "generated_seconds": round(made, 1), "claim_200": latency, **drained}
            )
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for r in results:
        if r.get("scenario") == "journey_steps" and "skipped" not in r:
            ceilings = "; ".join(
                f"{c['steps_per_s']:,.0f}/s ({c['connections']} conn)" for c in r["ceilings"]
            )
            best = max(c["steps_per_s"] for c in r["ceilings"])
            if not lines:
                lines += [
                    "| journeys | runs | worker processes | seconds | steps/s "
                    "| ceiling, same rows via driver | engine / ceiling | peak RSS | exactly once |",
                    "|---|---|---|---|---|---|---|---|---|",
                ]
            for n in r["rounds"]:
                lines.append(
                    f"| due at once: delay → send | {r['due']:,} | {n['processes']} | {n['seconds']} "
                    f"| **{n['steps_per_s']:,.0f}** | {ceilings} | {n['steps_per_s'] / best:.0%} "
                    f"| {n['peak_rss_mb']:.0f} MB | {'yes' if n['exactly_once'] else 'NO'} |"
                )
    sleepers = [r for r in results if r.get("scenario") == "journey_sleepers" and "skipped" not in r]
    for r in sleepers:
        lines += [
            "",
            "| journeys: sleepers | runs due | claim 200, median (max) | 1 process: seconds | steps/s "
            "| peak RSS | exactly once |",
            "|---|---|---|---|---|---|---|",
        ]
        for n in r["rounds"]:
            c = n["claim_200"]
            lines.append(
                f"| {n['sleepers']:,} asleep | {r['due']:,} | {c['median_ms']} ms ({c['max_ms']} ms) "
                f"| {n['seconds']} | {n['steps_per_s']:,.0f} | **{n['peak_rss_mb']:.0f} MB** "
                f"| {'yes' if n['exactly_once'] else 'NO'} |"
            )
    return "\n".join(lines)
