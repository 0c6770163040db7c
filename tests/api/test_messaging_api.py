"""Messaging settings, senders and metrics through the admin REST API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.messages.engagement import MessageEventInput, MessageRef
from nurture.services import message_events
from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin, problem
from tests.services.messaging import contact, enqueue, template

KEY = """-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAtest
-----END PRIVATE KEY-----
"""
SENDER = {"name": "Main", "from_name": "Acme", "from_email": "news@acme.example.com"}


@pytest.fixture
def api(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, "/api/v1/senders")


def test_settings_start_at_the_defaults_and_are_replaced_whole(api: Admin) -> None:
    defaults = api.call("GET", "/api/v1/messaging/settings").json()
    assert defaults["postal_address"] is None
    assert defaults["retry"] == {"max_attempts": 5, "backoff_seconds": 60.0, "max_backoff_seconds": 3600.0}
    assert (defaults["lease_seconds"], defaults["resend_unknown_transactional"]) == (300, True)
    body = {
        "postal_address": "Acme Inc., 1 Main St, Springfield",
        "frequency_cap": {"max_messages": 3, "window_hours": 168, "over_cap": "skip"},
        "quiet_hours": {"start": "21:00", "end": "08:00", "fallback_timezone": "Europe/Berlin"},
    }

    saved = api.call("PUT", "/api/v1/messaging/settings", json=body)

    assert saved.status_code == 200, saved.text
    again = api.call("GET", "/api/v1/messaging/settings").json()
    assert again == saved.json()
    assert again["quiet_hours"]["start"] == "21:00:00"
    assert again["quiet_hours"]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert again["frequency_cap"] == {"max_messages": 3, "window_hours": 168.0, "over_cap": "skip"}
    cleared = api.call("PUT", "/api/v1/messaging/settings", json={}).json()
    assert (cleared["frequency_cap"], cleared["postal_address"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"frequency_cap": {"max_messages": -1, "window_hours": 1}}, "frequency_cap.max_messages"),
        ({"quiet_hours": {"start": "nine", "end": "08:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"start": "09:00"}}, "quiet_hours.end"),
        ({"retry": {"backoff_seconds": 0}}, "retry.backoff_seconds"),
        ({"lease_seconds": "long"}, "lease_seconds"),
        ({"timezone": "Berlin"}, "timezone"),
        ({"unknown": 1}, "unknown"),
        ([1, 2], "body"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(api: Admin, body: Any, field: str) -> None:
    before = api.call("GET", "/api/v1/messaging/settings").json()
    assert field in problem(api.call("PUT", "/api/v1/messaging/settings", json=body))
    assert api.call("GET", "/api/v1/messaging/settings").json() == before


def test_senders_never_show_secrets_and_keep_them_when_given_back_masked(
    api: Admin, container: Container, workspace: NewWorkspace
) -> None:
    smtp = {"smtp_url": "smtps://mailer:s3cret@smtp.example.com:465", "rate_per_second": 10}
    dkim = {"dkim_domain": "acme.example.com", "dkim_selector": "nurture", "dkim_key": KEY}
    first = api.create(**SENDER, **smtp, **dkim)

    assert first["smtp_url"] == "smtps://mailer:****@smtp.example.com:465"
    assert (first["dkim_key_set"], first["is_default"], first["rate_per_second"]) == (True, True, 10.0)
    assert "dkim_key" not in first
    assert "s3cret" not in api.call("GET", "/api/v1/senders").text
    changed = api.call(
        "PUT",
        f"/api/v1/senders/{first['id']}",
        json={
            **SENDER,
            "smtp_url": first["smtp_url"],
            "dkim_domain": "acme.example.com",
            "dkim_selector": "s2",
        },
    )
    assert changed.status_code == 200, changed.text
    stored = container.senders.get(workspace.id, first["id"])
    assert (stored.smtp_url, stored.dkim_key, stored.dkim_selector) == (smtp["smtp_url"], KEY, "s2")
    second = api.create(**{**SENDER, "name": "Other", "is_default": True})
    assert second["is_default"]
    assert not api.get(first["id"])["is_default"]
    problem(api.call("DELETE", f"/api/v1/senders/{second['id']}"), 409)
    assert api.call("DELETE", f"/api/v1/senders/{first['id']}").status_code == 204
    assert api.call("DELETE", f"/api/v1/senders/{second['id']}").status_code == 204
    assert api.call("GET", "/api/v1/senders").json() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"from_email": "nope"}, "from_email"),
        ({"from_name": " "}, "from_name"),
        ({"reply_to": "@x"}, "reply_to"),
        ({"smtp_url": "ftp://mail.example.com"}, "smtp_url"),
        ({"smtp_url": "smtp://u:****@mail.example.com"}, "smtp_url"),
        ({"rate_per_second": -3}, "rate_per_second"),
        ({"rate_per_second": "fast"}, "rate_per_second"),
        ({"dkim_selector": "s1"}, "dkim_domain"),
        ({"dkim_domain": "acme.example.com", "dkim_selector": "s1", "dkim_key": "secret"}, "dkim_key"),
        ({"is_default": "maybe"}, "is_default"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_senders_are_refused_naming_the_field(api: Admin, changes: dict[str, Any], field: str) -> None:
    assert field in problem(api.call("POST", "/api/v1/senders", json={**SENDER, **changes}))
    made = api.create(**{**SENDER, "name": "Kept"})
    assert field in problem(api.call("PUT", f"/api/v1/senders/{made['id']}", json={**SENDER, **changes}))
    assert api.get(made["id"])["from_email"] == SENDER["from_email"]


def test_sender_names_are_unique_and_unknown_senders_are_not_found(api: Admin) -> None:
    api.create(**SENDER)
    problem(api.call("POST", "/api/v1/senders", json=SENDER), 409)
    problem(api.call("PUT", "/api/v1/senders/01NOSUCHSENDER000000000000", json=SENDER), 404)
    problem(api.call("GET", "/api/v1/senders/01NOSUCHSENDER000000000000"), 404)


def test_metrics_count_distinct_messages_and_only_human_opens(
    api: Admin, container: Container, workspace: NewWorkspace
) -> None:
    api.create(**SENDER)
    promo = template(container, workspace.id)
    other = template(container, workspace.id, name="Other")
    people = [contact(container, workspace.id, f"u{n}", email=f"u{n}@example.com") for n in range(3)]
    ids = [enqueue(container, workspace.id, p, promo, f"run:{p}") for p in people]
    enqueue(container, workspace.id, people[0], other, "other:1")
    container.messages.test_send(workspace.id, promo, "me@acme.example.com", None)
    container.dispatcher.run_once()
    now = container.clock.now()
    refs = {m: MessageRef(m, p, "email", template_id=promo) for m, p in zip(ids, people, strict=True)}
    happenings = [
        MessageEventInput(refs[ids[0]], MessageEventKind.OPENED, now, {"machine": True}),  # Apple MPP
        MessageEventInput(refs[ids[1]], MessageEventKind.OPENED, now, {"machine": False}),
        MessageEventInput(refs[ids[1]], MessageEventKind.OPENED, now, {"machine": False}),
        MessageEventInput(refs[ids[2]], MessageEventKind.OPENED, now, {}),
        MessageEventInput(refs[ids[1]], MessageEventKind.CLICKED, now, {"url": "https://a.example"}),
        MessageEventInput(refs[ids[1]], MessageEventKind.CLICKED, now, {"url": "https://b.example"}),
        MessageEventInput(refs[ids[2]], MessageEventKind.UNSUBSCRIBED, now, {}),
        MessageEventInput(refs[ids[0]], MessageEventKind.DELIVERED, now, {}),
    ]
    with container.db.write() as conn:
        message_events.record(conn, workspace.id, happenings, now)

    counts = api.call("GET", "/api/v1/messaging/metrics", params={"template_id": promo}).json()
    everything = api.call("GET", "/api/v1/messaging/metrics").json()
    per_template = api.call("GET", "/api/v1/messaging/metrics/templates").json()

    assert counts == {
        "sent": 3,
        "delivered": 1,
        "bounced": 0,
        "opened": 2,
        "clicked": 1,
        "unsubscribed": 1,
        "complained": 0,
    }
    assert everything["sent"] == 4
    assert [(t["template_id"], t["sent"]) for t in per_template] == [(promo, 3), (other, 1)]
    journey = api.call(
        "GET", "/api/v1/messaging/metrics", params={"journey_id": "j1", "node_id": "n1"}
    ).json()
    assert journey["sent"] == 0
    assert "node_id" in problem(api.call("GET", "/api/v1/messaging/metrics", params={"node_id": "n1"}))
