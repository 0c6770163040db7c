"""A light HTTP/1.1 load generator: pre-built requests, keep-alive connections, asyncio protocols.

Each client process drives many connections from one event loop; a connection sends one request,
waits for the whole response, and sends the next (no pipelining), like an SDK flushing its queue.
The client does almost no work per request, so the cores are left to the server.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
    uvloop = None


@dataclass
class LoadResult:
    requests_ok: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0  # the load generator's own CPU time while sending
    latencies: list[float] = field(default_factory=list)

    def merge(self, other: LoadResult) -> None:
        self.requests_ok += other.requests_ok
        self.errors += other.errors
        self.error_samples.extend(other.error_samples[: 5 - len(self.error_samples)])
        self.started = min(self.started or other.started, other.started)
        self.finished = max(self.finished, other.finished)
        self.cpu_seconds += other.cpu_seconds
        self.latencies.extend(other.latencies)


class _Client(asyncio.Protocol):
    """One keep-alive connection; `request()` resolves with (status, body) of the next response."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.buffer = b""
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(head[9:12])
        body = self.buffer[end + 4 : total]
        self.buffer = self.buffer[total:]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    def request(self, raw: bytes) -> asyncio.Future[tuple[int, bytes]]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiter


async def _drive(
    host: str, port: int, requests: list[bytes], connections: int, start_at: float, deadline: float
) -> LoadResult:
    loop = asyncio.get_running_loop()
    result = LoadResult()
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(_Client, host, port)
        clients.append(client)
        # one at a time: a server process accepts every connection waiting at once, so connections
        # opened together would all land on one of several worker processes
        await asyncio.sleep(0.01)
    next_index = 0
    delay = start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    result.started = time.time()
    cpu_started = time.process_time()
    perf_deadline = time.perf_counter() + (deadline - result.started)

    async def worker(client: _Client) -> None:
        nonlocal next_index
        while next_index < len(requests) and time.perf_counter() < perf_deadline:
            raw = requests[next_index]
            next_index += 1
            sent = time.perf_counter()
            try:
                status, body = await client.request(raw)
            except ConnectionError as exc:
                result.errors += 1
                result.error_samples.append(str(exc))
                return
            result.latencies.append(time.perf_counter() - sent)
            if status == 200:
                result.requests_ok += 1
            else:
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{status}: {body[:300]!r}")

    await asyncio.gather(*(worker(c) for c in clients))
    result.finished = time.time()
    result.cpu_seconds = time.process_time() - cpu_started
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    return result


def _child(args: tuple[Any, ...], pipe: Connection) -> None:
    host, port, requests, connections, start_at, deadline = args
    run = uvloop.run if uvloop is not None else asyncio.run
    pipe.send(run(_drive(host, port, requests, connections, start_at, deadline)))
    pipe.close()


def run(
    host: str, port: int, requests: list[bytes], *, connections: int, processes: int, seconds: float
) -> LoadResult:
    """Send `requests` over `connections` keep-alive connections spread over `processes` client
    processes, until all are answered or `seconds` have passed."""
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 0.5 + 0.1 * processes
    deadline = start_at + seconds
    share = -(-len(requests) // processes)
    per_process = max(1, connections // processes)
    children = []
    for index in range(processes):
        parent_end, child_end = context.Pipe(duplex=False)
        part = requests[index * share : (index + 1) * share]
        process = context.Process(
            target=_child, args=((host, port, part, per_process, start_at, deadline), child_end)
        )
        process.start()
        child_end.close()
        children.append((process, parent_end))
    total = LoadResult()
    for process, pipe in children:
        try:
            total.merge(pipe.recv())
        except EOFError:
            raise RuntimeError(f"load generator process exited with {process.exitcode}") from None
        finally:
            process.join()
    return total
