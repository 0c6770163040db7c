"""The live path: how long from an event being accepted (HTTP 200 from `/v1/track`) until the contact's
membership has changed (its SEGMENT_ENTERED activity is committed), while events flow at a steady rate.

On the generated workspace, a real `nurture serve` (audience worker embedded) gets a segment
"performed Product Added in the last 1 day", which nobody is in: the generated history ends at
`audience_data.NOW`, before the wall clock. Then `/v1/track` requests go out on a fixed schedule
(open loop: the rate does not drop when the server is slow, up to 64 requests in flight) over
keep-alive connections: page and product views of known users, and now and then a probe, "Product
Added" by a known user never probed before. A poller reads new SEGMENT_ENTERED activities of the
segment every `POLL_SECONDS` and notes when each first became visible. Latency = seen - the probe's
HTTP 200 (so it includes the commit and at most one poll interval); `occurred_at` - HTTP 200 (the
worker's own clock reading, before its commit) is kept beside it.
"""

from __future__ import annotations

import asyncio
import http.client
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from bench import audience_data as data
from bench.audience_load import driver_url
from bench.load import _Client
from bench.servers import Server
from bench.workload import _request

POLL_SECONDS = 0.01
SEGMENT_NAME = "Added to cart in the last day"
CONDITION = {"type": "event", "name": "Product Added", "window": {"kind": "last_days", "days": 1}}


@dataclass
class Probe:
    user_id: str
    sent: float = 0.0
    answered: float = 0.0
    status: int = 0


@dataclass
class Seen:
    """SEGMENT_ENTERED activities by contact id: (seen wall time, occurred_at as epoch seconds)."""

    by_contact: dict[str, tuple[float, float]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    polls: int = 0


def _api(server: Server, secret: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    payload = orjson.dumps(body) if body is not None else None
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, orjson.loads(raw) if raw else None


def create_segment(server: Server, secret: str, timeout: float = 3600) -> tuple[str, float]:
    """POST the segment and wait until the worker has computed its members (`recomputed_at` set);
    returns its id and how long that took."""
    started = time.perf_counter()
    status, body = _api(
        server, secret, "POST", "/api/v1/segments", {"name": SEGMENT_NAME, "condition": CONDITION}
    )
    if status not in (200, 201):
        raise RuntimeError(f"segment not created: {status} {body}")
    segment_id = str(body["id"])
    while body.get("recomputed_at") is None:
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"segment not computed after {timeout:.0f} s")
        time.sleep(0.2)
        status, body = _api(server, secret, "GET", f"/api/v1/segments/{segment_id}")
        if status != 200:
            raise RuntimeError(f"segment not readable: {status} {body}")
    return segment_id, time.perf_counter() - started


def _poll(url: str, workspace_id: str, segment_id: str, seen: Seen) -> None:
    query = (
        "SELECT id, contact_id, occurred_at FROM activities WHERE workspace_id = {p} AND kind = {p} "
        "AND subject_id = {p} AND id > {p} ORDER BY id"
    )
    last = ""
    if url.startswith("sqlite"):
        lite = sqlite3.connect(driver_url(url), isolation_level=None)
        sql = query.format(p="?")

        def fetch() -> list[Any]:
            return lite.execute(sql, (workspace_id, "segment_entered", segment_id, last)).fetchall()

        def stamp(value: Any) -> float:
            return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()

    else:
        pg = psycopg.connect(driver_url(url), autocommit=True)
        sql = query.format(p="%s")

        def fetch() -> list[Any]:
            return pg.execute(sql, (workspace_id, "segment_entered", segment_id, last)).fetchall()

        def stamp(value: Any) -> float:
            return float(value.timestamp())

    try:
        while not seen.stop.is_set():
            rows = fetch()
            now = time.time()
            seen.polls += 1
            for activity_id, contact_id, occurred_at in rows:
                seen.by_contact.setdefault(contact_id, (now, stamp(occurred_at)))
                last = activity_id
            time.sleep(POLL_SECONDS)
    finally:
        if url.startswith("sqlite"):
            lite.close()
        else:
            pg.close()


def _track(write_key: str, host: str, user_id: str, name: str, properties: dict[str, Any], n: int) -> bytes:
    body = orjson.dumps(
        {"userId": user_id, "event": name, "properties": properties, "messageId": f"live-{n:09d}-{user_id}"}
    )
    return _request("/v1/track", body, write_key, host)


async def _send(
    server: Server, schedule: list[tuple[bytes, Probe | None]], rate: float, connections: int
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    free: asyncio.Queue[_Client] = asyncio.Queue()
    for _ in range(connections):
        _, client = await loop.create_connection(_Client, server.host, server.port)
        free.put_nowait(client)
        await asyncio.sleep(0.01)
    errors: list[str] = []
    late = 0
    pending: set[asyncio.Task[None]] = set()

    async def one(client: _Client, raw: bytes, probe: Probe | None) -> None:
        sent = time.time()
        try:
            status, body = await client.request(raw)
        except ConnectionError as exc:
            errors.append(str(exc))
            return
        answered = time.time()
        free.put_nowait(client)
        if status != 200 and len(errors) < 5:
            errors.append(f"{status}: {body[:200]!r}")
        if probe is not None:
            probe.sent, probe.answered, probe.status = sent, answered, status

    started = time.perf_counter()
    for index, (raw, probe) in enumerate(schedule):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late += 1
        client = await free.get()
        task = asyncio.create_task(one(client, raw, probe))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
    while not free.empty():
        free.get_nowait().transport.close()
    return {"seconds": elapsed, "rate": len(schedule) / elapsed, "late": late, "errors": errors}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def measure(
    url: str,
    server: Server,
    keys: dict[str, str],
    ws: data.Workspace,
    *,
    rate: float = 500.0,
    seconds: float = 30.0,
    probe_every: int = 25,
    connections: int = 64,
) -> dict[str, Any]:
    """Create the segment, send `rate` events/s for `seconds` (every `probe_every`-th a probe), and
    measure HTTP 200 → SEGMENT_ENTERED for each probe."""
    segment_id, create_seconds = create_segment(server, keys["secret_key"])
    rng = random.Random(ws.scale.seed + 7)
    known = [i for i in range(ws.scale.contacts) if ws.known[i]]
    rng.shuffle(known)
    total = int(rate * seconds)
    probes_needed = total // probe_every + 1
    probe_users = known[:probes_needed]
    others = known[probes_needed:] or known
    schedule: list[tuple[bytes, Probe | None]] = []
    probes: list[Probe] = []
    for n in range(total):
        if n % probe_every == probe_every - 1 and len(probes) < len(probe_users):
            probe = Probe(f"user-{probe_users[len(probes)]:08d}")
            probes.append(probe)
            raw = _track(
                keys["write_key"], server.authority, probe.user_id, "Product Added", {"price": 9.75}, n
            )
            schedule.append((raw, probe))
        else:
            c = others[int(rng.random() ** 2 * len(others))]
            name, properties = (
                ("Page Viewed", {"path": "/pricing"})
                if rng.random() < 0.6
                else ("Product Viewed", {"product_id": "sku-00042", "price": 24.5})
            )
            schedule.append(
                (_track(keys["write_key"], server.authority, f"user-{c:08d}", name, properties, n), None)
            )
    seen = Seen()
    poller = threading.Thread(target=_poll, args=(url, keys["id"], segment_id, seen), daemon=True)
    poller.start()
    try:
        sent = asyncio.run(_send(server, schedule, rate, connections))
        contact_of = _contact_ids(url, keys["id"], [p.user_id for p in probes])
        deadline = time.time() + 30
        while time.time() < deadline and any(
            contact_of.get(p.user_id) not in seen.by_contact for p in probes
        ):
            time.sleep(0.1)
    finally:
        seen.stop.set()
        poller.join()
    visible = []
    occurred = []
    missing = 0
    for probe in probes:
        found = seen.by_contact.get(contact_of.get(probe.user_id, ""))
        if probe.status != 200 or found is None:
            missing += 1
            continue
        visible.append(found[0] - probe.answered)
        occurred.append(found[1] - probe.answered)
    return {
        "segment_computed_seconds": round(create_seconds, 3),
        "rate_asked": rate,
        "rate_sent": round(sent["rate"], 1),
        "seconds": round(sent["seconds"], 1),
        "sends_late_over_50ms": sent["late"],
        "errors": sent["errors"],
        "probes": len(probes),
        "probes_not_entered": missing,
        "entered_other": len(seen.by_contact) - (len(probes) - missing),
        "p50_ms": round(_percentile(visible, 0.5) * 1000, 1),
        "p95_ms": round(_percentile(visible, 0.95) * 1000, 1),
        "max_ms": round(max(visible, default=float("nan")) * 1000, 1),
        "occurred_p50_ms": round(_percentile(occurred, 0.5) * 1000, 1),
        "occurred_p95_ms": round(_percentile(occurred, 0.95) * 1000, 1),
        "poll_ms": POLL_SECONDS * 1000,
    }


def _contact_ids(url: str, workspace_id: str, user_ids: list[str]) -> dict[str, str]:
    if url.startswith("sqlite"):
        with sqlite3.connect(driver_url(url)) as conn:
            rows = conn.execute(
                "SELECT value, contact_id FROM contact_identities WHERE workspace_id = ? AND kind = 'user_id'"
                f" AND value IN ({', '.join('?' * len(user_ids))})",
                (workspace_id, *user_ids),
            ).fetchall()
    else:
        with psycopg.connect(driver_url(url)) as conn:
            rows = conn.execute(
                "SELECT value, contact_id FROM contact_identities "
                "WHERE workspace_id = %s AND kind = 'user_id' AND value = ANY(%s)",
                (workspace_id, user_ids),
            ).fetchall()
    return {str(value): str(contact_id) for value, contact_id in rows}
