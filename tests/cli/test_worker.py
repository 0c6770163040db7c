"""`nurture worker` and the worker embedded in `nurture serve`, as real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.cli.test_cli import Cli, acme, api, nurture
from tests.conftest import LiveServer

__all__ = ["acme", "api", "nurture"]  # fixtures shared with the other CLI tests

LOGIN = {"type": "event", "name": "Login"}


def until(check: Any, seconds: float = 20) -> Any:
    """Ask `check` again until it answers truthy; fail after `seconds` (a generous bound, not a timing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"still not true after {seconds} s")


def test_worker_once_applies_what_is_queued_and_exits(
    nurture: Cli, acme: dict[str, str], api: TestClient
) -> None:
    headers = {"Authorization": f"Bearer {acme['secret_key']}"}
    segment = api.post(
        "/api/v1/segments", headers=headers, json={"name": "Logged in", "condition": LOGIN}
    ).json()
    assert (
        api.post(
            "/v1/track", json={"userId": "ann", "event": "Login"}, auth=(acme["write_key"], "")
        ).status_code
        == 200
    )

    done = nurture("worker", "--once")

    assert done.code == 0, done.stderr
    assert "1 recomputed" in done.said
    members = api.get(f"/api/v1/segments/{segment['id']}/members", headers=headers).json()["data"]
    assert len(members) == 1
    assert nurture.query("SELECT count(*) AS n FROM pending_changes") == [{"n": 0}]
    again = nurture("worker", "--once")
    assert "0 changes, 0 timers, 0 recomputed" in again.said


def test_a_running_worker_follows_events_and_stops_on_sigterm(
    nurture: Cli, acme: dict[str, str], api: TestClient, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {acme['secret_key']}"}
    segment = api.post(
        "/api/v1/segments", headers=headers, json={"name": "Logged in", "condition": LOGIN}
    ).json()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env["NURTURE_DATABASE_URL"] = nurture.url
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "nurture.cli.main", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        assert (
            api.post(
                "/v1/track", json={"userId": "ann", "event": "Login"}, auth=(acme["write_key"], "")
            ).status_code
            == 200
        )
        path = f"/api/v1/segments/{segment['id']}/members"
        until(lambda: api.get(path, headers=headers).json()["data"])
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "audience worker stopped" in (tmp_path / "worker.log").read_text()


def test_serve_runs_the_worker_by_default(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.secret_key}"}
    created = httpx.post(
        f"{live_server.url}/api/v1/segments", headers=headers, json={"name": "Logged in", "condition": LOGIN}
    )
    assert created.status_code == 201, created.text
    sent = httpx.post(
        f"{live_server.url}/v1/track",
        json={"userId": "ann", "event": "Login"},
        auth=(live_server.write_key, ""),
    )
    assert sent.status_code == 200
    path = f"{live_server.url}/api/v1/segments/{created.json()['id']}/members"
    [member] = until(lambda: httpx.get(path, headers=headers).json()["data"])
    contact = httpx.get(f"{live_server.url}/api/v1/contacts/{member['contact_id']}", headers=headers).json()
    assert contact["user_id"] == "ann"


def test_a_worker_runs_only_the_loops_asked_for(nurture: Cli, acme: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env["NURTURE_DATABASE_URL"] = nurture.url
    path = tmp_path / "worker.log"
    with path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nurture.cli.main", "worker", "--only", "journeys, dispatch"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        until(
            lambda: (
                "dispatch worker started" in path.read_text()
                and "journeys worker started" in path.read_text()
            )
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    said = path.read_text()
    assert "journeys worker stopped" in said
    assert "audience worker" not in said
    assert "webhook worker" not in said


def test_a_worker_refuses_a_loop_it_does_not_have(nurture: Cli, acme: dict[str, str]) -> None:
    done = nurture("worker", "--only", "journeys,mailer")

    assert done.code == 2
    said = " ".join(re.sub("[│╭╮╰╯─]", " ", done.stderr).split())  # unwrap Rich's error box
    assert "no loop named mailer; choose from audience, journeys, dispatch, webhook" in said
    assert nurture("worker", "--once", "--only", "journeys").code == 2
