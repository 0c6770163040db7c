"""A contact's tags, subscriptions, lifecycle stage and owner through the API: shown on the contact,
filterable, recorded as activities, queued for the audience worker, never overwritten by ingest."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import or_, select

from nurture.bootstrap import Container
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import pending_changes
from tests.api.admin import Admin, problem
from tests.conftest import ingest

API = "/api/v1/contacts"
UNKNOWN = "01AAAAAAAAAAAAAAAAAAAAAAAA"

AUDIENCE_FIELDS = ["lifecycle_stage", "owner_id"]


@pytest.fixture
def admin(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, API)


def queued(container: Container, workspace_id: str) -> list[tuple[str, str]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(pending_changes.c.kind, pending_changes.c.name)
            .where(
                pending_changes.c.workspace_id == workspace_id,
                # what this API queues; creating the contacts queued their profile and events too
                pending_changes.c.kind.in_(["membership", "profile"]),
                or_(pending_changes.c.kind == "membership", pending_changes.c.name.in_(AUDIENCE_FIELDS)),
            )
            .order_by(pending_changes.c.id)
        ).all()
    return [(r.kind, r.name) for r in rows]


def feed(admin: Admin, contact_id: str) -> list[dict[str, Any]]:
    response = admin.call("GET", f"{API}/{contact_id}/activities")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


# tags


def test_tags_are_added_and_removed_idempotently_and_shown_on_the_contact(
    admin: Admin, container: Container, workspace: NewWorkspace
) -> None:
    ann = admin.create(email="ann@example.com")
    assert ann["tags"] == []
    assert admin.call("PUT", f"{API}/{ann['id']}/tags/VIP").json() == ["VIP"]
    assert admin.call("PUT", f"{API}/{ann['id']}/tags/VIP").json() == ["VIP"]
    assert admin.call("PUT", f"{API}/{ann['id']}/tags/beta%20tester").json() == ["VIP", "beta tester"]
    assert admin.get(ann["id"])["tags"] == ["VIP", "beta tester"]
    assert admin.call("DELETE", f"{API}/{ann['id']}/tags/VIP").json() == ["beta tester"]
    assert admin.call("DELETE", f"{API}/{ann['id']}/tags/VIP").json() == ["beta tester"]
    kinds = [(a["kind"], a["data"]["tag"]) for a in feed(admin, ann["id"])]
    assert kinds == [("tag_added", "VIP"), ("tag_added", "beta tester"), ("tag_removed", "VIP")]
    assert queued(container, workspace.id) == [
        ("membership", "tag:VIP"),
        ("membership", "tag:beta tester"),
        ("membership", "tag:VIP"),
    ]


def test_contacts_filter_by_tag_exactly(admin: Admin) -> None:
    ann, bob, _ = (admin.create(first_name=n) for n in ("Ann", "Bob", "Cy"))
    admin.call("PUT", f"{API}/{ann['id']}/tags/vip")
    admin.call("PUT", f"{API}/{bob['id']}/tags/VIP")
    assert [c["first_name"] for c in admin.all(tag="vip")] == ["Ann"]
    assert [c["first_name"] for c in admin.all(tag="VIP")] == ["Bob"]
    assert admin.all(tag="v") == []


@pytest.mark.parametrize(("tag", "status"), [("%20%20", 400), ("x" * 201, 400), ("a%00b", 400)])
def test_a_bad_tag_is_a_problem_naming_it(admin: Admin, tag: str, status: int) -> None:
    ann = admin.create(first_name="Ann")
    assert problem(admin.call("PUT", f"{API}/{ann['id']}/tags/{tag}"), status) == ["tag"]
    assert problem(admin.call("GET", API, params={"tag": " "})) == ["tag"]
    assert admin.get(ann["id"])["tags"] == []


def test_tagging_an_unknown_contact_is_not_found(admin: Admin) -> None:
    assert problem(admin.call("PUT", f"{API}/{UNKNOWN}/tags/vip"), 404) == []
    assert problem(admin.call("DELETE", f"{API}/{UNKNOWN}/tags/vip"), 404) == []


# subscriptions


def test_subscriptions_are_set_per_channel_and_topic_with_source_and_time(
    admin: Admin, clock: ManualClock, container: Container, workspace: NewWorkspace
) -> None:
    ann = admin.create(email="ann@example.com")
    url = f"{API}/{ann['id']}/subscriptions"
    assert admin.call("GET", url).json() == []
    first = admin.call("PUT", url, json={"channel": "email", "status": "pending", "source": "form"})
    assert first.status_code == 200, first.text
    assert first.json()["topic"] is None
    admin.call("PUT", url, json={"channel": "email", "topic": "newsletter", "status": "subscribed"})
    admin.call("PUT", url, json={"channel": "email", "status": "subscribed", "source": "double_opt_in"})
    admin.call("PUT", url, json={"channel": "email", "status": "subscribed", "source": "again"})  # no change
    shown = {(s["channel"], s["topic"]): (s["status"], s["source"]) for s in admin.call("GET", url).json()}
    assert shown == {
        ("email", None): ("subscribed", "double_opt_in"),
        ("email", "newsletter"): ("subscribed", "api"),
    }
    changes = [(a["data"]["topic"], a["data"]["from"], a["data"]["to"]) for a in feed(admin, ann["id"])]
    assert changes == [
        (None, None, "pending"),
        ("newsletter", None, "subscribed"),
        (None, "pending", "subscribed"),
    ]
    assert queued(container, workspace.id) == [("membership", "subscription:email")] * 3
    assert admin.call("GET", url).json()[0]["updated_at"].startswith(clock.now().isoformat()[:19])
    # the consent ledger holds every change set by hand, with its source (and no person's proof)
    ledger = admin.call("GET", f"{API}/{ann['id']}/consents").json()["data"]
    assert [(r["topic"], r["status"], r["source"], r["ip"]) for r in ledger] == [
        (None, "pending", "form", None),
        ("newsletter", "subscribed", "api", None),
        (None, "subscribed", "double_opt_in", None),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax", "status": "subscribed"}, "channel"),
        ({"channel": "email", "status": "maybe"}, "status"),
        ({"channel": "email", "status": "none"}, "status"),
        ({"channel": "email", "topic": "news letter", "status": "subscribed"}, "topic"),
        ({"channel": "email", "topic": "t" * 201, "status": "subscribed"}, "topic"),
        ({"channel": "email", "status": "subscribed", "source": "Web Form"}, "source"),
        ({"status": "subscribed"}, "channel"),
        ({"channel": "email", "status": "subscribed", "extra": 1}, "extra"),
    ],
)
def test_a_bad_subscription_is_a_problem_naming_the_field_and_keeps_the_stored_status(
    admin: Admin, body: dict[str, Any], field: str
) -> None:
    ann = admin.create(email="ann@example.com")
    url = f"{API}/{ann['id']}/subscriptions"
    admin.call("PUT", url, json={"channel": "email", "status": "unsubscribed"})
    assert problem(admin.call("PUT", url, json=body)) == [field]
    assert [s["status"] for s in admin.call("GET", url).json()] == ["unsubscribed"]


def test_subscriptions_of_an_unknown_contact_are_not_found(admin: Admin) -> None:
    url = f"{API}/{UNKNOWN}/subscriptions"
    assert problem(admin.call("GET", url), 404) == []
    assert problem(admin.call("PUT", url, json={"channel": "email", "status": "subscribed"}), 404) == []


# lifecycle stage and owner


def test_patching_the_stage_goes_through_the_lifecycle_path(
    admin: Admin, container: Container, workspace: NewWorkspace
) -> None:
    ann = admin.create(email="ann@example.com", lifecycle_stage="subscriber")
    assert ann["lifecycle_stage"] == "subscriber"
    patched = admin.call("PATCH", f"{API}/{ann['id']}", json={"lifecycle_stage": "lead", "first_name": "Ann"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["lifecycle_stage"], patched.json()["first_name"]) == ("lead", "Ann")
    changes = [
        (a["data"]["from"], a["data"]["to"])
        for a in feed(admin, ann["id"])
        if a["kind"] == "lifecycle_changed"
    ]
    assert changes == [(None, "subscriber"), ("subscriber", "lead")]
    assert ("profile", "lifecycle_stage") in queued(container, workspace.id)
    cleared = admin.call("PATCH", f"{API}/{ann['id']}", json={"lifecycle_stage": None}).json()
    assert cleared["lifecycle_stage"] is None


def test_ingest_never_overwrites_a_stage_or_owner(
    admin: Admin, client: TestClient, container: Container, workspace: NewWorkspace
) -> None:
    owner = client.post(
        "/api/v1/owners", headers=admin.headers, json={"name": "Rita", "email": "rita@example.com"}
    )
    ingest(
        container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}}
    )
    [ann] = admin.all()
    body = {"lifecycle_stage": "sql", "owner_id": owner.json()["id"]}
    assert admin.call("PATCH", f"{API}/{ann['id']}", json=body).status_code == 200
    ingest(
        container,
        workspace.id,
        {"type": "identify", "userId": "u1", "traits": {"firstName": "Ann", "plan": "pro"}},
    )
    admin.call("PUT", f"{API}/{ann['id']}", json={"user_id": "u1", "email": "ann@example.com"})
    after = admin.get(ann["id"])
    assert (after["lifecycle_stage"], after["owner_id"]) == ("sql", owner.json()["id"])


def test_contacts_filter_by_stage_and_owner(admin: Admin, client: TestClient) -> None:
    rita = client.post(
        "/api/v1/owners", headers=admin.headers, json={"name": "Rita", "email": "rita@example.com"}
    ).json()
    admin.create(first_name="Ann", lifecycle_stage="mql", owner_id=rita["id"])
    admin.create(first_name="Bob", lifecycle_stage="mql")
    admin.create(first_name="Cy", lifecycle_stage="lead", owner_id=rita["id"])
    assert [c["first_name"] for c in admin.all(lifecycle_stage="mql")] == ["Ann", "Bob"]
    assert [c["first_name"] for c in admin.all(owner_id=rita["id"])] == ["Ann", "Cy"]
    assert [c["first_name"] for c in admin.all(owner_id=rita["id"], lifecycle_stage="lead")] == ["Cy"]
    assert problem(admin.call("GET", API, params={"lifecycle_stage": "champion"})) == ["lifecycle_stage"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lifecycle_stage": "champion"}, "lifecycle_stage"),
        ({"lifecycle_stage": "x" * 65}, "lifecycle_stage"),
        ({"owner_id": UNKNOWN}, "owner_id"),
        ({"owner_id": "x" * 65}, "owner_id"),
        ({"first_name": "Changed", "lifecycle_stage": "champion"}, "lifecycle_stage"),
    ],
)
def test_a_bad_stage_or_owner_is_a_problem_and_changes_nothing(
    admin: Admin, body: dict[str, Any], field: str
) -> None:
    ann = admin.create(first_name="Ann", lifecycle_stage="lead")
    assert problem(admin.call("PATCH", f"{API}/{ann['id']}", json=body)) == [field]
    after = admin.get(ann["id"])
    assert (after["first_name"], after["lifecycle_stage"], after["owner_id"]) == ("Ann", "lead", None)
    assert problem(admin.call("POST", API, json={"first_name": "New", **body})) == [field]
    assert [c["first_name"] for c in admin.all()] == ["Ann"]


def test_an_inactive_owner_cannot_be_given_by_hand(admin: Admin, client: TestClient) -> None:
    body = {"name": "Rita", "email": "rita@example.com", "active": False}
    rita = client.post("/api/v1/owners", headers=admin.headers, json=body).json()
    ann = admin.create(first_name="Ann")
    assert problem(admin.call("PATCH", f"{API}/{ann['id']}", json={"owner_id": rita["id"]})) == ["owner_id"]


def test_export_holds_tags_lists_subscriptions_and_activities(admin: Admin) -> None:
    ann = admin.create(email="ann@example.com", lifecycle_stage="lead")
    admin.call("PUT", f"{API}/{ann['id']}/tags/vip")
    listed = admin.call("POST", "/api/v1/lists", json={"name": "Webinar"}).json()
    admin.call("POST", f"/api/v1/lists/{listed['id']}/members", json={"contacts": [{"id": ann["id"]}]})
    admin.call("PUT", f"{API}/{ann['id']}/subscriptions", json={"channel": "sms", "status": "unsubscribed"})
    export = admin.call("GET", f"{API}/{ann['id']}/export").json()
    assert export["contact"]["tags"] == ["vip"]
    assert export["contact"]["lifecycle_stage"] == "lead"
    assert [x["name"] for x in export["lists"]] == ["Webinar"]
    assert [(s["channel"], s["status"]) for s in export["subscriptions"]] == [("sms", "unsubscribed")]
    assert [a["kind"] for a in export["activities"]] == [
        "lifecycle_changed",
        "tag_added",
        "list_added",
        "subscription_changed",
    ]
