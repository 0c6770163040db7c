"""Dispatch: a marketing email fanned out to N generated contacts (a campaign's worth of outbox rows,
enqueued in chunks), then delivered by the dispatcher, batch after batch, end to end: claim, policies
(suppression, consent, frequency cap, quiet hours), render from the compiled cache, build, hand to
the transport, record. Reports messages/s and the process's resident memory as the run goes, which
must stay flat however many recipients there are (rows are streamed in batches, never all loaded).

The transport is **capture** (each message built with the standard library's `email` package and
stored in `captured_mail`), as long as no SMTP channel is installed in this tree; so the figure
includes a database write of every full message and the stdlib MIME builder's cost.

Runs in a process of its own (`python -m bench.dispatch URL`) so its memory is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import servers
from nurture.bootstrap import build
from nurture.domain.contacts import Contact
from nurture.domain.messages.outbox import Source
from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services import outbox
from nurture.services.dispatch import DispatchStats
from nurture.services.templates import TemplateInput
from nurture.settings import Settings
from nurture.store import contacts as contact_store
from nurture.store.ids import new_id

CHUNK = 5_000
SUBJECT = "{{ contact.first_name | default: 'Hello' }}, our spring picks are here"
BODY = """<h1>Hi {{ contact.first_name | default: "there" }},</h1>
<p>Spring is here and so are {{ data.count | default: 3 }} new arrivals picked for you.</p>
<table width="100%">{% for n in (1..3) %}<tr><td><a href="https://shop.example/p/{{ n }}?c={{ contact.id }}">
Product {{ n }}</a></td><td>{{ n | times: 19.5 | money: "EUR" }}</td></tr>{% endfor %}</table>
<p><a href="https://shop.example/?c={{ contact.id | url_encode }}">Shop now</a></p>
<p style="font-size:12px;color:#888">{{ workspace.name }} · {{ workspace.postal_address }}</p>"""
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", None)


def _rss_mb() -> float:
    with Path("/proc/self/status").open() as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _contacts(container: Any, workspace_id: str, count: int) -> list[str]:
    now = datetime.now(UTC)
    ids: list[str] = []
    for start in range(0, count, CHUNK):
        made = [
            Contact(
                id=new_id(),
                email=f"person{n}@example.com",
                phone=None,
                first_name=f"Person{n}",
                last_name=None,
                timezone=ZONES[n % len(ZONES)],
                locale=None,
                attributes={},
                created_at=now,
                updated_at=now,
                last_seen_at=None,
            )
            for n in range(start, min(count, start + CHUNK))
        ]
        with container.db.write() as conn:
            contact_store.insert_contacts(conn, workspace_id, made)
        ids.extend(c.id for c in made)
    return ids


def measure(url: str, count: int) -> dict[str, Any]:
    container = build(Settings(database_url=url, log_json=True, log_level="warning"))
    container.migrate()
    workspace = container.workspaces.create("Bench")
    container.senders.create(
        workspace.id, {"name": "Shop", "from_name": "Shop", "from_email": "news@shop.example"}
    )
    container.messaging.replace(workspace.id, {"postal_address": "Shop Ltd, 1 Main Street, Springfield"})
    content = Content(subject=SUBJECT, body_format=BodyFormat.HTML, body=BODY)
    template = container.templates.create(
        workspace.id, TemplateInput("Spring", TemplateKind.EMAIL, Category.MARKETING, content)
    )
    people = _contacts(container, workspace.id, count)
    rss: list[tuple[float, int, float]] = [(0.0, 0, _rss_mb())]  # (seconds, messages sent, MB)
    started = time.perf_counter()
    now = datetime.now(UTC) - timedelta(seconds=1)
    for start in range(0, count, CHUNK):
        wanted = [
            outbox.NewMessage(
                person,
                "email",
                "marketing",
                Source.CAMPAIGN,
                f"spring:{person}",
                template_id=template.id,
                campaign_id="spring",
                context={"data": {"count": 3}},
            )
            for person in people[start : start + CHUNK]
        ]
        with container.db.write() as conn:
            outbox.enqueue(conn, workspace.id, wanted, now)
    del people
    enqueued = time.perf_counter()
    rss.append((enqueued - started, 0, _rss_mb()))
    total = DispatchStats()
    while True:
        stats = container.dispatcher.step()
        total.add(stats)
        rss.append((time.perf_counter() - started, total.sent, _rss_mb()))
        if stats.idle:
            break
    finished = time.perf_counter()
    container.close()
    if total.sent != count:
        raise RuntimeError(f"{count} enqueued, {total.sent} sent: {total}")
    dispatch_seconds = finished - enqueued
    after_first_tenth = next(mb for _, sent, mb in rss if sent >= count // 10)
    return {
        "messages": count,
        "transport": "capture (stdlib MIME builder, stored in captured_mail)",
        "batch": container.dispatcher.batch,
        "enqueue_seconds": round(enqueued - started, 2),
        "enqueue_per_s": round(count / (enqueued - started), 1),
        "dispatch_seconds": round(dispatch_seconds, 2),
        "dispatch_per_s": round(count / dispatch_seconds, 1),
        "end_to_end_per_s": round(count / (finished - started), 1),
        "rss_mb": {
            "before_enqueue": round(rss[0][2], 1),
            "after_enqueue": round(rss[1][2], 1),
            "after_first_tenth_sent": round(after_first_tenth, 1),
            "peak": round(max(mb for _, _, mb in rss), 1),
            "end": round(rss[-1][2], 1),
        },
        "rss_timeline": [(round(t, 1), sent, round(mb, 1)) for t, sent, mb in rss[:: max(1, len(rss) // 20)]],
    }


def run(db: str, count: int, workdir: Path) -> dict[str, Any]:
    """One measured run on a fresh database, in a process of its own."""
    with servers.fresh_database(db, workdir, "dispatch") as url:
        done = subprocess.run(
            [sys.executable, "-m", "bench.dispatch", url, "--messages", str(count)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"dispatch bench failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result.update(scenario="dispatch", database=db)
    return result


def table(results: list[dict[str, Any]]) -> str:
    if not results:
        return ""
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    lines = [
        "| dispatch (capture transport) | database | messages | enqueue | dispatch | end to end "
        "| RSS after 10% sent → peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["rss_mb"]
        lines.append(
            f"| campaign fan-out, 1 process | {names[r['database']]} | {r['messages']:,} "
            f"| {r['enqueue_per_s']:,.0f}/s | **{r['dispatch_per_s']:,.0f}/s** "
            f"| {r['end_to_end_per_s']:,.0f}/s "
            f"| {m['after_first_tenth_sent']:.0f} → {m['peak']:.0f} MB |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    parser.add_argument("url", help="an empty database (SQLAlchemy URL)")
    parser.add_argument("--messages", type=int, default=100_000)
    options = parser.parse_args()
    print(json.dumps(measure(options.url, options.messages)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
