"""Shared fixtures: a real database (SQLite file, or PostgreSQL when NURTURE_TEST_DATABASE_URL says so),
a container with a manual clock, an HTTP client on the app, workspaces, and a live server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from nurture.api.app import create_app
from nurture.bootstrap import Container, build
from nurture.domain.catalog import EntryKind, ValueType
from nurture.domain.conditions.parsing import parse_condition
from nurture.domain.conditions.references import references
from nurture.domain.tracking import parse_batch
from nurture.services.clock import ManualClock
from nurture.services.ingest import IngestResult
from nurture.services.workspaces import NewWorkspace
from nurture.settings import Settings
from nurture.store.db import Database, normalize_url
from nurture.store.migrate import upgrade
from nurture.store.schema import metadata
from tests.http_peer import RecordingServer, recording_server

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LINK_SECRET = "nurture-test-link-secret"  # signs the links of every container and server in tests
PUBLIC_URL = "http://testserver"  # the TestClient's own address, so tests can follow the links


def _worker() -> str:
    """A name unique to this test process and run, so concurrent runs never share a database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"p{os.getpid()}")[:10]
    return f"{run}_{worker}".lower()


def _drop_postgres_database(base_url: str, name: str) -> None:
    engine = create_engine(normalize_url(base_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _postgres_database(base_url: str, name: str) -> str:
    """A fresh, empty database `name` on the server of `base_url`; returns its URL."""
    engine = create_engine(normalize_url(base_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = engine.url.set(database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def link_secret() -> Iterator[str]:
    """Servers and CLI runs started by tests sign with a known key, and none writes one under ./var."""
    before = os.environ.get("NURTURE_SECRET_KEY")
    os.environ["NURTURE_SECRET_KEY"] = LINK_SECRET
    yield LINK_SECRET
    if before is None:
        del os.environ["NURTURE_SECRET_KEY"]
    else:
        os.environ["NURTURE_SECRET_KEY"] = before


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per test process (dropped at the end on PostgreSQL)."""
    base = os.environ.get("NURTURE_TEST_DATABASE_URL")
    postgres = bool(base and base.startswith(("postgres://", "postgresql")))
    name = f"nurture_test_{_worker()}"
    if base and postgres:
        url = _postgres_database(base, name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'nurture.db'}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url
    if base and postgres:
        _drop_postgres_database(base, name)


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def container(database_url: str, clock: ManualClock) -> Iterator[Container]:
    """A container on an emptied database, with a manual clock and no key cache."""
    settings = Settings(
        database_url=database_url, key_cache_seconds=0, secret_key=LINK_SECRET, public_url=PUBLIC_URL
    )
    built = build(settings, clock=clock)
    with built.db.write() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def workspace(container: Container) -> NewWorkspace:
    return container.workspaces.create("Acme")


@pytest.fixture
def other_workspace(container: Container) -> NewWorkspace:
    return container.workspaces.create("Globex")


def secret(workspace: NewWorkspace) -> dict[str, str]:
    """Headers for the admin API as `workspace`."""
    return {"Authorization": f"Bearer {workspace.secret_key}"}


def write_auth(workspace: NewWorkspace) -> tuple[str, str]:
    """HTTP Basic credentials for the tracking API as `workspace` (write key as user name)."""
    return (workspace.write_key, "")


def ingest(container: Container, workspace_id: str, *messages: dict[str, Any]) -> IngestResult:
    """Send `messages` as one Segment batch request through the ingest service (one transaction)."""
    return container.ingest.ingest(workspace_id, parse_batch({"batch": list(messages)}))


def settle(container: Container) -> None:
    """What the embedded workers would do now: audience changes, then journeys, until both are idle."""
    while True:
        done = container.audience.run_once()
        runs = container.journey_worker.run_once()
        if done.idle and runs.idle:
            return


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    write_key: str
    secret_key: str
    process: subprocess.Popen[str]
    log: Path


def start_server(database_url: str, log: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """`nurture serve` as a real process on a free loopback port; returns once /healthz answers."""
    port = free_port()
    env = {
        **os.environ,
        "NURTURE_DATABASE_URL": database_url,
        "NURTURE_PORT": str(port),
        "NURTURE_HOST": "127.0.0.1",
        "NURTURE_KEY_CACHE_SECONDS": "0",
        **(extra_env or {}),
    }
    handle = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "nurture.cli.main", "serve"],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"server did not answer in 30 s:\n{log.read_text()}")
    keys = {}
    for line in log.read_text().splitlines():
        for kind in ("write", "secret"):
            if line.strip().startswith(f"{kind} key:"):
                keys[kind] = line.split()[2]
    return LiveServer(url, keys.get("write", ""), keys.get("secret", ""), process, log)


def _live(
    tmp_path: Path, is_postgres: bool, database_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    name = f"nurture_live_{_worker()}"
    url = _postgres_database(database_url, name) if is_postgres else f"sqlite:///{tmp_path / 'live.db'}"
    server = start_server(url, tmp_path / "server.log", extra_env)
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if is_postgres:
        _drop_postgres_database(database_url, name)


@pytest.fixture
def live_server(tmp_path: Path, is_postgres: bool, database_url: str) -> Iterator[LiveServer]:
    """A real server process on its own fresh database (it seeds the Example workspace)."""
    yield from _live(tmp_path, is_postgres, database_url)


@pytest.fixture
def live_server_without_workers(tmp_path: Path, is_postgres: bool, database_url: str) -> Iterator[LiveServer]:
    """The same, with its background workers off: what it queues stays queued (nothing is sent)."""
    yield from _live(tmp_path, is_postgres, database_url, {"NURTURE_EMBEDDED_WORKER": "false"})


def declare_read_attributes(container: Container, workspace_id: str, condition: dict[str, Any]) -> None:
    """Declare in the data catalog every attribute `condition` reads (with every type), for tests that
    define conditions before any contact has had the attributes they read."""
    refs = references(parse_condition(condition))
    every = [t.value for t in ValueType]
    for field_name in refs.fields:
        if field_name.startswith("attributes."):
            name = field_name.removeprefix("attributes.").split(".")[0]
            container.catalog.declare(workspace_id, EntryKind.ATTRIBUTE, name, every)
    for field_name in refs.account_fields:
        if field_name.startswith("account.attributes."):
            name = field_name.removeprefix("account.attributes.").split(".")[0]
            container.catalog.declare(workspace_id, EntryKind.ACCOUNT_ATTRIBUTE, name, every)


@pytest.fixture
def receiver() -> Iterator[RecordingServer]:
    """A real HTTP server on loopback that records what it receives (webhooks, Slack, SMS provider)."""
    with recording_server() as server:
        yield server
