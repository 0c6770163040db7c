"""Messages through the admin REST API: transactional sends with an Idempotency-Key, reading messages
and their events, test sends, and refusals naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin, problem


@pytest.fixture
def api(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, "/api/v1/messages")


@pytest.fixture
def receipt(api: Admin) -> str:
    sender = api.call(
        "POST",
        "/api/v1/senders",
        json={"name": "Shop", "from_name": "Shop", "from_email": "shop@acme.example.com"},
    )
    assert sender.status_code == 201, sender.text
    body = {
        "name": "Receipt",
        "category": "transactional",
        "subject": "Order {{ data.order_id }}",
        "html": "<p>{% for item in data.items %}{{ item.name }} {% endfor %}</p>",
    }
    created = api.call("POST", "/api/v1/templates", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def send(api: Admin, key: str | None, **body: Any) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.call("POST", "/api/v1/messages", json=body, headers=headers)


ORDER = {"order_id": "A-17", "items": [{"name": "Mug"}, {"name": "Tea"}]}


def test_a_send_queues_once_per_key_and_the_same_key_returns_the_same_message(
    api: Admin, receipt: str, container: Container
) -> None:
    first = send(api, "order-A-17", contact={"email": "Guest@Example.com"}, template_id=receipt, data=ORDER)
    again = send(api, "order-A-17", contact={"email": "guest@example.com"}, template_id=receipt, data=ORDER)

    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert (first.json()["status"], first.json()["category"], first.json()["source"]) == (
        "pending",
        "transactional",
        "api",
    )
    assert len(api.all()) == 1
    [guest] = api.call("GET", "/api/v1/contacts", params={"email": "guest@example.com"}).json()["data"]
    assert first.json()["contact_id"] == guest["id"]

    container.dispatcher.run_once()

    shown = api.get(first.json()["id"])
    assert (shown["status"], shown["subject"], shown["to"], shown["attempts"]) == (
        "sent",
        "Order A-17",
        "guest@example.com",
        1,
    )
    assert [e["kind"] for e in shown["events"]] == ["sent"]
    [captured] = container.mail.newest(None)
    assert "Mug Tea" in container.mail.get(None, captured.id).raw
    assert (
        send(
            api, "order-A-17", contact={"email": "guest@example.com"}, template_id=receipt, data=ORDER
        ).json()["status"]
        == "sent"
    )


def test_the_same_key_with_another_request_is_a_conflict(api: Admin, receipt: str) -> None:
    assert (
        send(api, "k-1", contact={"email": "a@example.com"}, template_id=receipt, data=ORDER).status_code
        == 202
    )
    changed = send(
        api, "k-1", contact={"email": "a@example.com"}, template_id=receipt, data={"order_id": "B"}
    )

    assert problem(changed, 409) == []
    assert "k-1" in changed.json()["detail"]
    assert len(api.all()) == 1


def test_contacts_are_named_by_id_or_user_id_too(api: Admin, receipt: str) -> None:
    made = api.call("POST", "/api/v1/contacts", json={"email": "ann@example.com", "user_id": "ann"}).json()
    by_id = send(api, "k-id", contact={"id": made["id"]}, template_id=receipt)
    by_user = send(api, "k-user", contact={"user_id": "ann"}, template_id=receipt, channel="email")

    assert by_id.status_code == by_user.status_code == 202
    assert by_id.json()["contact_id"] == by_user.json()["contact_id"] == made["id"]
    assert {m["id"] for m in api.all(contact_id=made["id"])} == {by_id.json()["id"], by_user.json()["id"]}


@pytest.mark.parametrize(
    ("key", "body", "field"),
    [
        (None, {"contact": {"email": "a@example.com"}}, "Idempotency-Key"),
        ("has space", {"contact": {"email": "a@example.com"}}, "Idempotency-Key"),
        ("k" * 256, {"contact": {"email": "a@example.com"}}, "Idempotency-Key"),
        ("k", {"contact": {}}, "contact"),
        ("k", {"contact": {"email": "a@example.com", "id": "x"}}, "contact"),
        ("k", {"contact": {"phone": "+14155550123"}}, "contact"),
        ("k", {"contact": {"email": "not-an-address"}}, "contact.email"),
        ("k", {"contact": {"id": "01NOSUCHCONTACT00000000000"}}, "contact.id"),
        ("k", {"contact": {"user_id": "nobody"}}, "contact.user_id"),
        (
            "k",
            {"contact": {"email": "a@example.com"}, "template_id": "01NOSUCHTEMPLATE0000000000"},
            "template_id",
        ),
        ("k", {"contact": {"email": "a@example.com"}, "channel": "sms"}, "channel"),
        ("k", {"contact": {"email": "a@example.com"}, "channel": "fax"}, "channel"),
        ("k", {"contact": {"email": "a@example.com"}, "topic": "bad topic!"}, "topic"),
        ("k", {"contact": {"email": "a@example.com"}, "data": [1, 2]}, "data"),
        ("k", {"contact": {"email": "a@example.com"}, "data": {"big": "x" * 70_000}}, "data"),
        ("k", {"contact": {"email": "a@example.com"}, "colour": "red"}, "colour"),
        ("k", {"template_id": "x"}, "contact"),
    ],
)
def test_bad_sends_name_the_field(
    api: Admin, receipt: str, key: str | None, body: dict[str, Any], field: str
) -> None:
    assert field in problem(send(api, key, **{"template_id": receipt, **body}))
    assert api.all() == []


def test_listing_filters_and_pages(api: Admin, receipt: str, container: Container) -> None:
    ids = []
    for n in range(3):
        ids.append(
            send(api, f"k{n}", contact={"email": f"p{n}@example.com"}, template_id=receipt).json()["id"]
        )
        container.clock.advance(timedelta(seconds=1))
    container.dispatcher.run_once()
    ids.append(send(api, "k3", contact={"email": "p0@example.com"}, template_id=receipt).json()["id"])

    first = api.call("GET", "/api/v1/messages", params={"limit": 2}).json()
    rest = api.call("GET", "/api/v1/messages", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [m["id"] for m in first["data"] + rest["data"]] == ids
    assert rest["next_cursor"] is None
    assert [m["id"] for m in api.all(status="pending")] == ids[3:]
    p0 = api.all(status="sent")[0]["contact_id"]
    assert [m["id"] for m in api.all(contact_id=p0)] == [ids[0], ids[3]]
    assert "status" in problem(api.call("GET", "/api/v1/messages", params={"status": "lost"}))
    assert "cursor" in problem(api.call("GET", "/api/v1/messages", params={"cursor": "bm90LW91cnM"}))
    assert "limit" in problem(api.call("GET", "/api/v1/messages", params={"limit": 0}))
    problem(api.call("GET", "/api/v1/messages", params={"contact_id": "01NOSUCHCONTACT00000000000"}), 404)
    problem(api.call("GET", "/api/v1/messages/nosuchmessage"), 404)


def test_a_test_send_goes_to_the_address_given(api: Admin, receipt: str, container: Container) -> None:
    made = api.call("POST", "/api/v1/contacts", json={"email": "ann@example.com", "first_name": "Ann"}).json()
    sent = api.call(
        "POST",
        f"/api/v1/templates/{receipt}/test-send",
        json={"to": "me@acme.example.com", "contact_id": made["id"]},
    )
    assert sent.status_code == 202, sent.text
    assert (sent.json()["source"], sent.json()["to"]) == ("test", "me@acme.example.com")

    container.dispatcher.run_once()

    shown = api.get(sent.json()["id"])
    assert (shown["status"], shown["subject"], shown["events"]) == ("sent", "[Test] Order", [])
    path = f"/api/v1/templates/{receipt}/test-send"
    assert "to" in problem(api.call("POST", path, json={"to": "nope"}))
    assert "to" in problem(api.call("POST", path, json={}))
    assert "contact_id" in problem(
        api.call("POST", path, json={"to": "me@acme.example.com", "contact_id": "01NOSUCH"})
    )
    problem(
        api.call(
            "POST",
            "/api/v1/templates/01NOSUCHTEMPLATE0000000000/test-send",
            json={"to": "me@acme.example.com"},
        ),
        404,
    )
