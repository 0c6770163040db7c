"""Email delivery: the cart email personalised for each contact (the compiled template of the
`templates` scenario), built, DKIM-signed or not, and delivered over K SMTP connections to a local sink,
beside the ceiling measured in the same run: the same number of pre-built messages through smtplib
over the same number of connections.

The pipeline runs two ways: in one process (render and build in the calling thread, SMTP on the
transport's loop thread) and with rendering and building spread over worker processes while the main
process only sends (what the dispatcher can do when it pays). The sink (`bench/smtp_sink.py`) runs in a
process of its own; its CPU share is reported so it is visible that it is not the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import resource
import smtplib
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.servers import free_port
from bench.templates import cart_context, cart_template
from nurture.channels.email.mime import Envelope, build_envelope
from nurture.channels.email.smtp import SmtpTransport
from nurture.domain.messages.delivery import DkimKey, Outcome, OutgoingEmail, SenderConfig

CHUNK = 250  # messages per hand-over (a dispatcher claims batches of this order)
DISPATCHER_THREADS = 2
DATE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class _Worker:
    """What a preparing process holds: the compiled template and the signing key."""

    template: Any = None
    key: DkimKey | None = None


_WORKER = _Worker()


def _init_worker(key: DkimKey | None) -> None:
    _WORKER.template = cart_template()
    _WORKER.key = key


def _prepare(start: int, stop: int, signed: bool) -> list[Envelope]:
    """Render, build and (when `signed`) sign the messages of contacts start..stop."""
    template = _WORKER.template
    key = _WORKER.key if signed else None
    out = []
    for n in range(start, stop):
        rendered = template.render(cart_context(n))
        token = f"{n:08x}a1b2c3d4e5f6"
        unsubscribe = f"<https://nurture.example/u/{token}>, <mailto:u+{token}@nurture.example>"
        email = OutgoingEmail(
            message_id=f"{n:026d}",
            from_email="news@shop.example",
            from_name="Example Shop",
            to=f"person{n}@example.com",
            subject=rendered.subject or "",
            html=rendered.html,
            text=rendered.text,
            headers=(
                ("List-Unsubscribe", unsubscribe),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
        )
        out.append(build_envelope(email, date=DATE, dkim=key))
    return out


def _chunks(count: int) -> list[tuple[int, int]]:
    return [(start, min(count, start + CHUNK)) for start in range(0, count, CHUNK)]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class _Sink:
    port: int
    process: subprocess.Popen[bytes]

    def stats(self) -> tuple[int, int]:
        """(messages, SMTP sessions) the sink has seen."""
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            _, text = smtp.docmd("XSTAT")
        messages, connections, _ = text.split()
        return int(messages), int(connections)


@contextmanager
def _sink() -> Iterator[_Sink]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_sink", str(port)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the SMTP sink did not start")
        yield _Sink(port, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _run(sink: _Sink, count: int, connections: int, procs: int, key: DkimKey | None) -> dict[str, Any]:
    """One measured pipeline run: `procs` 1 prepares in this process, more in a pool of that size."""
    transport = SmtpTransport(local_hostname="bench.nurture.test")
    sender = SenderConfig("bench", f"smtp://127.0.0.1:{sink.port}?starttls=false&connections={connections}")
    signed = key is not None
    before, _ = sink.stats()
    outcomes: Counter[str] = Counter()

    def deliver(envelopes: list[Envelope]) -> None:
        outcomes.update(result.outcome for result in transport.send_envelopes(sender, envelopes))

    try:
        transport.send_envelopes(sender, [])  # opens nothing; warms the loop thread
        if procs <= 1:
            # a threaded dispatcher: each thread takes a chunk, prepares it and sends it, so one
            # thread's preparing overlaps another's waiting on the server
            _init_worker(key)
            chunks = iter(_chunks(count))

            def dispatcher() -> None:
                for start, stop in chunks:
                    deliver(_prepare(start, stop, signed))

            with ThreadPoolExecutor(DISPATCHER_THREADS) as threads:
                sink_cpu, own_cpu, started = _cpu_seconds(sink.process.pid), _own_cpu(), time.perf_counter()
                for done in [threads.submit(dispatcher) for _ in range(DISPATCHER_THREADS)]:
                    done.result()
                elapsed = time.perf_counter() - started
        else:
            with ProcessPoolExecutor(procs, initializer=_init_worker, initargs=(key,)) as pool:
                list(pool.map(_prepare, [0] * procs, [1] * procs, [signed] * procs))  # workers up, warm
                sink_cpu, own_cpu, started = _cpu_seconds(sink.process.pid), _own_cpu(), time.perf_counter()
                pending: deque[Future[list[Envelope]]] = deque()
                for start, stop in _chunks(count):
                    pending.append(pool.submit(_prepare, start, stop, signed))
                    if len(pending) > 2 * procs:  # a bounded window keeps memory flat
                        deliver(pending.popleft().result())
                while pending:
                    deliver(pending.popleft().result())
                elapsed = time.perf_counter() - started
        # the workers' CPU is counted once they have exited (the pool's end); the sink's until now
        own_cpu = _own_cpu() - own_cpu
        sink_cpu = _cpu_seconds(sink.process.pid) - sink_cpu
    finally:
        transport.close()
    after, _ = sink.stats()
    if outcomes != {Outcome.ACCEPTED: count} or after - before != count:
        raise RuntimeError(f"email bench: {outcomes} for {count} messages, sink got {after - before}")
    return {
        "signed": signed,
        "procs": procs,
        "emails": count,
        "seconds": round(elapsed, 3),
        "emails_per_s": round(count / elapsed, 1),
        "cpu_ms_per_email": round(own_cpu / count * 1000, 3),
        "sink_cpu_ms_per_email": round(sink_cpu / count * 1000, 3),
        "sink_cpu_share": round(sink_cpu / elapsed, 2),
        "idle_2core_estimate_per_s": round(_estimate(procs, own_cpu / count, sink_cpu / count), 1),
    }


def _own_cpu() -> float:
    """CPU seconds of this process (all threads) and of its children that have exited."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _estimate(procs: int, own: float, sink: float) -> float:
    """Emails/s on two idle cores from the CPU each email cost: one process is held to one core by
    its GIL (the sink runs beside it); a pool spreads the work over both."""
    if procs <= 1:
        return min(1 / own, 2 / (own + sink))
    return 2 / (own + sink)


def _ceiling(sink: _Sink, messages: list[Envelope], connections: int) -> dict[str, Any]:
    """The same pre-built messages through smtplib, one thread per connection."""

    def send(part: list[Envelope]) -> int:
        with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="bench.nurture.test") as smtp:
            for envelope in part:
                smtp.sendmail(envelope.mail_from, [envelope.rcpt_to], envelope.data)
        return len(part)

    parts = [messages[k::connections] for k in range(connections)]
    sink_cpu, started = _cpu_seconds(sink.process.pid), time.perf_counter()
    with ThreadPoolExecutor(connections) as threads:
        sent = sum(threads.map(send, parts))
    elapsed = time.perf_counter() - started
    return {
        "emails": sent,
        "seconds": round(elapsed, 3),
        "emails_per_s": round(sent / elapsed, 1),
        "sink_cpu_share": round((_cpu_seconds(sink.process.pid) - sink_cpu) / elapsed, 2),
    }


def _key() -> DkimKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DkimKey("shop.example", "bench", pem)


def measure(options: argparse.Namespace) -> dict[str, Any]:
    count, connections = options.emails, options.smtp_connections
    key = _key()
    runs = []
    with _sink() as sink:
        for signing in (None, key):
            for procs in (1, options.email_procs):
                what = f"{'signed' if signing else 'unsigned'}, {procs} process(es)"
                print(f"  … {what}", file=sys.stderr, flush=True)
                runs.append(_run(sink, count, connections, procs, signing))
        _init_worker(None)
        prebuilt = [envelope for start, stop in _chunks(count) for envelope in _prepare(start, stop, False)]
        ceiling = _ceiling(sink, prebuilt, connections)
        _, sink_connections = sink.stats()
    sample = prebuilt[0].data
    return {
        "scenario": "email",
        "database": "none",
        "connections": connections,
        "message_bytes": len(sample),
        "runs": runs,
        "sink_connections": sink_connections,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "ceilings": {"smtplib_prebuilt": ceiling},
    }


def rows(result: dict[str, Any]) -> list[str]:
    """Table rows in the shape of `bench.run.table`."""
    ceiling = result["ceilings"]["smtplib_prebuilt"]
    out = []
    for run in result["runs"]:
        how = "1 process" if run["procs"] == 1 else f"render+build in {run['procs']} processes"
        out.append(
            f"| email: cart personalised, built{', DKIM-signed' if run['signed'] else ''}, delivered "
            f"({result['connections']} SMTP connections, {how}) | none "
            f"| **{run['emails_per_s']:,.0f} emails/s** ({run['cpu_ms_per_email']:.2f} ms CPU each; "
            f"{run['idle_2core_estimate_per_s']:,.0f}/s on 2 idle cores) "
            f"| {ceiling['emails_per_s']:,.0f}/s smtplib, same messages pre-built "
            f"| {run['emails_per_s'] / ceiling['emails_per_s']:.0%} | | |"
        )
    return out
