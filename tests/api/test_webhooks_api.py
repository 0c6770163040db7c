"""Webhook endpoints through the admin API: create, read, change, delete; the delivery log, test
events and redelivery; every write refuses bad input with a problem naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from nurture.bootstrap import Container
from nurture.domain.webhooks.events import EVENT_TYPES
from nurture.domain.webhooks.signing import secret_from_bytes
from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin, problem
from tests.http_peer import RecordingServer

API = "/api/v1/webhooks/endpoints"


@pytest.fixture
def hooks(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, API)


def test_an_endpoint_is_created_with_a_secret_shown_on_it_but_not_in_listings(hooks: Admin) -> None:
    made = hooks.create(url="https://example.com/hooks", event_types=["contact.*"], description="CRM sync")
    assert made["secret"].startswith("whsec_")
    assert (made["enabled"], made["disabled_reason"], made["event_types"]) == (True, None, ["contact.*"])
    assert hooks.get(made["id"])["secret"] == made["secret"]
    [listed] = hooks.call("GET", API).json()["data"]
    assert listed["id"] == made["id"]
    assert listed["secret"] is None
    given = secret_from_bytes(b"s" * 32)
    assert hooks.create(url="http://127.0.0.1:9/x", event_types=["*"], secret=given)["secret"] == given


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"event_types": ["*"]}, ["url"]),
        ({"url": "ftp://example.com", "event_types": ["*"]}, ["url"]),
        ({"url": "example.com/hooks", "event_types": ["*"]}, ["url"]),
        ({"url": "https://me:pw@example.com/", "event_types": ["*"]}, ["url"]),
        ({"url": 12, "event_types": ["*"]}, ["url"]),
        ({"url": "https://example.com"}, ["event_types"]),
        ({"url": "https://example.com", "event_types": []}, ["event_types"]),
        (
            {"url": "https://example.com", "event_types": ["contact.*", "contact.signed_up"]},
            ["event_types[1]"],
        ),
        ({"url": "https://example.com", "event_types": ["*"], "secret": "hunter2"}, ["secret"]),
        ({"url": "https://example.com", "event_types": ["*"], "secret": "whsec_c2hvcnQ="}, ["secret"]),
        ({"url": "https://example.com", "event_types": ["*"], "enabled": "maybe"}, ["enabled"]),
        ({"url": "https://example.com", "event_types": ["*"], "description": "x" * 2001}, ["description"]),
        ({"url": "https://example.com", "event_types": ["*"], "colour": "red"}, ["colour"]),
    ],
)
def test_bad_endpoints_are_refused_naming_the_field(
    hooks: Admin, body: dict[str, Any], fields: list[str]
) -> None:
    assert problem(hooks.call("POST", API, json=body)) == fields
    assert hooks.call("GET", API).json()["data"] == []


def test_an_endpoint_is_changed_field_by_field_and_bad_changes_are_refused(hooks: Admin) -> None:
    made = hooks.create(url="https://example.com/a", event_types=["*"])
    changed = hooks.call(
        "PATCH", f"{API}/{made['id']}", json={"url": "https://example.com/b", "description": "B"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["url"], changed.json()["description"], changed.json()["event_types"]) == (
        "https://example.com/b",
        "B",
        ["*"],
    )
    for body, field in (
        ({"url": None}, "url"),
        ({"url": "nope"}, "url"),
        ({"event_types": ["message.read"]}, "event_types[0]"),
        ({"event_types": None}, "event_types"),
        ({"enabled": None}, "enabled"),
        ({"secret": "whsec_"}, "secret"),
        ({"id": "x"}, "id"),
    ):
        assert problem(hooks.call("PATCH", f"{API}/{made['id']}", json=body)) == [field], body
    assert hooks.get(made["id"])["url"] == "https://example.com/b"
    assert (
        problem(hooks.call("PATCH", f"{API}/01J0000000000000000000000X", json={"enabled": False}), 404) == []
    )


def test_deleting_an_endpoint_removes_its_log(
    container: Container, client: TestClient, workspace: NewWorkspace, hooks: Admin, receiver: RecordingServer
) -> None:
    made = hooks.create(url=receiver.url, event_types=["*"])
    assert hooks.call("POST", f"{API}/{made['id']}/test").status_code == 202
    assert hooks.call("DELETE", f"{API}/{made['id']}").status_code == 204
    assert problem(hooks.call("GET", f"{API}/{made['id']}"), 404) == []
    assert problem(hooks.call("DELETE", f"{API}/{made['id']}"), 404) == []
    assert hooks.call("GET", "/api/v1/webhooks/deliveries").json()["data"] == []
    assert container.webhook_worker.run_once().attempted == 0


def test_a_test_event_shows_in_the_log_with_the_answer(
    container: Container, hooks: Admin, receiver: RecordingServer
) -> None:
    receiver.answer(202, b'{"ok": true}')
    made = hooks.create(url=f"{receiver.url}/in", event_types=["contact.tag_added"])
    queued = hooks.call("POST", f"{API}/{made['id']}/test")
    assert queued.status_code == 202, queued.text
    assert (queued.json()["status"], queued.json()["event_type"]) == ("pending", "webhook.test")

    container.webhook_worker.run_once()

    [request] = receiver.received
    assert (
        Webhook(made["secret"]).sign(
            request.headers["webhook-id"], container.clock.now(), request.body.decode()
        )
        == request.headers["webhook-signature"]
    )
    log = hooks.call("GET", f"{API}/{made['id']}/deliveries").json()
    [entry] = log["data"]
    assert log["next_cursor"] is None
    assert entry | {"id": None, "event_id": None, "payload": None} == {
        "id": None,
        "endpoint_id": made["id"],
        "target": "endpoint",
        "url": None,
        "event_id": None,
        "event_type": "webhook.test",
        "payload": None,
        "status": "delivered",
        "attempts": 1,
        "next_attempt_at": None,
        "retry_until": "2026-03-03T09:30:00Z",
        "last_attempt_at": "2026-03-02T09:30:00Z",
        "response_code": 202,
        "response_body": '{"ok": true}',
        "error": None,
        "created_at": "2026-03-02T09:30:00Z",
        "updated_at": "2026-03-02T09:30:00Z",
    }
    assert entry["payload"]["data"] == {"endpoint_id": made["id"]}
    assert hooks.get(made["id"])["enabled"] is True
    assert hooks.call("GET", f"/api/v1/webhooks/deliveries/{entry['id']}").json() == entry


def test_the_log_pages_newest_first_and_filters_by_status(
    container: Container, hooks: Admin, receiver: RecordingServer
) -> None:
    made = hooks.create(url=receiver.url, event_types=["*"])
    ids = [hooks.call("POST", f"{API}/{made['id']}/test").json()["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = hooks.call("GET", f"{API}/{made['id']}/deliveries", params=params).json()
        seen += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert (
        len(hooks.call("GET", f"{API}/{made['id']}/deliveries", params={"status": "pending"}).json()["data"])
        == 5
    )
    assert hooks.call("GET", f"{API}/{made['id']}/deliveries", params={"status": "dead"}).json()["data"] == []
    assert problem(hooks.call("GET", f"{API}/{made['id']}/deliveries", params={"status": "lost"})) == [
        "status"
    ]
    assert problem(hooks.call("GET", f"{API}/{made['id']}/deliveries", params={"cursor": "zzz"})) == [
        "cursor"
    ]
    assert problem(hooks.call("GET", f"{API}/{made['id']}/deliveries", params={"limit": 0})) == ["limit"]


def test_disabling_dead_letters_what_waits_and_redelivery_needs_the_endpoint_enabled(
    container: Container, hooks: Admin, receiver: RecordingServer
) -> None:
    made = hooks.create(url=receiver.url, event_types=["*"])
    delivery = hooks.call("POST", f"{API}/{made['id']}/test").json()
    assert problem(hooks.call("POST", f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver"), 409) == []
    off = hooks.call("PATCH", f"{API}/{made['id']}", json={"enabled": False}).json()
    assert (off["enabled"], off["disabled_reason"]) == (False, "disabled through the API")
    dead = hooks.call("GET", f"/api/v1/webhooks/deliveries/{delivery['id']}").json()
    assert (dead["status"], dead["error"]) == ("dead", "the endpoint was disabled")
    assert problem(hooks.call("POST", f"{API}/{made['id']}/test"), 409) == []
    assert problem(hooks.call("POST", f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver"), 409) == []

    on = hooks.call("PATCH", f"{API}/{made['id']}", json={"enabled": True}).json()
    assert (on["enabled"], on["disabled_reason"]) == (True, None)
    again = hooks.call("POST", f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "pending"
    assert container.webhook_worker.run_once().delivered == 1
    assert len(receiver.received) == 1
    missing = "/api/v1/webhooks/deliveries/01J0000000000000000000000X/redeliver"
    assert problem(hooks.call("POST", missing), 404) == []


def test_event_types_are_listed(hooks: Admin) -> None:
    listed = hooks.call("GET", "/api/v1/webhooks/event-types").json()["data"]
    assert listed == list(EVENT_TYPES)
    assert {"contact.segment_entered", "contact.lifecycle_changed", "message.bounced"} <= set(listed)


def test_a_workspace_has_at_most_fifty_endpoints(hooks: Admin) -> None:
    for n in range(50):
        hooks.create(url=f"https://example.com/{n}", event_types=["*"])
    assert (
        problem(hooks.call("POST", API, json={"url": "https://example.com/x", "event_types": ["*"]}), 409)
        == []
    )
