"""The webhook worker in real processes: `nurture worker` (once, and until SIGTERM) and embedded in
`nurture serve`, delivering to a real receiver on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from tests.cli.test_cli import Cli, acme, api, nurture
from tests.cli.test_worker import until
from tests.conftest import LiveServer
from tests.http_peer import RecordingServer

__all__ = ["acme", "api", "nurture"]


def _endpoint(api: TestClient, headers: dict[str, str], url: str) -> dict[str, str]:
    made = api.post("/api/v1/webhooks/endpoints", headers=headers, json={"url": url, "event_types": ["*"]})
    assert made.status_code == 201, made.text
    endpoint: dict[str, str] = made.json()
    return endpoint


def test_worker_once_delivers_what_is_due(
    nurture: Cli, acme: dict[str, str], api: TestClient, receiver: RecordingServer
) -> None:
    headers = {"Authorization": f"Bearer {acme['secret_key']}"}
    endpoint = _endpoint(api, headers, receiver.url)
    assert api.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/test", headers=headers).status_code == 202

    done = nurture("worker", "--once")

    assert done.code == 0, done.stderr
    assert "webhooks: 1 delivered, 0 to retry, 0 dead" in done.said
    [request] = receiver.received
    assert request.json()["type"] == "webhook.test"  # type: ignore[index]


def test_a_running_worker_delivers_and_stops_on_sigterm(
    nurture: Cli, acme: dict[str, str], api: TestClient, receiver: RecordingServer, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {acme['secret_key']}"}
    endpoint = _endpoint(api, headers, receiver.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env["NURTURE_DATABASE_URL"] = nurture.url
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "nurture.cli.main", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        assert (
            api.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/test", headers=headers).status_code == 202
        )
        until(lambda: receiver.received)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    said = (tmp_path / "worker.log").read_text()
    assert "webhook worker stopped" in said
    assert "audience worker stopped" in said


def test_serve_publishes_activities_to_webhooks(live_server: LiveServer, receiver: RecordingServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.secret_key}"}
    created = httpx.post(
        f"{live_server.url}/api/v1/webhooks/endpoints",
        headers=headers,
        json={"url": f"{receiver.url}/crm", "event_types": ["contact.tag_added"]},
    )
    assert created.status_code == 201, created.text
    contact = httpx.post(
        f"{live_server.url}/api/v1/contacts", headers=headers, json={"email": "ann@example.com"}
    )
    assert contact.status_code == 201, contact.text
    tagged = httpx.put(f"{live_server.url}/api/v1/contacts/{contact.json()['id']}/tags/vip", headers=headers)
    assert tagged.status_code == 200, tagged.text

    [request] = until(lambda: receiver.received)

    body = Webhook(created.json()["secret"]).verify(request.body, request.headers)
    assert body["type"] == "contact.tag_added"
    assert body["data"]["contact_id"] == contact.json()["id"]
    assert body["data"]["tag"] == "vip"
