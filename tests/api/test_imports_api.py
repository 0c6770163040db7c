"""POST /api/v1/imports/contacts: a CSV body in, a per-row report out; bad options are 400 problems."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from tests.conftest import secret

URL = "/api/v1/imports/contacts"
CSV = b"E-Mail,Tier,age,Notes\nada@example.com,gold,36,x\nnot-an-email,silver,40,y\nbob@example.com,,41,z\n"


def post(
    client: TestClient, workspace: NewWorkspace, body: bytes, params: list[tuple[str, str]] | None = None
) -> httpx.Response:
    return client.post(
        URL, content=body, params=params or [], headers={**secret(workspace), "Content-Type": "text/csv"}
    )


def stored(container: Container, workspace: NewWorkspace) -> dict[str, dict[str, object]]:
    return {c.email or "": c.attributes for c in container.contacts.list(workspace.id).items}


def test_import_returns_the_report_and_stores_good_rows(
    client: TestClient, container: Container, workspace: NewWorkspace
) -> None:
    params = [
        ("map", "E-Mail:email"),
        ("map", "Tier:attributes.plan"),
        ("map", "Notes:-"),
        ("type", "age:number"),
    ]
    response = post(client, workspace, CSV, params)
    assert response.status_code == 200, response.text
    report = response.json()
    assert {k: v for k, v in report.items() if k != "errors"} == {
        "rows": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "suppressed": 0,
        "added_to_list": 0,
    }
    [error] = report["errors"]
    assert (error["row"], error["column"]) == (3, "E-Mail")
    assert "not a valid email address" in error["reason"]
    assert stored(container, workspace) == {
        "ada@example.com": {"plan": "gold", "age": 36},
        "bob@example.com": {"age": 41},
    }

    again = post(client, workspace, CSV, params)
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("rows", "created", "updated", "unchanged")} == {
        "rows": 3,
        "created": 0,
        "updated": 0,
        "unchanged": 2,
    }


def test_a_utf8_body_with_a_byte_order_mark_imports(
    client: TestClient, container: Container, workspace: NewWorkspace
) -> None:
    response = post(client, workspace, "email,first_name\nzoe@example.com,Zoë\n".encode("utf-8-sig"))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    [zoe] = container.contacts.list(workspace.id).items
    assert zoe.first_name == "Zoë"


@pytest.mark.parametrize(
    ("body", "params", "field", "says"),
    [
        (CSV, [("map", "E-Mail")], "map", "is not COLUMN:VALUE"),
        (CSV, [("map", "E-Mail:email"), ("map", "Mail:email")], "map.Mail", "no column 'Mail'"),
        (CSV, [("map", "E-Mail:email"), ("map", "Tier:tier")], "map.Tier", "unknown target 'tier'"),
        (CSV, [("map", "E-Mail:email"), ("type", "age:int")], "type.age", "unknown type 'int'"),
        (CSV, [("map", "E-Mail:email"), ("type", "age")], "type", "is not COLUMN:VALUE"),
        (CSV, [], "header", "needs an email or user_id column"),
        ("email,first_name\nzoe@example.com,Zoë\n".encode("latin-1"), [], "body", "is not UTF-8"),
        (b"", [], "file", "is empty"),
    ],
)
def test_a_bad_option_or_body_is_a_problem_naming_the_field_and_stores_nothing(
    client: TestClient,
    container: Container,
    workspace: NewWorkspace,
    body: bytes,
    params: list[tuple[str, str]],
    field: str,
    says: str,
) -> None:
    response = post(client, workspace, body, params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in errors, errors
    assert says in errors[field]
    assert stored(container, workspace) == {}


@pytest.mark.parametrize("kind", ["none", "write"])
def test_import_needs_the_secret_key(
    client: TestClient, container: Container, workspace: NewWorkspace, kind: str
) -> None:
    headers = {"Content-Type": "text/csv"}
    if kind == "write":
        headers["Authorization"] = f"Bearer {workspace.write_key}"
    response = client.post(URL, content=b"email\nada@example.com\n", headers=headers)
    assert response.status_code == 401
    assert stored(container, workspace) == {}


def test_import_lands_in_the_key_owners_workspace(
    client: TestClient, container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    assert post(client, other_workspace, b"email\nada@example.com\n").status_code == 200
    assert stored(container, workspace) == {}
    assert stored(container, other_workspace) == {"ada@example.com": {}}


def test_import_into_a_list_reports_what_joined_and_an_unknown_list_is_named(
    client: TestClient, container: Container, workspace: NewWorkspace
) -> None:
    listed = client.post("/api/v1/lists", headers=secret(workspace), json={"name": "Fair"}).json()
    response = post(client, workspace, CSV, [("map", "E-Mail:email"), ("list", listed["id"])])
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["added_to_list"]) == (2, 2)
    members = client.get(f"/api/v1/lists/{listed['id']}/members", headers=secret(workspace)).json()["data"]
    assert len(members) == 2

    unknown = post(client, workspace, b"email\nnew@example.com\n", [("list", "01AAAAAAAAAAAAAAAAAAAAAAAA")])
    assert unknown.status_code == 400
    assert [e["field"] for e in unknown.json()["errors"]] == ["list"]
    assert "new@example.com" not in stored(container, workspace)
