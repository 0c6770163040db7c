"""`nurture worker --once` dispatching, and `nurture mail list` / `mail show` reading what capture kept."""

from __future__ import annotations

from email import message_from_string
from email.policy import default as email_policy

import httpx
from fastapi.testclient import TestClient

from tests.cli.test_cli import Cli, acme, api, nurture
from tests.cli.test_worker import until
from tests.conftest import LiveServer

__all__ = ["acme", "api", "nurture"]  # fixtures shared with the other CLI tests


def test_captured_mail_is_listed_and_shown(nurture: Cli, acme: dict[str, str], api: TestClient) -> None:
    headers = {"Authorization": f"Bearer {acme['secret_key']}"}
    sender = {"name": "Shop", "from_name": "Acme Shop", "from_email": "shop@acme.example.com"}
    assert api.post("/api/v1/senders", headers=headers, json=sender).status_code == 201
    body = {
        "name": "Receipt",
        "category": "transactional",
        "subject": "Your order [{{ data.id }}]",
        "html": "<p>Thanks, order {{ data.id }}</p>",
    }
    template = api.post("/api/v1/templates", headers=headers, json=body).json()
    send = {"contact": {"email": "ann@example.com"}, "template_id": template["id"], "data": {"id": "A-1"}}
    sent = api.post("/api/v1/messages", headers={**headers, "Idempotency-Key": "order-A-1"}, json=send)
    assert sent.status_code == 202, sent.text

    done = nurture("worker", "--once")

    assert done.code == 0, done.stderr
    assert "messages: 1 sent" in done.said
    listed = nurture("mail", "list", "--json").json()
    assert [(m["to"], m["subject"], m["message_id"]) for m in listed] == [
        ("ann@example.com", "Your order [A-1]", sent.json()["id"])
    ]
    table = nurture("mail", "list", "--workspace", acme["id"])
    assert "[A-1]" in table.said  # brackets are text, not markup
    shown = nurture("mail", "show", listed[0]["id"])
    assert shown.code == 0, shown.stderr
    assert "From: Acme Shop <shop@acme.example.com>" in shown.stdout
    assert "Subject: Your order [A-1]" in shown.stdout
    assert "Thanks, order A-1" in shown.stdout
    raw = nurture("mail", "show", sent.json()["id"], "--raw")  # by the message's own id too
    parsed = message_from_string(raw.stdout, policy=email_policy)
    assert parsed["Message-ID"] == f"<{sent.json()['id']}@acme.example.com>"
    assert parsed.get_content_type() == "multipart/alternative"


def test_mail_commands_say_what_is_wrong(nurture: Cli, acme: dict[str, str]) -> None:
    missing = nurture("mail", "show", "01NOSUCHMAIL00000000000000")
    assert missing.code == 1
    assert "no captured message 01NOSUCHMAIL00000000000000" in missing.said
    unknown = nurture("mail", "list", "--workspace", "01NOSUCHWORKSPACE000000000")
    assert unknown.code == 1
    assert "workspace 01NOSUCHWORKSPACE000000000 does not exist" in unknown.said
    empty = nurture("mail", "list")
    assert (empty.code, "no captured mail" in empty.said) == (0, True)


def test_serve_seeds_a_sender_and_its_dispatcher_captures_what_the_api_sends(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.secret_key}"}
    body = {
        "name": "Welcome",
        "subject": "Welcome, {{ contact.email }}",
        "html": "<p>{{ workspace.postal_address }}</p>",
    }
    template = httpx.post(f"{live_server.url}/api/v1/templates", headers=headers, json=body).json()
    send = {"contact": {"email": "ann@example.com"}, "template_id": template["id"], "topic": "newsletter"}
    sent = httpx.post(
        f"{live_server.url}/api/v1/messages", headers={**headers, "Idempotency-Key": "welcome-ann"}, json=send
    )
    assert sent.status_code == 202, sent.text

    path = f"{live_server.url}/api/v1/messages/{sent.json()['id']}"
    shown = until(lambda: (m := httpx.get(path, headers=headers).json())["status"] == "sent" and m)

    assert (shown["subject"], shown["to"]) == ("Welcome, ann@example.com", "ann@example.com")
    assert [e["kind"] for e in shown["events"]] == ["sent"]
