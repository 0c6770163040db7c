"""Group commit: concurrent writes wait in a queue and writer threads store them in shared transactions.

A commit costs a disk flush (and on PostgreSQL a few round trips) however much it carries, so the
requests that arrive while a transaction is being written go together into the next one. Nothing
waits on purpose: a lone request is written at once; under load, groups grow by themselves. Every
caller still learns the outcome of its own write only after the commit that holds it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# `write` stores a group and returns, per item, its result or the exception that item should raise.
Write = Callable[[Sequence[T]], Sequence[R | Exception]]


class GroupCommitter(Generic[T, R]):
    """Up to `writers` threads share one queue; `submit` queues an item and returns a future of its result.

    One transaction at a time takes whatever is queued, up to `max_weight`. A second one starts while
    the first is in flight only when `overlap_weight` is waiting: overlapping transactions use the
    time one spends waiting on the database, but under light load they would split the groups that
    make commits cheap. Threads start on first use (building a container starts none) and again
    after `close`.
    """

    def __init__(
        self,
        write: Write[T, R],
        weight: Callable[[T], int],
        *,
        max_weight: int,
        overlap_weight: int,
        writers: int,
        name: str,
    ) -> None:
        self._write = write
        self._weight = weight
        self._max_weight = max_weight
        self._overlap_weight = overlap_weight
        self._writers = writers
        self._name = name
        self._queue: deque[tuple[T, Future[R]]] = deque()
        self._queued = 0  # weight waiting in the queue
        self._busy = 0  # transactions in flight
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._alive = 0
        self._stopping = False

    def submit(self, item: T) -> Future[R]:
        future: Future[R] = Future()
        with self._ready:
            self._queue.append((item, future))
            self._queued += self._weight(item)
            if not self._threads:
                self._stopping = False
                self._alive = self._writers
                self._threads = [
                    threading.Thread(target=self._run, name=f"{self._name}-{n}", daemon=True)
                    for n in range(self._writers)
                ]
                for thread in self._threads:
                    thread.start()
            if self._can_take():
                self._ready.notify()
        return future

    def close(self) -> None:
        """Store what is queued, then stop the threads."""
        with self._ready:
            threads = self._threads
            self._stopping = bool(threads)
            self._ready.notify_all()
        for thread in threads:
            thread.join()

    def _can_take(self) -> bool:
        return bool(self._queue) and (self._busy == 0 or self._queued >= self._overlap_weight)

    def _next_group(self, finished: bool) -> list[tuple[T, Future[R]]] | None:
        with self._ready:
            if finished:
                self._busy -= 1
            while not self._can_take():
                if self._stopping and not self._queue:
                    self._alive -= 1
                    if self._alive == 0:
                        self._threads = []  # the next submit starts new threads
                    return None
                self._ready.wait()
            group = [self._queue.popleft()]
            weight = self._weight(group[0][0])
            while self._queue and weight + self._weight(self._queue[0][0]) <= self._max_weight:
                item = self._queue.popleft()
                weight += self._weight(item[0])
                group.append(item)
            self._queued -= weight
            self._busy += 1
            if self._can_take():
                self._ready.notify()
            return group

    def _run(self) -> None:
        finished = False
        while (group := self._next_group(finished)) is not None:
            finished = True
            try:
                results = self._write([item for item, _ in group])
            except Exception as exc:  # a bug in `write`: every caller hears of it rather than hanging
                results = [exc] * len(group)
            for (_, future), result in zip(group, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
