"""The activity feed: what nurture did to contacts, in id order after a cursor, as a CRM sync reads it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin, problem

API = "/api/v1/activities"


@pytest.fixture
def admin(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, "/api/v1/contacts")


def page(admin: Admin, **params: Any) -> dict[str, Any]:
    response = admin.call("GET", API, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def make_history(admin: Admin) -> tuple[str, str]:
    """Ann: a stage change, a tag, an owner; Bob: a tag. Returns their ids."""
    rita = admin.call("POST", "/api/v1/owners", json={"name": "Rita", "email": "rita@example.com"}).json()[
        "id"
    ]
    ann = admin.create(first_name="Ann")["id"]
    bob = admin.create(first_name="Bob")["id"]
    admin.call("PATCH", f"/api/v1/contacts/{ann}", json={"lifecycle_stage": "lead"})
    admin.call("PUT", f"/api/v1/contacts/{ann}/tags/vip")
    admin.call("PUT", f"/api/v1/contacts/{bob}/tags/vip")
    admin.call("PATCH", f"/api/v1/contacts/{ann}", json={"owner_id": rita})
    return ann, bob


def test_a_poller_reads_everything_once_in_order_and_then_waits_at_the_same_cursor(admin: Admin) -> None:
    ann, bob = make_history(admin)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        body = page(admin, limit=2, **({"after": cursor} if cursor else {}))
        seen += [(a["kind"], a["contact_id"]) for a in body["data"]]
        assert body["next_cursor"]
        if not body["data"]:
            break
        cursor = body["next_cursor"]
    assert seen == [
        ("lifecycle_changed", ann),
        ("tag_added", ann),
        ("tag_added", bob),
        ("owner_assigned", ann),
    ]
    assert page(admin, after=cursor)["next_cursor"] == cursor
    admin.call("DELETE", f"/api/v1/contacts/{bob}/tags/vip")
    later = page(admin, after=cursor)
    assert [(a["kind"], a["contact_id"], a["data"]["tag"]) for a in later["data"]] == [
        ("tag_removed", bob, "vip")
    ]


def test_the_feed_filters_by_kind_and_contact(admin: Admin) -> None:
    ann, bob = make_history(admin)
    owners = page(admin, kind="owner_assigned,lifecycle_changed")["data"]
    assert [a["kind"] for a in owners] == ["lifecycle_changed", "owner_assigned"]
    assert owners[1]["data"]["rule"] == "manual"
    repeated = admin.call("GET", API, params=[("kind", "tag_added"), ("kind", "lifecycle_changed")]).json()
    assert [a["kind"] for a in repeated["data"]] == ["lifecycle_changed", "tag_added", "tag_added"]
    assert [a["kind"] for a in page(admin, contact_id=bob)["data"]] == ["tag_added"]
    mine = admin.call("GET", f"/api/v1/contacts/{ann}/activities", params={"kind": "tag_added"}).json()
    assert [(a["kind"], a["contact_id"]) for a in mine["data"]] == [("tag_added", ann)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "invented"}, "kind"),
        ({"kind": "tag_added,,"}, "kind"),
        ({"after": "not-a-cursor"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"contact_id": "01AAAAAAAAAAAAAAAAAAAAAAAA"}, "contact_id"),
    ],
)
def test_a_bad_feed_parameter_is_a_problem_naming_it(
    admin: Admin, params: dict[str, Any], field: str
) -> None:
    assert problem(admin.call("GET", API, params=params)) == [field]


def test_an_unknown_contacts_activities_are_not_found(admin: Admin) -> None:
    assert problem(admin.call("GET", "/api/v1/contacts/01AAAAAAAAAAAAAAAAAAAAAAAA/activities"), 404) == []
