"""The data catalog fills itself from tracked data, the REST API and imports; attributes can be
declared ahead of data; conditions are checked against it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.domain.conditions.parsing import parse_condition
from nurture.domain.errors import Invalid
from nurture.services.workspaces import NewWorkspace
from tests.conftest import ingest, secret, write_auth


def catalog(client: TestClient, workspace: NewWorkspace) -> dict[str, dict[str, list[str]]]:
    response = client.get("/api/v1/catalog", headers=secret(workspace))
    assert response.status_code == 200, response.text
    body = response.json()
    out: dict[str, dict[str, list[str]]] = {
        "attributes": {a["name"]: a["types"] for a in body["attributes"]},
        "account_attributes": {a["name"]: a["types"] for a in body["account_attributes"]},
    }
    for event in body["events"]:
        out[f"event {event['name']}"] = {p["name"]: p["types"] for p in event["properties"]}
    return out


def test_tracked_data_fills_the_catalog(
    client: TestClient, container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    batch = {
        "batch": [
            {"type": "identify", "userId": "u1", "traits": {"plan": "pro", "seats": 5, "email": "a@b.co"}},
            {"type": "identify", "userId": "u2", "traits": {"plan": 3, "signup": "2024-05-01", "gone": None}},
            {
                "type": "track",
                "userId": "u1",
                "event": "Order Completed",
                "properties": {"revenue": 50, "cart": {"total": 3}},
            },
            {
                "type": "group",
                "userId": "u1",
                "groupId": "g1",
                "traits": {"name": "Acme", "industry": "retail"},
            },
            {"type": "page", "userId": "u1", "name": "Pricing", "properties": {"path": "/pricing"}},
        ]
    }
    assert client.post("/v1/batch", json=batch, auth=write_auth(workspace)).status_code == 200
    assert catalog(client, workspace) == {
        "attributes": {"plan": ["number", "string"], "seats": ["number"], "signup": ["date"]},
        "account_attributes": {"industry": ["string"]},
        "event Order Completed": {"cart": ["object"], "cart.total": ["number"], "revenue": ["number"]},
    }
    assert catalog(client, other_workspace) == {"attributes": {}, "account_attributes": {}}


def test_the_admin_api_and_imports_fill_it_too(client: TestClient, workspace: NewWorkspace) -> None:
    headers = secret(workspace)
    created = client.post(
        "/api/v1/contacts", headers=headers, json={"email": "a@b.co", "attributes": {"tier": 1}}
    )
    assert created.status_code == 201, created.text
    patched = client.patch(
        f"/api/v1/contacts/{created.json()['id']}", headers=headers, json={"attributes": {"vip": True}}
    )
    assert patched.status_code == 200, patched.text
    imported = client.post(
        "/api/v1/imports/contacts",
        headers={**headers, "content-type": "text/csv"},
        content=b"email,city\nc@d.co,Oslo\n",
    )
    assert imported.status_code == 200, imported.text
    assert catalog(client, workspace)["attributes"] == {
        "city": ["string"],
        "tier": ["number"],
        "vip": ["boolean"],
    }


def test_declared_attributes_may_be_read_before_data_has_them(
    client: TestClient, container: Container, workspace: NewWorkspace
) -> None:
    condition = parse_condition(
        {
            "type": "attribute",
            "field": "attributes.renewal",
            "operator": {"op": "within_next_days", "days": 30},
        }
    )
    with container.db.read() as conn, pytest.raises(Invalid) as refused:
        container.catalog.check(conn, workspace.id, condition, "condition")
    assert [e.field for e in refused.value.errors] == ["condition.field"]

    body = {"name": "renewal", "types": ["date"]}
    response = client.post("/api/v1/catalog/attributes", headers=secret(workspace), json=body)
    assert response.status_code == 201, response.text
    with container.db.read() as conn:
        container.catalog.check(conn, workspace.id, condition, "condition")
    described = client.get("/api/v1/catalog", headers=secret(workspace)).json()["attributes"]
    assert [(a["name"], a["types"], a["declared"]) for a in described] == [("renewal", ["date"], True)]

    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"renewal": "2027-01-01"}})
    described = client.get("/api/v1/catalog", headers=secret(workspace)).json()["attributes"]
    assert [(a["name"], a["types"], a["declared"]) for a in described] == [("renewal", ["date"], True)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a.b", "types": ["string"]}, "name"),
        ({"name": " padded", "types": ["string"]}, "name"),
        ({"name": "x" * 256, "types": ["string"]}, "name"),
        ({"name": "plan", "types": []}, "types"),
        ({"name": "plan", "types": ["text"]}, "types[0]"),
        ({"name": "plan", "types": ["string"], "kind": "event"}, "kind"),
        ({"name": "plan", "types": ["string"], "extra": 1}, "extra"),
    ],
)
def test_bad_declarations_are_refused_naming_the_field(
    client: TestClient, workspace: NewWorkspace, body: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/catalog/attributes", headers=secret(workspace), json=body)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert catalog(client, workspace)["attributes"] == {}
