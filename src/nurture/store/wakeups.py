"""Waking workers in other processes when work is committed: PostgreSQL `NOTIFY` sent in the writer's
transaction (delivered only if it commits), and a listener thread per worker process that turns each
notification into a wake-up. On SQLite (one machine, usually one process) the in-process signal does
it and workers poll as a fallback either way."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import psycopg
import structlog
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = structlog.get_logger("nurture.wakeups")

_NOTIFY = text("SELECT pg_notify(:channel, '')")
AUDIENCE_CHANNEL = "nurture_audience"  # queued contact changes: wakes audience workers


def notify(conn: Connection, channel: str) -> None:
    """Wake the listeners of `channel` once this transaction commits (PostgreSQL; no-op on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY, {"channel": channel})


class Listener:
    """LISTENs on channels over its own connection and calls `wake(channel)` for each notification;
    reconnects after an error. Stop it with `stop()`."""

    def __init__(self, url: str, channels: Sequence[str], wake: Callable[[str], None]) -> None:
        parsed = make_url(url)
        self.dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.channels = list(channels)
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="nurture-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    for channel in self.channels:
                        conn.execute(f'LISTEN "{channel}"')  # channel names are ours, never user input
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.wake(note.channel)
            except psycopg.Error:
                log.warning("listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(1.0)
