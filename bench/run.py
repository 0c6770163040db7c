"""`python -m bench.run`: ingest over HTTP, CSV import, audiences (segment evaluation on a generated
workspace, and the live path) and message dispatch on SQLite and PostgreSQL, each beside its ceiling
measured in the same run where there is one. Prints markdown tables; writes JSON under bench/results/.

Every server runs on a fresh database (a SQLite file in a temporary directory, or a throw-away
PostgreSQL database on 127.0.0.1:5432 that is dropped afterwards). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench import (
    audiences,
    ceiling,
    dispatch,
    imports,
    ingest_audience,
    journey_latency,
    journey_steps,
    journeys,
    load,
    servers,
    templates,
    workload,
)
from bench import email as email_bench

RESULTS = Path(__file__).resolve().parent / "results"
DATABASES = ("sqlite", "postgresql")
SCENARIOS = (
    "batch",
    "single",
    "import",
    "templates",
    "email",
    "audiences",
    "dispatch",
    "journeys",
    "journey_steps",
    "journey_sleepers",
    "journey_latency",
)
NO_DATABASE = ("templates", "email")
NOT_HTTP = ("audiences", "dispatch", "journeys", "journey_steps", "journey_sleepers", "journey_latency")


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs and a 20,000-row import")
    parser.add_argument("--db", default=",".join(DATABASES), help="sqlite,postgresql (default both)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"{','.join(SCENARIOS)} (default all)")
    parser.add_argument("--seconds", type=float, help="measured seconds per HTTP run (default 10; quick 4)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (NURTURE_WEB_CONCURRENCY)")
    parser.add_argument("--batch-clients", type=int, default=8, help="concurrent /v1/batch connections")
    parser.add_argument("--single-clients", type=int, default=64, help="concurrent /v1/track connections")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    parser.add_argument("--import-rows", type=int, help="CSV rows (default 100,000; quick 20,000)")
    parser.add_argument(
        "--history", type=int, default=20_000, help="events stored before each HTTP run (default 20,000)"
    )
    parser.add_argument(
        "--people", type=int, default=20_000, help="distinct people the events are about (default 20,000)"
    )
    parser.add_argument("--contacts", type=int, help="audiences: contacts (default 1,000,000; quick 20,000)")
    parser.add_argument("--events", type=int, help="audiences: events (default 10,000,000; quick 200,000)")
    parser.add_argument("--seed", type=int, default=2026, help="audiences: generator seed (default 2026)")
    parser.add_argument("--repeat", type=int, default=3, help="audiences: runs of each query (median kept)")
    parser.add_argument("--live-rate", type=float, default=500.0, help="audiences: events/s on the live path")
    parser.add_argument(
        "--live-seconds", type=float, help="audiences: live path duration (default 30; quick 10; 0 skips it)"
    )
    parser.add_argument(
        "--journey-contacts", type=int, help="journeys: contacts (default 50,000; quick 5,000)"
    )
    parser.add_argument(
        "--workers-journeys", type=int, default=4, help="journeys: worker processes (default 4)"
    )
    parser.add_argument(
        "--journey-timeout", type=float, default=900.0, help="journeys: give up after (seconds)"
    )
    parser.add_argument(
        "--journey-due", type=int, help="journey_steps: runs due at once (default 100,000; quick 10,000)"
    )
    parser.add_argument(
        "--journey-processes",
        default="1,2,4",
        help="journey_steps: worker processes per round (default 1,2,4)",
    )
    parser.add_argument(
        "--journey-sleepers",
        type=int,
        help="journey_sleepers: runs asleep (default 1,000,000; quick 100,000)",
    )
    parser.add_argument(
        "--journey-sleepers-due", type=int, default=10_000, help="journey_sleepers: runs due (default 10,000)"
    )
    parser.add_argument(
        "--journey-rate", type=float, default=200.0, help="journey_latency: events/s (default 200)"
    )
    parser.add_argument(
        "--journey-seconds", type=float, help="journey_latency: seconds of traffic (default 30; quick 10)"
    )
    parser.add_argument("--messages", type=int, help="dispatch: recipients (default 100,000; quick 10,000)")
    parser.add_argument("--emails", type=int, help="email: messages per run (default 20,000; quick 4,000)")
    parser.add_argument("--smtp-connections", type=int, default=4, help="email: SMTP connections (default 4)")
    parser.add_argument("--email-procs", type=int, default=os.cpu_count() or 2, help="email: mail processes")
    parser.add_argument(
        "--audience",
        action="store_true",
        help="batch/single: run with three segments and a journey defined (ingest queues their changes)",
    )
    parser.add_argument("--server-env", action="append", default=[], help="extra NAME=VALUE for the server")
    parser.add_argument("--label", default="", help="a note stored with the results")
    options = parser.parse_args(argv)
    options.seconds = options.seconds or (4.0 if options.quick else 10.0)
    options.import_rows = options.import_rows or (20_000 if options.quick else 100_000)
    options.messages = options.messages or (10_000 if options.quick else 100_000)
    options.emails = options.emails or (4_000 if options.quick else 20_000)
    options.contacts = options.contacts or (20_000 if options.quick else 1_000_000)
    options.events = options.events or (200_000 if options.quick else 10_000_000)
    options.journey_contacts = options.journey_contacts or (5_000 if options.quick else 50_000)
    options.journey_due = options.journey_due or (10_000 if options.quick else 100_000)
    options.journey_processes = [int(n) for n in options.journey_processes.split(",") if n.strip()]
    options.journey_sleepers = options.journey_sleepers or (100_000 if options.quick else 1_000_000)
    options.journey_seconds = options.journey_seconds or (10.0 if options.quick else 30.0)
    if options.live_seconds is None:
        options.live_seconds = 10.0 if options.quick else 30.0
    options.dbs = [d.strip() for d in options.db.split(",") if d.strip()]
    options.scenarios = [s.strip() for s in options.only.split(",") if s.strip()]
    for name in options.dbs:
        if name not in DATABASES:
            parser.error(f"--db: unknown database {name!r}; use {', '.join(DATABASES)}")
    for name in options.scenarios:
        if name not in SCENARIOS:
            parser.error(f"--only: unknown scenario {name!r}; use {', '.join(SCENARIOS)}")
    return options


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": free.splitlines()[1].split()[1] if free else "unknown",
        "free_h": free.strip(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        with psycopg.connect(servers.PG_ADMIN) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else "unknown"
    except psycopg.Error:
        info["postgresql"] = "unavailable"
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    info["git"] = git.stdout.strip()
    return info


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _count_events(url: str) -> int:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0


def _settle(url: str) -> None:
    """Bring the database to the state of one that has been running for a while, so short runs are
    comparable: planner statistics (as autovacuum keeps them) and a fresh checkpoint.

    On tables it has never analysed (or analysed when they were tiny) PostgreSQL looks message ids and
    identities up with scans that grow with the table; a run of a few seconds would measure that
    start-up state. A checkpoint falling inside one run but not another makes them differ by a third.
    """
    if url.startswith("postgresql"):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
            conn.execute("CHECKPOINT")
    else:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@contextmanager
def _ceiling_database(
    db: str, workdir: Path, name: str, history: list[workload.Rows]
) -> Iterator[tuple[str, str]]:
    """A fresh database with a workspace and the same history the server had before its run."""
    with servers.fresh_database(db, workdir, name) as url:
        workspace_id = imports.create_workspace(url)
        ceiling.measure(url, workspace_id, history, requests_per_txn=1, writers=1, seconds=600)
        _settle(url)
        yield url, workspace_id


def _http(db: str, kind: str, options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One HTTP run (`batch` or `single`) on a fresh database, then its ceilings on others.

    Before the measured run the server ingests a history (`--history` events in batches, about the
    same people), so lookups meet tables of some size with planner statistics, as in a running system.
    """
    per_request = 100 if kind == "batch" else 1
    clients = options.batch_clients if kind == "batch" else options.single_clients
    # enough requests for 40,000 (batch) or 6,000 (single) events/s over the whole run; a faster
    # server runs out of requests early, which shortens the run but not the rate
    budget = int((400 if kind == "batch" else 6000) * options.seconds)
    # plain ingest: the Example workspace without the shipped journeys (`--audience` defines its own)
    extra_env = {
        "NURTURE_EXAMPLE_JOURNEYS": "false",
        **dict(item.split("=", 1) for item in options.server_env),
    }
    with servers.fresh_database(db, workdir, f"{kind}_http") as url:
        with servers.serve(url, options.workers, workdir / f"{db}-{kind}.log", extra_env) as server:
            if options.audience:
                ingest_audience.define(server)
            history, work = workload.build(
                seed=zlib.crc32(f"{db}:{kind}".encode()) & 0xFFFF,
                parts=[(options.history // 100, 100), (budget, per_request)],
                write_key=server.write_key,
                host=server.authority,
                people=options.people,
            )
            warm = load.run(
                server.host, server.port, history.requests, connections=4, processes=1, seconds=300
            )
            if warm.errors or warm.requests_ok < len(history.requests):
                raise RuntimeError(f"history not stored: {warm.errors} errors, {warm.error_samples}")
            _settle(url)
            result = load.run(
                server.host,
                server.port,
                work.requests,
                connections=clients,
                processes=options.client_procs,
                seconds=options.seconds,
            )
        stored = _count_events(url)
    elapsed = result.finished - result.started
    events = result.requests_ok * per_request
    measured_rows = work.rows[: result.requests_ok]
    out: dict[str, Any] = {
        "scenario": kind,
        "database": db,
        "events_per_request": per_request,
        "audience": options.audience,
        "clients": clients,
        "workers": options.workers,
        "history_events": options.history // 100 * 100,
        "people": options.people,
        "body_bytes": work.body_bytes,
        "requests_ok": result.requests_ok,
        "errors": result.errors,
        "error_samples": result.error_samples,
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(_percentile(result.latencies, 0.5) * 1000, 2),
        "p99_ms": round(_percentile(result.latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(result.latencies) * 1000, 2) if result.latencies else 0.0,
        "client_cpu_share": round(result.cpu_seconds / elapsed, 2) if elapsed else 0.0,
        "events_stored": stored,
        "events_acknowledged": events + len(history.requests) * 100,
    }
    if stored < out["events_acknowledged"]:
        raise RuntimeError(f"{db} {kind}: {out['events_acknowledged']} events acknowledged, {stored} stored")
    ceilings: dict[str, Any] = {}
    pg_writers = options.workers
    with _ceiling_database(db, workdir, f"{kind}_ceiling", history.rows) as (url, workspace_id):
        # the same rows, 100 events per transaction (a batch request's worth)
        ceilings["batched"] = ceiling.measure(
            url,
            workspace_id,
            measured_rows,
            requests_per_txn=100 // per_request,
            writers=1 if db == "sqlite" else pg_writers,
            seconds=options.seconds,
        )
    if kind == "single":
        with _ceiling_database(db, workdir, f"{kind}_ceiling_1", history.rows) as (url, workspace_id):
            # one event per transaction from many connections: what /v1/track does without grouping
            ceilings["per_event"] = ceiling.measure(
                url,
                workspace_id,
                measured_rows,
                requests_per_txn=1,
                writers=1 if db == "sqlite" else 16,
                seconds=options.seconds,
            )
    if db == "postgresql" and kind == "batch":
        with _ceiling_database(db, workdir, f"{kind}_copy", history.rows) as (url, workspace_id):
            ceilings["batched_copy"] = ceiling.measure(
                url,
                workspace_id,
                measured_rows,
                requests_per_txn=1,
                writers=pg_writers,
                seconds=options.seconds,
                copy=True,
            )
    out["ceilings"] = ceilings
    return out


def _import(db: str, options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    csv_path = workdir / "contacts.csv"
    rows = imports.write_csv(csv_path, options.import_rows)
    with servers.fresh_database(db, workdir, "import_cli") as url:
        measured = imports.measure_cli(url, csv_path)
    with servers.fresh_database(db, workdir, "import_ceiling") as url:
        workspace_id = imports.create_workspace(url)
        measured["ceilings"] = {"chunked": imports.measure_ceiling(url, workspace_id, rows)}
    measured.update(scenario="import", database=db)
    return measured


def _number(value: float) -> str:
    return f"{value:,.0f}"


def table(results: list[dict[str, Any]]) -> str:
    if not results:
        return ""
    lines = [
        "| benchmark | database | nurture | ceiling, same rows via driver | nurture / ceiling | p50 | p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    for r in results:
        if r["scenario"] == "email":
            lines.extend(email_bench.rows(r))
            continue
        if r["scenario"] == "templates":
            c = r["ceilings"]["compile_every_message"]
            lines.append(
                f"| templates: cart email rendered (subject, HTML, text), 1 core | none "
                f"| **{_number(r['renders_per_s'])} renders/s** ({r['ms_per_render']:.2f} ms) "
                f"| {_number(c['renders_per_s'])}/s compiling per message | | | |"
            )
            continue
        db = names[r["database"]]
        if r["scenario"] == "import":
            c = r["ceilings"]["chunked"]
            lines.append(
                f"| `nurture import contacts`, {_number(r['rows'])} rows | {db} "
                f"| {_number(r['rows_per_s'])} rows/s ({r['seconds']:.1f} s) "
                f"| {_number(c['rows_per_s'])} rows/s ({c['seconds']:.1f} s; {imports.CHUNK_ROWS}/txn) "
                f"| {r['rows_per_s'] / c['rows_per_s']:.0%} | | |"
            )
            continue
        c = r["ceilings"]
        label = (
            f"`/v1/batch` x{r['events_per_request']}, {r['clients']} clients"
            if r["scenario"] == "batch"
            else f"`/v1/track`, {r['clients']} clients"
        ) + (", 3 segments + 1 journey" if r.get("audience") else "")
        parts = [f"{_number(c['batched']['events_per_s'])}/s ({c['batched']['events_per_txn']}/txn)"]
        if "batched_copy" in c:
            parts.append(f"{_number(c['batched_copy']['events_per_s'])}/s (COPY)")
        if "per_event" in c:
            parts.append(
                f"{_number(c['per_event']['events_per_s'])}/s (1/txn, {c['per_event']['writers']} conns)"
            )
        errors = f" ({r['errors']} errors)" if r["errors"] else ""
        lines.append(
            f"| {label} | {db} | **{_number(r['events_per_s'])} events/s**{errors} | {'; '.join(parts)} "
            f"| {r['events_per_s'] / c['batched']['events_per_s']:.0%} "
            f"| {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    info = machine()
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    options_out = {k: v for k, v in vars(options).items() if k not in ("db", "only")}

    def save(partial: dict[str, Any] | None = None, report: str = "") -> None:
        """Write what has been measured so far (a long run that fails later keeps its figures)."""
        done = results + ([partial] if partial else [])
        document = {"machine": info, "options": options_out, "results": done, "table": report}
        path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))

    with tempfile.TemporaryDirectory(prefix="nurture-bench-") as tmp:
        workdir = Path(tmp)
        if "templates" in options.scenarios:
            print("… templates (no database)", file=sys.stderr, flush=True)
            results.append(templates.measure(options.seconds))
        if "email" in options.scenarios:
            print("… email (no database)", file=sys.stderr, flush=True)
            load_before = os.getloadavg()[0]
            result = email_bench.measure(options)
            result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            results.append(result)
            save()
        for db in options.dbs:
            for scenario in (s for s in options.scenarios if s not in NO_DATABASE):
                print(f"… {scenario} on {db}", file=sys.stderr, flush=True)
                load_before = os.getloadavg()[0]
                if scenario == "import":
                    result = _import(db, options, workdir)
                elif scenario == "audiences":
                    result = audiences.run(db, options, workdir, save)
                elif scenario == "journeys":
                    result = journeys.run(db, options, workdir)
                elif scenario == "journey_steps":
                    result = journey_steps.run_steps(db, options, workdir)
                elif scenario == "journey_sleepers":
                    result = journey_steps.run_sleepers(db, options, workdir)
                elif scenario == "journey_latency":
                    result = journey_latency.run(db, options, workdir)
                elif scenario == "dispatch":
                    result = dispatch.run(db, options.messages, workdir)
                else:
                    result = _http(db, scenario, options, workdir)
                result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                results.append(result)
                save()
    info["total_seconds"] = round(time.monotonic() - started, 1)
    report = "\n\n".join(
        part
        for part in (
            table([r for r in results if r["scenario"] not in NOT_HTTP]),
            audiences.table([r for r in results if r["scenario"] == "audiences"]),
            journeys.table(results),
            journey_steps.table(results),
            journey_latency.table(results),
            dispatch.table([r for r in results if r["scenario"] == "dispatch"]),
        )
        if part
    )
    print(
        f"\n{info['date']} · {info['nproc']} x {info['cpu']} · {info['memory']} RAM · "
        f"PostgreSQL {info['postgresql']} · SQLite {info['sqlite']} · git {info['git']}"
        f"{' · ' + options.label if options.label else ''}\n"
    )
    print(report)
    save(report=report)
    print(f"\nresults: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
