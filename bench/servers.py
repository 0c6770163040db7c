"""Fresh throw-away databases and real `nurture serve` processes on loopback."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(kind: str, workdir: Path, name: str) -> Iterator[str]:
    """An empty database: a SQLite file under `workdir`, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    database = f"nurture_bench_{name}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{database}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    host: str
    port: int
    write_key: str
    process: subprocess.Popen[bytes]
    log: Path
    secret_key: str = ""

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
    except OSError:
        return False
    return ok


@contextmanager
def serve(
    database_url: str,
    workers: int,
    log: Path,
    extra_env: dict[str, str] | None = None,
    *,
    seeded: bool = True,
) -> Iterator[Server]:
    """`python -m nurture.cli.main serve` on a free port; yields once /healthz answers. With `seeded`
    the database is empty and the server creates the example workspace, whose write key it prints."""
    port = free_port()
    env = {
        **os.environ,
        "NURTURE_DATABASE_URL": database_url,
        "NURTURE_HOST": "127.0.0.1",
        "NURTURE_PORT": str(port),
        "NURTURE_WEB_CONCURRENCY": str(workers),
        "NURTURE_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "nurture.cli.main", "serve"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its worker processes can be stopped too
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer in 60 s:\n{log.read_text()}")
            time.sleep(0.1)
        write_key = secret_key = ""
        for line in log.read_text().splitlines():
            if line.strip().startswith("write key:"):
                write_key = line.split()[2]
            elif line.strip().startswith("secret key:"):
                secret_key = line.split()[2]
        if seeded and not write_key:
            raise RuntimeError(f"no write key in the server output:\n{log.read_text()}")
        yield Server("127.0.0.1", port, write_key, process, log, secret_key)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
