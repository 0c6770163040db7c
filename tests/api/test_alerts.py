"""Internal alerts through the API: Slack incoming webhooks (posted by the worker to a real receiver)
and email addresses (outbox messages), and refusals of bad input naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import messages
from tests.api.admin import problem
from tests.conftest import ingest, secret
from tests.http_peer import RecordingServer

API = "/api/v1/alerts"


def _contact(container: Container, workspace_id: str) -> str:
    ingest(
        container, workspace_id, {"type": "identify", "userId": "ann", "traits": {"email": "ann@example.com"}}
    )
    return container.contacts.list(workspace_id, user_id="ann").items[0].id


def test_a_slack_alert_is_posted_by_the_worker(
    container: Container, client: TestClient, workspace: NewWorkspace, receiver: RecordingServer
) -> None:
    body = {
        "title": "Ann is ready for sales",
        "text": "Score 72 after the *pricing* visit",
        "fields": {"Score": 72, "Stage": "mql"},
        "slack_webhook_urls": [f"{receiver.url}/services/T0/B0/secret"],
    }
    sent = client.post(API, headers=secret(workspace), json=body)
    assert sent.status_code == 202, sent.text
    assert sent.json()["messages"] == []

    assert container.webhook_worker.run_once().delivered == 1

    [request] = receiver.received
    assert request.path == "/services/T0/B0/secret"
    got = request.json()
    assert got["text"] == "Ann is ready for sales: Score 72 after the *pricing* visit"  # type: ignore[index]
    assert got["blocks"][2]["fields"] == [  # type: ignore[index]
        {"type": "mrkdwn", "text": "*Score*\n72"},
        {"type": "mrkdwn", "text": "*Stage*\nmql"},
    ]
    [logged] = client.get("/api/v1/webhooks/deliveries", headers=secret(workspace)).json()["data"]
    assert (logged["id"], logged["target"], logged["status"]) == (
        sent.json()["deliveries"][0],
        "slack",
        "delivered",
    )
    assert logged["url"] == f"{receiver.url}/…"  # the Slack URL is a secret: the log shows its host only


def test_an_email_alert_is_an_outbox_message_to_the_address_given(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = _contact(container, workspace.id)
    body = {
        "title": "Ann is ready",
        "contact_id": ann,
        "link": "https://crm.example.com/ann",
        "emails": ["Sales@Example.com", "boss@example.com"],
    }
    sent = client.post(API, headers=secret(workspace), json=body)
    assert sent.status_code == 202, sent.text
    assert len(sent.json()["messages"]) == 2
    with container.db.read() as conn:
        rows = conn.execute(
            select(messages).where(messages.c.workspace_id == workspace.id).order_by(messages.c.to_address)
        ).all()
    assert [(r.to_address, r.contact_id, r.channel, r.category, r.source, r.status) for r in rows] == [
        ("boss@example.com", ann, "email", "transactional", "system", "pending"),
        ("sales@example.com", ann, "email", "transactional", "system", "pending"),
    ]
    assert rows[0].context == {
        "alert": {
            "subject": "[nurture] Ann is ready",
            "text": "Ann is ready\n\nhttps://crm.example.com/ann\n",
        }
    }


@pytest.mark.parametrize(
    ("body", "fields", "status"),
    [
        ({"slack_webhook_urls": ["https://hooks.example.com/x"]}, ["title"], 400),
        ({"title": "", "emails": ["a@example.com"]}, ["title"], 400),
        ({"title": "x" * 151, "slack_webhook_urls": ["https://hooks.example.com/x"]}, ["title"], 400),
        ({"title": "t"}, ["slack_webhook_urls"], 400),
        (
            {"title": "t", "slack_webhook_urls": ["https://ok.example.com", "hooks.slack.com/x"]},
            ["slack_webhook_urls[1]"],
            400,
        ),
        ({"title": "t", "emails": ["a@example.com", "not-an-address"]}, ["emails[1]"], 400),
        ({"title": "t", "emails": ["a@example.com"]}, ["contact_id"], 400),
        (
            {"title": "t", "emails": ["a@example.com"], "contact_id": "01J0000000000000000000000X"},
            ["contact_id"],
            400,
        ),
        (
            {"title": "t", "link": "javascript:alert(1)", "slack_webhook_urls": ["https://h.example.com"]},
            ["link"],
            400,
        ),
        (
            {
                "title": "t",
                "fields": {str(n): n for n in range(11)},
                "slack_webhook_urls": ["https://h.example.com"],
            },
            ["fields"],
            400,
        ),
        (
            {"title": "t", "fields": {"a": {"b": 1}}, "slack_webhook_urls": ["https://h.example.com"]},
            ["fields.a"],
            400,
        ),
        ({"title": "t", "slack_webhook_urls": "https://h.example.com"}, ["slack_webhook_urls"], 400),
        ({"title": "t", "to": ["a@example.com"]}, ["to"], 400),
    ],
)
def test_bad_alerts_are_refused_naming_the_field(
    container: Container,
    client: TestClient,
    workspace: NewWorkspace,
    body: dict[str, Any],
    fields: list[str],
    status: int,
) -> None:
    assert problem(client.post(API, headers=secret(workspace), json=body), status) == fields
    assert client.get("/api/v1/webhooks/deliveries", headers=secret(workspace)).json()["data"] == []
