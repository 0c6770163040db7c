"""Journeys through the admin API: apply, validate, read, pause/archive, enrol, and a contact's
journeys explained; bad documents answered with problems naming the node and field, nothing stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin
from tests.api.test_segments import problem, send
from tests.conftest import settle

API = "/api/v1/journeys"
TAGGER: dict[str, Any] = {
    "name": "Tag VIPs",
    "trigger": {"type": "event", "event": "Order Completed"},
    "entry": {
        "reentry": "always",
        "condition": {"type": "attribute", "field": "email", "operator": {"op": "exists"}},
    },
    "nodes": [
        {
            "id": "big",
            "name": "Big order?",
            "type": "condition",
            "condition": {
                "type": "event",
                "name": "Order Completed",
                "where": [
                    {"property": "properties.total", "operator": {"op": "greater_or_equal", "value": 500}}
                ],
            },
        },
        {"id": "vip", "type": "update_contact", "add_tags": ["vip"]},
    ],
    "edges": [{"from": "big", "port": "yes", "to": "vip"}],
}


@pytest.fixture
def admin(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, API)


def test_apply_read_and_list(admin: Admin) -> None:
    created = admin.call("POST", API, json=TAGGER)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["created"], body["published"], body["journey"]["version"]) == (True, True, 1)
    again = admin.call("POST", API, json=TAGGER)
    assert again.status_code == 200
    assert again.json()["published"] is False
    detail = admin.get(body["journey"]["id"])
    assert detail["document"]["nodes"][0]["id"] == "big"
    assert detail["versions"][0]["version"] == 1
    assert [j["name"] for j in admin.call("GET", API).json()] == ["Tag VIPs"]
    assert admin.call("GET", f"{API}/Tag VIPs").json()["id"] == body["journey"]["id"]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (lambda d: d["nodes"][0].update(type="teleport"), ["nodes[big].type"]),
        (lambda d: d["edges"].append({"from": "vip", "to": "ghost"}), ["edges[1].to"]),
        (lambda d: d["nodes"][1].update(add_tags=[]), ["nodes[vip]"]),
        (lambda d: d.update(trigger={"type": "segment", "segment_id": "nope"}), ["trigger.segment_id"]),
        (lambda d: d.update(nodes="many"), ["nodes"]),
    ],
)
def test_bad_documents_are_refused_naming_node_and_field_and_nothing_is_stored(
    admin: Admin, change: Any, fields: list[str]
) -> None:
    document = copy.deepcopy(TAGGER)
    change(document)
    for path in (API, f"{API}/validate"):
        assert problem(admin.call("POST", path, json=document), 400) == fields
    assert admin.call("GET", API).json() == []


def test_a_document_that_is_not_an_object_is_refused(admin: Admin) -> None:
    response = admin.call("POST", API, json=["not", "a", "journey"])
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_validate_says_how_many_nodes(admin: Admin) -> None:
    response = admin.call("POST", f"{API}/validate", json=TAGGER)
    assert response.json() == {"valid": True, "nodes": 2}


def test_a_contacts_journeys_explain_every_decision(
    container: Container, client: TestClient, workspace: NewWorkspace, admin: Admin
) -> None:
    admin.call("POST", API, json=TAGGER)
    send(
        client,
        workspace,
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}},
        {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"total": 80}},
    )
    settle(container)
    contact_id = admin.call("GET", "/api/v1/contacts", params={"user_id": "u1"}).json()["data"][0]["id"]
    [run] = admin.call("GET", f"/api/v1/contacts/{contact_id}/journeys").json()
    assert (run["journey"], run["status"]) == ("Tag VIPs", "completed")
    reasons = [line["reason"] for line in run["trace"]]
    assert "'Big order?' → no: no 'Order Completed' with total ≥ 500" in reasons
    assert (
        admin.call("GET", f"/api/v1/contacts/{contact_id}/journeys", params={"journey": "nope"}).status_code
        == 404
    )


def test_pause_archive_and_enrol(
    container: Container, client: TestClient, workspace: NewWorkspace, admin: Admin
) -> None:
    journey_id = admin.call("POST", API, json=TAGGER).json()["journey"]["id"]
    assert (
        admin.call("POST", f"{API}/{journey_id}/status", json={"status": "paused"}).json()["status"]
        == "paused"
    )
    send(client, workspace, {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}})
    contact_id = admin.call("GET", "/api/v1/contacts", params={"user_id": "u1"}).json()["data"][0]["id"]
    refused = admin.call("POST", f"{API}/{journey_id}/enrollments", json={"contact_ids": [contact_id]})
    assert refused.status_code == 409
    assert problem(admin.call("POST", f"{API}/{journey_id}/status", json={"status": "asleep"}), 400) == [
        "status"
    ]
    admin.call("POST", f"{API}/{journey_id}/status", json={"status": "active"})
    queued = admin.call("POST", f"{API}/{journey_id}/enrollments", json={"contact_ids": [contact_id]})
    assert (queued.status_code, queued.json()) == (202, {"queued": 1})
    settle(container)
    [run] = admin.call("GET", f"/api/v1/contacts/{contact_id}/journeys").json()
    assert run["status"] == "completed"
    assert problem(admin.call("POST", f"{API}/{journey_id}/enrollments", json={"contact_ids": []}), 400) == [
        "contact_ids"
    ]


def test_analytics_count_runs_per_journey_and_node(
    container: Container, client: TestClient, workspace: NewWorkspace, admin: Admin
) -> None:
    journey_id = admin.call("POST", API, json=TAGGER).json()["journey"]["id"]
    for user, total in (("u1", 80), ("u2", 900), ("u3", 700)):
        send(
            client,
            workspace,
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}},
            {"type": "track", "userId": user, "event": "Order Completed", "properties": {"total": total}},
        )
    settle(container)
    figures = admin.call("GET", f"{API}/{journey_id}/analytics").json()
    assert (figures["entered"], figures["runs"], figures["converted"]) == (3, {"completed": 3}, 0)
    nodes = {n["node"]: n for n in figures["nodes"]}
    assert [n["node"] for n in figures["nodes"]] == ["big", "vip"]
    assert (nodes["big"]["reached"], nodes["big"]["completed"], nodes["big"]["waiting"]) == (3, 3, 0)
    assert (nodes["vip"]["reached"], nodes["vip"]["completed"], nodes["vip"]["messages"]) == (2, 2, None)
    assert {n["exited"] + n["failed"] + n["converted"] for n in figures["nodes"]} == {0}
    assert admin.call("GET", f"{API}/nope/analytics").status_code == 404


def test_simulate_a_draft_on_a_posted_event_stream_writes_nothing(admin: Admin) -> None:
    events = [
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"email": "u1@example.com"},
            "timestamp": "2026-11-20T09:00:00Z",
        },
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "properties": {"total": 900},
            "timestamp": "2026-11-20T09:05:00Z",
        },
        {
            "type": "track",
            "userId": "u2",
            "event": "Order Completed",
            "properties": {"total": 10},
            "timestamp": "2026-11-20T09:06:00Z",
        },
    ]
    done = admin.call("POST", f"{API}/simulate", json={"document": TAGGER, "events": events, "horizon": "1d"})
    assert done.status_code == 200, done.text
    result = done.json()
    assert (result["population"]["entered"], result["population"]["funnel"]) == (1, {"big": 1, "vip": 1})
    [u1] = result["contacts"]
    assert [s["action"] for s in u1["steps"]][:1] == ["entered"]
    assert admin.call("GET", API).json() == []  # a draft: nothing stored
    untimed = copy.deepcopy(events)
    del untimed[1]["timestamp"]
    bad = admin.call("POST", f"{API}/simulate", json={"document": TAGGER, "events": untimed})
    assert problem(bad, 400) == ["events[1].timestamp"]
    both = admin.call(
        "POST", f"{API}/simulate", json={"document": TAGGER, "events": events, "since": "2026-11-01"}
    )
    assert problem(both, 400) == ["events"]
    assert problem(
        admin.call("POST", f"{API}/simulate", json={"document": TAGGER, "events": events, "horizon": "soon"}),
        400,
    ) == ["horizon"]
