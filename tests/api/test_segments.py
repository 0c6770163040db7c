"""Segments through the admin API: create, read, list, change, archive, delete; members now and as of a
time; a contact's segments and history; recompute and preview; bad input answered with problems that
name the field, and nothing stored lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin
from tests.conftest import START, write_auth

API = "/api/v1/segments"
LOGIN = {"type": "event", "name": "Login"}
PRO = {"type": "attribute", "field": "attributes.plan", "operator": {"op": "equals", "value": "pro"}}


@pytest.fixture
def admin(client: TestClient, workspace: NewWorkspace) -> Admin:
    admin = Admin(client, workspace, API)
    # segments below read attributes.plan before any contact has had it
    declared = admin.call("POST", "/api/v1/catalog/attributes", json={"name": "plan", "types": ["string"]})
    assert declared.status_code == 201, declared.text
    return admin


def test_conditions_on_unknown_attributes_or_of_impossible_types_are_refused(
    client: TestClient, workspace: NewWorkspace
) -> None:
    admin = Admin(client, workspace, API)
    send(client, workspace, {"type": "identify", "userId": "u1", "traits": {"plan": "pro", "seats": 3}})
    typo = {"type": "attribute", "field": "attributes.plna", "operator": {"op": "equals", "value": "pro"}}
    response = admin.call("POST", API, json={"name": "Typo", "condition": {"type": "not", "condition": typo}})
    assert problem(response, 400) == ["condition.condition.field"]
    assert "did you mean plan" in response.json()["errors"][0]["message"]
    seats = {"type": "attribute", "field": "attributes.seats", "operator": {"op": "equals", "value": "3"}}
    assert problem(admin.call("POST", f"{API}/preview", json={"condition": seats}), 400) == [
        "condition.operator"
    ]
    assert admin.all() == []


def send(client: TestClient, workspace: NewWorkspace, *messages: dict[str, Any]) -> None:
    response = client.post("/v1/batch", auth=write_auth(workspace), json={"batch": list(messages)})
    assert response.status_code == 200, response.text


def problem(response: Any, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json().get("errors", [])]


def member_ids(admin: Admin, segment_id: str, **params: Any) -> list[str]:
    response = admin.call("GET", f"{API}/{segment_id}/members", params=params)
    assert response.status_code == 200, response.text
    return [m["contact_id"] for m in response.json()["data"]]


def test_a_segment_is_created_filled_by_the_worker_and_read_back(
    admin: Admin, client: TestClient, workspace: NewWorkspace, container: Container
) -> None:
    send(client, workspace, {"type": "track", "userId": "ann", "event": "Login"})
    created = admin.create(name="Logged in", description="Anyone who ever logged in", condition=LOGIN)
    assert (created["status"], created["recomputed_at"]) == ("active", None)
    assert created["condition"]["name"] == "Login"

    container.audience.run_once()

    found = admin.get(created["id"])
    assert found["member_count"] == 1
    assert found["recomputed_at"] is not None
    [ann] = member_ids(admin, created["id"])
    assert admin.call("GET", f"/api/v1/contacts/{ann}/segments").json()[0]["segment_id"] == created["id"]
    assert [s["id"] for s in admin.all()] == [created["id"]]
    assert admin.all(status="archived") == []


def test_members_are_paged_with_a_cursor_and_read_as_of_a_time(
    admin: Admin, client: TestClient, workspace: NewWorkspace, container: Container, clock: ManualClock
) -> None:
    segment = admin.create(name="Logged in", condition=LOGIN)
    container.audience.run_once()
    send(client, workspace, *({"type": "track", "userId": f"u{n}", "event": "Login"} for n in range(5)))
    container.audience.run_once()
    clock.advance(timedelta(days=1))

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = admin.call("GET", f"{API}/{segment['id']}/members", params=params).json()
        pages.append([m["contact_id"] for m in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    everyone = [c for p in pages for c in p]
    assert everyone == sorted(everyone)
    assert len(set(everyone)) == 5
    assert member_ids(admin, segment["id"], as_of=(START - timedelta(hours=1)).isoformat()) == []
    assert len(member_ids(admin, segment["id"], as_of=START.isoformat())) == 5


def test_changing_the_condition_recomputes_the_members(
    admin: Admin, client: TestClient, workspace: NewWorkspace, container: Container, clock: ManualClock
) -> None:
    send(
        client,
        workspace,
        {"type": "identify", "userId": "ann", "traits": {"plan": "pro"}},
        {"type": "track", "userId": "bob", "event": "Login"},
    )
    segment = admin.create(name="Pro", condition=PRO)
    container.audience.run_once()
    [ann] = member_ids(admin, segment["id"])
    clock.advance(timedelta(minutes=1))

    changed = admin.call("PATCH", f"{API}/{segment['id']}", json={"condition": LOGIN, "name": "Logged in"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["recomputed_at"] is None
    container.audience.run_once()

    [bob] = member_ids(admin, segment["id"])
    assert bob != ann
    history = admin.call("GET", f"/api/v1/contacts/{ann}/segments/history").json()
    assert [(h["name"], h["exited_at"] is not None) for h in history] == [("Logged in", True)]


def test_recompute_and_preview_answer_now(admin: Admin, client: TestClient, workspace: NewWorkspace) -> None:
    send(client, workspace, *({"type": "track", "userId": f"u{n}", "event": "Login"} for n in range(3)))
    segment = admin.create(name="Logged in", condition=LOGIN)

    recomputed = admin.call("POST", f"{API}/{segment['id']}/recompute")
    assert recomputed.json() == {"entered": 3, "exited": 0, "members": 3}
    assert admin.call("POST", f"{API}/{segment['id']}/recompute").json() == {
        "entered": 0,
        "exited": 0,
        "members": 3,
    }

    preview = admin.call("POST", f"{API}/preview", json={"condition": LOGIN, "sample": 2})
    assert preview.status_code == 200, preview.text
    assert preview.json()["count"] == 3
    assert [c["user_id"] for c in preview.json()["sample"]] == ["u0", "u1"]


def test_segments_may_refer_to_segments_but_not_in_a_cycle(admin: Admin) -> None:
    a = admin.create(name="A", condition=LOGIN)
    b = admin.create(name="B", condition={"type": "segment", "segment_id": a["id"]})
    c = admin.create(
        name="C", condition={"type": "not", "condition": {"type": "segment", "segment_id": b["id"]}}
    )

    direct = admin.call(
        "PATCH", f"{API}/{a['id']}", json={"condition": {"type": "segment", "segment_id": b["id"]}}
    )
    assert problem(direct, 400) == ["condition.segment_id"]
    indirect = admin.call(
        "PATCH",
        f"{API}/{a['id']}",
        json={
            "condition": {"type": "all", "conditions": [LOGIN, {"type": "segment", "segment_id": c["id"]}]}
        },
    )
    assert problem(indirect, 400) == ["condition.conditions[1].segment_id"]
    assert "cycle" in indirect.json()["errors"][0]["message"]
    itself = admin.call(
        "PATCH", f"{API}/{a['id']}", json={"condition": {"type": "segment", "segment_id": a["id"]}}
    )
    assert problem(itself, 400) == ["condition.segment_id"]
    unknown = admin.call(
        "POST", API, json={"name": "D", "condition": {"type": "segment", "segment_id": "01JNOPE"}}
    )
    assert problem(unknown, 400) == ["condition.segment_id"]

    assert admin.get(a["id"])["condition"] == admin.create(name="A2", condition=LOGIN)["condition"]
    assert problem(admin.call("DELETE", f"{API}/{a['id']}"), 409) == []
    assert problem(admin.call("PATCH", f"{API}/{b['id']}", json={"status": "archived"}), 409) == []
    assert admin.call("DELETE", f"{API}/{c['id']}").status_code == 204
    assert admin.call("PATCH", f"{API}/{b['id']}", json={"status": "archived"}).status_code == 200
    assert admin.call("PATCH", f"{API}/{a['id']}", json={"status": "archived"}).status_code == 200
    reactivate = admin.call("PATCH", f"{API}/{b['id']}", json={"status": "active"})
    assert problem(reactivate, 400) == ["condition.segment_id"]  # it refers to an archived segment
    assert {s["name"] for s in admin.all()} == {"A", "B", "A2"}


BAD_CREATES: list[tuple[dict[str, Any], list[str]]] = [
    ({"condition": LOGIN}, ["name"]),
    ({"name": "", "condition": LOGIN}, ["name"]),
    ({"name": "X"}, ["condition"]),
    ({"name": "X", "condition": {"type": "nope"}}, ["condition.type"]),
    (
        {
            "name": "X",
            "condition": {
                "type": "any",
                "conditions": [LOGIN, {**PRO, "operator": {"op": "between", "low": 5, "high": 1}}],
            },
        },
        ["condition.conditions[1].operator.high"],
    ),
    (
        {
            "name": "X",
            "condition": {"type": "event", "name": "Login", "window": {"kind": "last_days", "days": -1}},
        },
        ["condition.window.days"],
    ),
    ({"name": "X", "condition": LOGIN, "colour": "red"}, ["colour"]),
    ({"name": "X", "condition": LOGIN, "description": 5}, ["description"]),
]


@pytest.mark.parametrize(("body", "where"), BAD_CREATES)
def test_bad_segments_are_refused_naming_the_field_and_nothing_is_stored(
    admin: Admin, body: dict[str, Any], where: list[str]
) -> None:
    kept = admin.create(name="Kept", condition=LOGIN)
    assert problem(admin.call("POST", API, json=body), 400) == where
    assert admin.all() == [kept]


def test_bad_changes_and_lookups_are_refused(admin: Admin) -> None:
    kept = admin.create(name="Kept", condition=LOGIN)
    other = admin.create(name="Other", condition=PRO)
    path = f"{API}/{kept['id']}"
    assert problem(admin.call("PATCH", path, json={"status": "deleted"}), 400) == ["status"]
    assert problem(admin.call("PATCH", path, json={"condition": {"type": "tag"}}), 400) == ["condition.tag"]
    assert problem(admin.call("PATCH", path, json={"name": "Other"}), 409) == []
    assert problem(admin.call("POST", API, json={"name": "Other", "condition": LOGIN}), 409) == []
    assert problem(admin.call("GET", f"{path}/members", params={"as_of": "2026-03-01T00:00:00"}), 400) == [
        "as_of"
    ]
    assert problem(admin.call("GET", f"{path}/members", params={"as_of": "yesterday"}), 400) == ["as_of"]
    assert problem(admin.call("GET", f"{path}/members", params={"cursor": "!!"}), 400) == ["cursor"]
    assert problem(admin.call("GET", API, params={"status": "gone"}), 400) == ["status"]
    assert problem(admin.call("POST", f"{API}/preview", json={"condition": {"type": "event"}}), 400) == [
        "condition.name"
    ]
    assert problem(admin.call("POST", f"{API}/preview", json={"condition": LOGIN, "sample": 0}), 400) == [
        "sample"
    ]
    for missing in (f"{API}/01JNOPE", f"{API}/01JNOPE/members", "/api/v1/contacts/01JNOPE/segments"):
        assert problem(admin.call("GET", missing), 404) == []
    assert problem(admin.call("POST", f"{API}/01JNOPE/recompute"), 404) == []
    assert admin.get(kept["id"]) == {**kept, "member_count": 0}
    assert admin.get(other["id"])["name"] == "Other"


def test_the_condition_language_publishes_its_json_schema(admin: Admin, client: TestClient) -> None:
    response = admin.call("GET", f"{API}/condition-schema")
    assert response.status_code == 200, response.text
    schema = response.json()
    tags = set(schema["discriminator"]["mapping"])
    assert {"all", "any", "not", "attribute", "event", "event_aggregate", "segment", "score"} <= tags
    assert client.get(f"{API}/condition-schema").status_code == 401
