"""The loop every background worker runs: a batch at a time, without pause while there is work,
polling while idle, woken at once by `wake()` when this process committed new work."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Protocol

import structlog

from nurture.store.wakeups import Listener

log = structlog.get_logger("nurture.worker")


class Outcome(Protocol):
    @property
    def idle(self) -> bool: ...


class PollingWorker(ABC):
    name = "worker"
    channel: str | None = None  # PostgreSQL NOTIFY channel that wakes this worker in any process

    def __init__(self, poll: float, database_url: str | None = None) -> None:
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None
        if self.channel and database_url and database_url.startswith("postgresql"):
            self._listener = Listener(database_url, [self.channel], lambda _channel: self.wake())

    @abstractmethod
    def step(self) -> Outcome:
        """One batch of the worker's work; its outcome says whether it was idle."""

    def start(self) -> None:
        """Run in a background thread until `stop()` (the embedded workers of `nurture serve`)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name=f"nurture-{self.name}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New work was committed in this process: look now instead of at the next poll."""
        self._wake.set()

    def request_stop(self) -> None:
        """Ask `run_forever` to return after the batch in progress (signal handlers call this)."""
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_forever(self) -> None:
        """Poll every `poll` seconds while idle; keep going without pause while there is work."""
        log.info(f"{self.name} worker started", poll_seconds=self.poll)
        if self._listener is not None:
            self._listener.start()
        while not self._stop.is_set():
            try:
                outcome = self.step()
            except Exception:
                log.exception(f"{self.name} batch failed; it will be retried")
                self._stop.wait(max(self.poll, 1.0))
                continue
            if outcome.idle:
                self._wake.wait(self.poll)
                self._wake.clear()
            else:
                log.debug(f"{self.name} batch", **getattr(outcome, "__dict__", {}))
        if self._listener is not None:
            self._listener.stop()
        log.info(f"{self.name} worker stopped")
