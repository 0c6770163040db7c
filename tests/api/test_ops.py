"""Operations: /healthz says whether the database answers, /metrics speaks Prometheus, logs are JSON."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from nurture.api.app import create_app
from nurture.bootstrap import build
from nurture.services.examples import journey_documents
from nurture.services.workspaces import NewWorkspace
from nurture.settings import Settings
from tests.conftest import LiveServer, _postgres_database, _worker, free_port, start_server, write_auth

# health


def test_healthz_is_ok_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True}


def unreachable_databases(tmp_path: Path) -> dict[str, str]:
    return {
        "postgres on a closed port": f"postgresql://postgres@127.0.0.1:{free_port()}/nurture",
        "sqlite file that is a directory": f"sqlite:///{tmp_path}",
    }


@pytest.mark.parametrize("case", ["postgres on a closed port", "sqlite file that is a directory"])
def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path, case: str) -> None:
    container = build(Settings(database_url=unreachable_databases(tmp_path)[case]))
    with TestClient(create_app(container)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": False}


# metrics


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def ingested(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], kind: str) -> float:
    return found.get(("nurture_events_ingested_total", (("type", kind),)), 0.0)


def test_metrics_count_ingested_events(client: TestClient, workspace: NewWorkspace) -> None:
    before = samples(client)
    auth = write_auth(workspace)
    batch = {
        "batch": [
            {"type": "identify", "userId": "u1", "messageId": "m1", "traits": {"email": "ada@example.com"}},
            {"type": "track", "userId": "u1", "messageId": "m2", "event": "Signed Up"},
            {"type": "track", "userId": "u1", "messageId": "m3", "event": "Logged In"},
        ]
    }
    assert client.post("/v1/batch", json=batch, auth=auth).status_code == 200
    assert client.post("/v1/page", json={"userId": "u1", "name": "Pricing"}, auth=auth).status_code == 200
    # refused calls are not counted
    assert client.post("/v1/track", json={"userId": "u1"}, auth=auth).status_code == 400
    assert (
        client.post("/v1/track", json={"userId": "u1", "event": "X"}, auth=("nw_wrong", "")).status_code
        == 401
    )
    # a client retry is accepted again, and counted as a duplicate
    assert client.post("/v1/batch", json=batch, auth=auth).status_code == 200
    after = samples(client)
    deltas = {kind: ingested(after, kind) - ingested(before, kind) for kind in ("identify", "track", "page")}
    assert deltas == {"identify": 2, "track": 4, "page": 1}
    duplicates = ("nurture_events_duplicate_total", ())
    assert after.get(duplicates, 0.0) - before.get(duplicates, 0.0) == 3


def test_metrics_time_requests_by_route_and_status(client: TestClient, workspace: NewWorkspace) -> None:
    key = (
        "nurture_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/healthz"), ("status", "200")),
    )
    before = samples(client).get(key, 0.0)
    client.get("/healthz")
    client.get("/healthz")
    assert samples(client)[key] - before == 2


# logs


@pytest.fixture
def debug_server(tmp_path: Path, is_postgres: bool, database_url: str) -> Iterator[LiveServer]:
    """`nurture serve` at log level debug (request lines), on its own fresh database."""
    if is_postgres:
        url = _postgres_database(database_url, f"nurture_logs_{_worker()}")
    else:
        url = f"sqlite:///{tmp_path / 'logs.db'}"
    server = start_server(url, tmp_path / "server.log", {"NURTURE_LOG_LEVEL": "debug"})
    yield server
    stop(server)


def stop(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


BANNER = ("Created workspace Example", "  write key:", "  secret key:")


def log_records(log: Path) -> list[dict[str, Any]]:
    """Every log line as JSON; the one-time key banner for the operator is the only plain text."""
    records = []
    for line in log.read_text().splitlines():
        if line.startswith(BANNER):
            continue
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"event", "level", "timestamp"} <= record.keys(), line
        records.append(record)
    return records


def test_logs_are_json_lines_with_one_line_per_request(debug_server: LiveServer) -> None:
    url = debug_server.url
    assert httpx.get(f"{url}/healthz").status_code == 200
    track = httpx.post(
        f"{url}/v1/track", json={"userId": "u1", "event": "Signed Up"}, auth=(debug_server.write_key, "")
    )
    assert track.status_code == 200
    assert (
        httpx.post(f"{url}/v1/track", json={"userId": "u1"}, auth=(debug_server.write_key, "")).status_code
        == 400
    )
    stop(debug_server)

    records = log_records(debug_server.log)
    requests = [(r["method"], r["path"], r["status"]) for r in records if r["event"] == "request"]
    assert ("GET", "/healthz", 200) in requests
    assert requests[-2:] == [("POST", "/v1/track", 200), ("POST", "/v1/track", 400)]
    assert all(r["level"] == "debug" and r["ms"] >= 0 for r in records if r["event"] == "request")
    # the server's own lifecycle lines (uvicorn, through the standard library) are JSON as well
    assert any(r.get("logger") == "uvicorn.error" and "Uvicorn running" in r["event"] for r in records)
    # keys appear once, in the banner, never in request lines
    text = debug_server.log.read_text()
    assert (text.count(debug_server.secret_key), text.count(debug_server.write_key)) == (1, 1)


def test_the_default_level_logs_no_request_lines(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200
    stop(live_server)
    records = log_records(live_server.log)
    assert records
    assert all(r["level"] != "debug" for r in records)


@pytest.fixture
def two_process_server(tmp_path: Path, is_postgres: bool, database_url: str) -> Iterator[LiveServer]:
    """`nurture serve` with two HTTP processes, on its own fresh database."""
    if is_postgres:
        url = _postgres_database(database_url, f"nurture_metrics_{_worker()}")
    else:
        url = f"sqlite:///{tmp_path / 'metrics.db'}"
    server = start_server(url, tmp_path / "server.log", {"NURTURE_WEB_CONCURRENCY": "2"})
    yield server
    stop(server)


def test_metrics_cover_every_http_process(two_process_server: LiveServer) -> None:
    server = two_process_server
    for n in range(20):  # a new connection each time, so both processes take some
        response = httpx.post(
            f"{server.url}/v1/track",
            json={"userId": f"u{n}", "event": "Signed Up"},
            auth=(server.write_key, ""),
        )
        assert response.status_code == 200, response.text
    for _ in range(6):  # whichever process answers, it counts the whole server's events
        found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        assert ingested(found, "track") == 20


def test_first_start_loads_the_shipped_journeys_into_the_example_workspace(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.secret_key}"}
    listed = httpx.get(f"{live_server.url}/api/v1/journeys", headers=headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    journeys = body["data"] if isinstance(body, dict) else body
    shipped = {document["name"] for document in journey_documents().values()}
    assert {j["name"] for j in journeys} == shipped
    assert {j["status"] for j in journeys} == {"active"}


def test_of_two_http_processes_one_runs_the_embedded_workers(two_process_server: LiveServer) -> None:
    server = two_process_server
    for _ in range(100):  # both processes up: each logs its startup
        started = [r["event"] for r in log_records(server.log) if r.get("logger") == "uvicorn.error"]
        if sum("startup complete" in e for e in started) == 2:
            break
        time.sleep(0.1)
    workers = [r["event"] for r in log_records(server.log) if r["event"].endswith(" worker started")]
    assert sorted(workers) == sorted(set(workers))  # each loop once, not once per process
    assert {"audience worker started", "journeys worker started"} <= set(workers)
    # and they work: a sign-up starts the shipped welcome series
    calls = [
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@example.com"}},
        {"type": "track", "userId": "ann", "event": "Signed Up"},
    ]
    assert (
        httpx.post(f"{server.url}/v1/batch", json={"batch": calls}, auth=(server.write_key, "")).status_code
        == 200
    )
    headers = {"Authorization": f"Bearer {server.secret_key}"}
    for _ in range(100):
        figures = httpx.get(f"{server.url}/api/v1/journeys/Welcome series/analytics", headers=headers).json()
        if figures["entered"] == 1:
            break
        time.sleep(0.1)
    assert figures["entered"] == 1
