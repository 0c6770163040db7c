"""Trigger to send: how long from an event POSTed to `/v1/track` until the journey's email is recorded,
through the live processes: `nurture serve --no-worker` (HTTP only) and one `nurture worker` (audience,
journeys, dispatch loops), on PostgreSQL, where the workers wake on LISTEN/NOTIFY.

The Example workspace (it has a default sender) gets a transactional template and a journey triggered
by "Signed Up" whose first node sends it; mail goes to the capture transport (no SMTP configured).
N people are identified with an email first (one `/v1/batch`), the worker settles, then one "Signed
Up" per person goes out on a fixed schedule (open loop, `--journey-rate` events/s for
`--journey-seconds`). For each event: POST sent → outbox row created (the journey worker's clock,
read before its commit) and → message recorded sent (`messages.sent_at`, the dispatcher's clock);
also → event stored (`events.received_at`), which splits the HTTP side from the workers'.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench import servers
from bench.audience_live import Probe, _percentile, _send, _track
from bench.journey_steps import workers
from bench.workload import _request
from nurture.bootstrap import build
from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services.templates import TemplateInput
from nurture.settings import Settings

JOURNEY = {
    "name": "Welcome",
    "category": "transactional",
    "trigger": {"type": "event", "event": "Signed Up"},
    "entry": {"reentry": "once"},
    "nodes": [{"id": "welcome", "type": "send", "template": "Welcome"}],
    "edges": [],
}


def _setup(url: str) -> dict[str, str]:
    container = build(Settings(database_url=url, log_level="warning"))
    container.migrate()
    workspace = container.workspaces.ensure_example()
    assert workspace is not None
    content = Content(
        subject="Welcome", body_format=BodyFormat.HTML, body="<p>Hi {{ contact.first_name }}</p>"
    )
    container.templates.create(
        workspace.id, TemplateInput("Welcome", TemplateKind.EMAIL, Category.TRANSACTIONAL, content)
    )
    journey = container.journeys.apply(workspace.id, JOURNEY).journey.id
    container.close()
    return {"id": workspace.id, "write_key": workspace.write_key, "journey": journey}


def _identify(server: servers.Server, write_key: str, people: int) -> None:
    for start in range(0, people, 500):
        batch = [
            {
                "type": "identify",
                "userId": f"person-{n:06d}",
                "traits": {"email": f"person{n}@example.com", "first_name": f"P{n}"},
                "messageId": f"identify-{n:06d}",
            }
            for n in range(start, min(people, start + 500))
        ]
        raw = _request("/v1/batch", orjson.dumps({"batch": batch}), write_key, server.authority)
        done = asyncio.run(_send(server, [(raw, None)], 1000.0, 1))
        if done["errors"]:
            raise RuntimeError(f"identify failed: {done['errors']}")


def _settled(url: str, timeout: float = 120) -> None:
    """Wait until the worker has applied every queued change."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM pending_changes) + (SELECT count(*) FROM journey_inbox)"
            )
            left = row.fetchone()
            if left is not None and left[0] == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{left} changes still queued after {timeout:.0f} s")
            time.sleep(0.2)


def _recorded(
    url: str, journey: str, expected: int, timeout: float = 60
) -> dict[str, tuple[float, float, float | None]]:
    """user id → (event received, outbox row created, sent) as epoch seconds, once `expected` are
    sent or after `timeout`."""
    query = """SELECT i.value, e.received_at, m.created_at, m.sent_at FROM messages m
               JOIN contact_identities i ON i.workspace_id = m.workspace_id AND i.contact_id = m.contact_id
                AND i.kind = 'user_id'
               JOIN events e ON e.workspace_id = m.workspace_id AND e.contact_id = m.contact_id
                AND e.name = 'Signed Up'
               WHERE m.journey_id = %s"""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            rows = conn.execute(query, (journey,)).fetchall()
            if sum(1 for row in rows if row[3] is not None) >= expected or time.monotonic() > deadline:
                return {
                    str(user): (received.timestamp(), created.timestamp(), sent.timestamp() if sent else None)
                    for user, received, created, sent in rows
                }
            time.sleep(0.2)


def run(db: str, options: Any, workdir: Path) -> dict[str, Any]:
    if db != "postgresql":
        return {
            "scenario": "journey_latency",
            "database": db,
            "skipped": "measured on PostgreSQL (LISTEN/NOTIFY)",
        }
    rate, seconds = options.journey_rate, options.journey_seconds
    people = int(rate * seconds)
    env = {"NURTURE_EMBEDDED_WORKER": "false"}
    with servers.fresh_database(db, workdir, "journey_latency") as url:
        keys = _setup(url)
        log = workdir / "journey-latency-serve.log"
        with (
            servers.serve(url, options.workers, log, env, seeded=False) as server,
            workers(url, 1, workdir, loops="audience,journeys,dispatch"),
        ):
            _identify(server, keys["write_key"], people)
            _settled(url)
            probes = [Probe(f"person-{n:06d}") for n in range(people)]
            schedule: list[tuple[bytes, Probe | None]] = [
                (_track(keys["write_key"], server.authority, p.user_id, "Signed Up", {"plan": "pro"}, n), p)
                for n, p in enumerate(probes)
            ]
            started = datetime.now(UTC)
            sent = asyncio.run(_send(server, schedule, rate, 64))
            recorded = _recorded(url, keys["journey"], people)
    received, enqueued, delivered, missing = [], [], [], 0
    for probe in probes:
        found = recorded.get(probe.user_id)
        if probe.status != 200 or found is None or found[2] is None:
            missing += 1
            continue
        received.append(found[0] - probe.sent)
        enqueued.append(found[1] - probe.sent)
        delivered.append(found[2] - probe.sent)

    def ms(values: list[float], share: float) -> float:
        return round(_percentile(values, share) * 1000, 1)

    return {
        "scenario": "journey_latency",
        "database": db,
        "started": started.isoformat(timespec="seconds"),
        "http_processes": options.workers,
        "worker_processes": 1,
        "rate_asked": rate,
        "rate_sent": round(sent["rate"], 1),
        "seconds": round(sent["seconds"], 1),
        "sends_late_over_50ms": sent["late"],
        "errors": sent["errors"],
        "events": people,
        "not_sent": missing,
        "received_p50_ms": ms(received, 0.5),
        "received_p99_ms": ms(received, 0.99),
        "enqueued_p50_ms": ms(enqueued, 0.5),
        "enqueued_p99_ms": ms(enqueued, 0.99),
        "sent_p50_ms": ms(delivered, 0.5),
        "sent_p99_ms": ms(delivered, 0.99),
        "sent_max_ms": round(max(delivered, default=float("nan")) * 1000, 1),
    }


def table(results: list[dict[str, Any]]) -> str:
    rows = [r for r in results if r.get("scenario") == "journey_latency" and "skipped" not in r]
    if not rows:
        return ""
    lines = [
        "| journeys: trigger to send | events/s | events | POST → event stored p50 / p99 "
        "| POST → outbox row p50 / p99 "
        "| POST → sent p50 / p99 (max) | not sent |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `/v1/track` → send node → capture | {r['rate_sent']:,.0f} | {r['events']:,} "
            f"| {r['received_p50_ms']} / {r['received_p99_ms']} ms "
            f"| {r['enqueued_p50_ms']} / {r['enqueued_p99_ms']} ms "
            f"| **{r['sent_p50_ms']} / {r['sent_p99_ms']} ms** ({r['sent_max_ms']} ms) | {r['not_sent']} |"
        )
    return "\n".join(lines)
