"""Audience benchmarks: a generated workspace (1,000,000 contacts, 10,000,000 events by default),
bulk-loaded into a fresh database; full evaluation of five segments, compiled by nurture
(`nurture.store.audience_sql`) and written by hand in SQL, timed in the same run and checked to find
the same contacts; then the live path (event accepted → segment entered) through a real server.
"""

from __future__ import annotations

import hashlib
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, func, select

from bench import audience_data as data
from bench import audience_live, servers
from bench import audience_queries as queries
from bench.audience_load import create_workspace, driver_url, load
from nurture.domain.conditions import parse_condition
from nurture.store.db import Database

RESULTS = Path(__file__).resolve().parent / "results"

try:
    from nurture.store import audience_sql
except ImportError:  # the compiler is not on this branch yet: hand SQL only
    audience_sql = None  # type: ignore[assignment]


def _timed(run: Callable[[queries.Segment], Any], segment: queries.Segment) -> tuple[float, Any]:
    started = time.perf_counter()
    value = run(segment)
    return time.perf_counter() - started, value


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


class _Hand:
    """The hand SQL through the bare driver (no SQLAlchemy), with the server's default settings."""

    def __init__(self, dialect: str, url: str, workspace_id: str) -> None:
        self.dialect = dialect
        self.params = queries.parameters(dialect, workspace_id, data.NOW)
        self.conn: Any
        if dialect == "sqlite":
            self.conn = sqlite3.connect(driver_url(url), isolation_level=None)
        else:
            self.conn = psycopg.connect(driver_url(url), autocommit=True)

    def count(self, segment: queries.Segment) -> int:
        row = self.conn.execute(
            f"SELECT count(*) FROM ({segment.sql(self.dialect)}) q", self.params
        ).fetchone()
        return int(row[0])

    def ids(self, segment: queries.Segment) -> list[str]:
        return [row[0] for row in self.conn.execute(segment.sql(self.dialect), self.params).fetchall()]

    def plan(self, segment: queries.Segment) -> str:
        sql = segment.sql(self.dialect)
        prefix = "EXPLAIN QUERY PLAN " if self.dialect == "sqlite" else "EXPLAIN "
        rows = self.conn.execute(prefix + sql, self.params).fetchall()
        return "\n".join(str(row[-1]) for row in rows)

    def close(self) -> None:
        self.conn.close()


class _Compiled:
    """nurture's compiled audience through its own engine, as the segment service would run it."""

    def __init__(self, url: str, workspace_id: str) -> None:
        self.db = Database(url)
        self.workspace_id = workspace_id

    def _select(self, segment: queries.Segment) -> Any:
        condition = parse_condition(segment.condition)
        return audience_sql.audience_ids(self.db.writer.dialect, self.workspace_id, condition, data.NOW)

    def count(self, segment: queries.Segment) -> int:
        condition = parse_condition(segment.condition)
        with self.db.read() as conn:
            return int(audience_sql.count_matching(conn, self.workspace_id, condition, data.NOW))

    def ids(self, segment: queries.Segment) -> list[str]:
        with self.db.read() as conn:
            return [str(v) for v in conn.execute(self._select(segment)).scalars().all()]

    def count_select(self, segment: queries.Segment) -> int:
        ids = self._select(segment).subquery()
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(ids)).scalar_one())

    def plan(self, segment: queries.Segment) -> tuple[str, str]:
        """The compiled SQL and its plan: the very statement and parameters nurture sends, prefixed
        with EXPLAIN on their way to the driver."""
        select_ = self._select(segment)
        prefix = "EXPLAIN QUERY PLAN " if self.db.dialect == "sqlite" else "EXPLAIN "

        def explain(*args: Any) -> tuple[str, Any]:
            statement, parameters = args[2], args[3]
            return prefix + statement, parameters

        with self.db.read() as conn:
            event.listen(conn, "before_cursor_execute", explain, retval=True)
            try:
                rows = conn.execute(select_).fetchall()
            finally:
                event.remove(conn, "before_cursor_execute", explain)
        sql = str(select_.compile(dialect=self.db.writer.dialect))
        return sql, "\n".join(str(row[-1]) for row in rows)

    def close(self) -> None:
        self.db.dispose()


def measure_segments(dialect: str, url: str, workspace_id: str, repeat: int) -> list[dict[str, Any]]:
    """Each segment: count and full id list, hand SQL and compiled, `repeat` times interleaved."""
    hand = _Hand(dialect, url, workspace_id)
    compiled = _Compiled(url, workspace_id) if audience_sql is not None else None
    out = []
    try:
        for segment in queries.SEGMENTS:
            print(f"   … segment {segment.key}", file=sys.stderr, flush=True)
            times: dict[str, list[float]] = {
                "hand_count": [],
                "hand_ids": [],
                "nurture_count": [],
                "nurture_ids": [],
            }
            answers: dict[str, Any] = {}
            for _ in range(repeat):
                for side, runner in (("hand", hand), ("nurture", compiled)):
                    if runner is None:
                        continue
                    seconds, count = _timed(runner.count, segment)
                    times[f"{side}_count"].append(seconds)
                    seconds, ids = _timed(runner.ids, segment)
                    times[f"{side}_ids"].append(seconds)
                    answers[side] = (count, ids)
            hand_count, hand_ids = answers["hand"]
            result: dict[str, Any] = {
                "segment": segment.key,
                "title": segment.title,
                "kind": segment.kind,
                "condition": segment.condition,
                "matching": hand_count,
                "ids_digest": _digest(hand_ids),
                "hand_sql": segment.sql(dialect),
                "hand_plan": hand.plan(segment),
                "seconds": {k: [round(v, 4) for v in vs] for k, vs in times.items() if vs},
                "median": {k: round(statistics.median(vs), 4) for k, vs in times.items() if vs},
            }
            if hand_count != len(hand_ids):
                raise RuntimeError(f"{segment.key}: hand count {hand_count} but {len(hand_ids)} ids")
            if compiled is not None:
                nurture_count, nurture_ids = answers["nurture"]
                same = nurture_count == hand_count and set(nurture_ids) == set(hand_ids)
                result["same_answer"] = same
                result["nurture_matching"] = nurture_count
                result["nurture_sql"], result["nurture_plan"] = compiled.plan(segment)
                if not same:
                    missing = len(set(hand_ids) - set(nurture_ids))
                    extra = len(set(nurture_ids) - set(hand_ids))
                    result["difference"] = {"missing": missing, "extra": extra}
                    print(
                        f"   !! {segment.key}: compiled answer differs from hand SQL "
                        f"(count {nurture_count} vs {hand_count}; {missing} missing, {extra} extra)",
                        file=sys.stderr,
                        flush=True,
                    )
            out.append(result)
    finally:
        hand.close()
        if compiled is not None:
            compiled.close()
    return out


def run(db: str, options: Any, workdir: Path, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Generate, load, evaluate the segments and (unless skipped) measure the live path on `db`;
    `save` keeps the figures measured before the live path."""
    scale = data.Scale(contacts=options.contacts, events=options.events, seed=options.seed)
    with servers.fresh_database(db, workdir, "audiences") as url:
        keys = create_workspace(url)
        ws = data.Workspace(keys["id"], scale)
        print(
            f"   … loading {scale.contacts:,} contacts, {scale.events:,} events", file=sys.stderr, flush=True
        )
        loaded = load(url, ws)
        result: dict[str, Any] = {
            "scenario": "audiences",
            "database": db,
            "scale": {"contacts": scale.contacts, "events": scale.events, "seed": scale.seed},
            "now": data.NOW.isoformat(),
            "load": loaded,
            "compiler": audience_sql is not None,
            "segments": measure_segments(db, url, keys["id"], options.repeat),
        }
        save(result)
        if options.live_seconds > 0:
            print("   … live path", file=sys.stderr, flush=True)
            RESULTS.mkdir(exist_ok=True)
            log = RESULTS / f"audiences-{db}-{time.strftime('%Y%m%dT%H%M%S')}-server.log"
            result["live_server_log"] = str(log)
            try:
                with servers.serve(url, options.workers, log, seeded=False) as server:
                    result["live"] = audience_live.measure(
                        url, server, keys, ws, rate=options.live_rate, seconds=options.live_seconds
                    )
            except RuntimeError as exc:  # no segments API or worker on this branch yet
                result["live"] = {"error": str(exc)[:500]}
    return result


TARGETS = {"simple": (5.0, 1.0), "aggregate": (30.0, 5.0)}  # PostgreSQL, 2 cores: target, goal (s)
LIVE_TARGET_MS = (2000.0, 200.0)
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: the load, then each segment's medians (nurture beside the hand SQL), then the live path."""
    if not results:
        return ""
    lines = [
        "| database | scale | load | rows/s | events COPY/insert | indexes | ANALYZE |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        load_ = r["load"]
        sec = load_["seconds"]
        lines.append(
            f"| {NAMES[r['database']]} "
            f"| {r['scale']['contacts']:,} contacts, {r['scale']['events']:,} events "
            f"| {load_['total_seconds']:.1f} s | {load_['rows_per_s']:,.0f} "
            f"| {load_['events_per_s_copy']:,.0f} events/s "
            f"| {sec['indexes']:.1f} s | {sec['analyze']:.1f} s |"
        )
    lines += [
        "",
        "| segment | database | matching | nurture: count | hand SQL: count | nurture: ids | hand SQL: ids "
        "| nurture / hand (ids) | target / goal | same answer |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for seg in r["segments"]:
            m = seg["median"]
            nurture_ids = m.get("nurture_ids")
            ratio = (
                f"{nurture_ids / m['hand_ids']:.1f}x" if nurture_ids is not None and m["hand_ids"] else "-"
            )
            target, goal = TARGETS[seg["kind"]]
            same = {True: "yes", False: "**NO**"}.get(seg.get("same_answer"), "-")
            lines.append(
                f"| {seg['title']} | {NAMES[r['database']]} | {seg['matching']:,} "
                f"| {_s(m.get('nurture_count'))} | {_s(m['hand_count'])} | **{_s(nurture_ids)}** "
                f"| {_s(m['hand_ids'])} | {ratio} | ≤ {target:.0f} s / ≤ {goal:.0f} s | {same} |"
            )
    digests: dict[str, set[str]] = {}
    for r in results:
        for seg in r["segments"]:
            digests.setdefault(seg["segment"], set()).add(seg["ids_digest"])
    if len(results) > 1:
        same = all(len(found) == 1 for found in digests.values())
        lines.append(
            "\nThe hand SQL finds the same contacts on every database: "
            + ("yes (same id digests)." if same else "**NO** (id digests differ).")
        )
    live = [r for r in results if "live" in r]
    if live:
        lines += [
            "",
            "| live path | database | events/s sent | probes entered | p50 | p95 | max | target / goal (p95) "
            "| segment first computed |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in live:
            lv = r["live"]
            if "error" in lv:
                lines.append(
                    f"| event accepted → segment entered | {NAMES[r['database']]} "
                    f"| not measured: {lv['error'][:120]} |"
                )
                continue
            lines.append(
                f"| event accepted → segment entered | {NAMES[r['database']]} | {lv['rate_sent']:,.0f} "
                f"| {lv['probes'] - lv['probes_not_entered']}/{lv['probes']} | {lv['p50_ms']:,.0f} ms "
                f"| **{lv['p95_ms']:,.0f} ms** | {lv['max_ms']:,.0f} ms "
                f"| ≤ {LIVE_TARGET_MS[0]:,.0f} ms / ≤ {LIVE_TARGET_MS[1]:,.0f} ms "
                f"| {lv['segment_computed_seconds']:.1f} s |"
            )
    return "\n".join(lines)
