"""Static lists through the API: create, read, rename, delete; bulk members by id, email or user id;
each change recorded as an activity and queued for the audience worker."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import or_, select

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import list_members, pending_changes
from tests.api.admin import Admin, problem
from tests.conftest import ingest

API = "/api/v1/lists"

AUDIENCE_FIELDS = ["lifecycle_stage", "owner_id"]


@pytest.fixture
def lists(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, API)


@pytest.fixture
def people(client: TestClient, workspace: NewWorkspace) -> list[dict[str, Any]]:
    admin = Admin(client, workspace, "/api/v1/contacts")
    return [admin.create(email=f"p{n}@example.com", user_id=f"u{n}", first_name=f"P{n}") for n in range(5)]


def queued(container: Container, workspace_id: str) -> list[tuple[str, str, str]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(pending_changes.c.contact_id, pending_changes.c.kind, pending_changes.c.name)
            .where(
                pending_changes.c.workspace_id == workspace_id,
                # what this API queues; creating the contacts queued their profile and events too
                pending_changes.c.kind.in_(["membership", "profile"]),
                or_(pending_changes.c.kind == "membership", pending_changes.c.name.in_(AUDIENCE_FIELDS)),
            )
            .order_by(pending_changes.c.id)
        ).all()
    return [tuple(r) for r in rows]


def activities(lists: Admin, **params: Any) -> list[dict[str, Any]]:
    response = lists.call("GET", "/api/v1/activities", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_create_get_list_rename_and_delete(lists: Admin) -> None:
    created = lists.create(name="  Webinar 2026  ", description="signed up at the booth")
    assert (created["name"], created["description"], created["members"]) == (
        "Webinar 2026",
        "signed up at the booth",
        0,
    )
    assert lists.get(created["id"]) == created
    other = lists.create(name="VIP")
    assert [item["id"] for item in lists.all()] == [created["id"], other["id"]]

    renamed = lists.call("PATCH", f"{API}/{created['id']}", json={"name": "Webinar"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["description"]) == ("Webinar", "signed up at the booth")
    assert problem(lists.call("PATCH", f"{API}/{created['id']}", json={"name": "VIP"}), 409) == []

    assert lists.call("DELETE", f"{API}/{created['id']}").status_code == 204
    assert problem(lists.call("GET", f"{API}/{created['id']}"), 404) == []
    assert [item["id"] for item in lists.all()] == [other["id"]]


def test_members_are_added_by_id_email_or_user_id_idempotently_with_a_report_of_the_unknown(
    lists: Admin, people: list[dict[str, Any]], container: Container, workspace: NewWorkspace
) -> None:
    item = lists.create(name="Leads")
    body = {
        "contacts": [
            {"id": people[0]["id"]},
            {"email": " P1@Example.com "},
            {"user_id": "u2"},
            {"email": "nobody@example.com"},
            {"id": "01AAAAAAAAAAAAAAAAAAAAAAAA"},
            {"user_id": "U2"},  # user ids are case-sensitive
            {"id": people[0]["id"]},  # named twice: added once
        ]
    }
    first = lists.call("POST", f"{API}/{item['id']}/members", json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "changed": 3,
        "unchanged": 0,
        "not_found": [
            {"index": 3, "email": "nobody@example.com"},
            {"index": 4, "id": "01AAAAAAAAAAAAAAAAAAAAAAAA"},
            {"index": 5, "user_id": "U2"},
        ],
    }
    again = lists.call("POST", f"{API}/{item['id']}/members", json=body).json()
    assert (again["changed"], again["unchanged"]) == (0, 3)

    members = [m["contact_id"] for m in lists.call("GET", f"{API}/{item['id']}/members").json()["data"]]
    assert members == sorted(p["id"] for p in people[:3])
    assert lists.get(item["id"])["members"] == 3
    added = [a for a in activities(lists) if a["kind"] == "list_added"]
    assert sorted(a["contact_id"] for a in added) == sorted(members)
    assert {a["subject_id"] for a in added} == {item["id"]}
    assert queued(container, workspace.id) == [(c, "membership", f"list:{item['id']}") for c in members]


def test_members_are_removed_in_bulk_or_one_at_a_time(
    lists: Admin, people: list[dict[str, Any]], container: Container, workspace: NewWorkspace
) -> None:
    item = lists.create(name="Leads")
    url = f"{API}/{item['id']}/members"
    lists.call("POST", url, json={"contacts": [{"id": p["id"]} for p in people]})
    removed = lists.call(
        "POST", f"{url}/remove", json={"contacts": [{"email": "p0@example.com"}, {"user_id": "u1"}]}
    )
    assert removed.json() == {"changed": 2, "unchanged": 0, "not_found": []}
    again = lists.call("POST", f"{url}/remove", json={"contacts": [{"user_id": "u1"}]}).json()
    assert (again["changed"], again["unchanged"]) == (0, 1)
    assert lists.call("DELETE", f"{url}/{people[2]['id']}").status_code == 204
    assert problem(lists.call("DELETE", f"{url}/{people[2]['id']}"), 404) == []
    remaining = [m["contact_id"] for m in lists.call("GET", url).json()["data"]]
    assert remaining == sorted(p["id"] for p in people[3:])
    gone = activities(lists, kind="list_removed")
    assert sorted(a["contact_id"] for a in gone) == sorted(p["id"] for p in people[:3])
    assert [q for q in queued(container, workspace.id) if q[0] == people[0]["id"]] == [
        (people[0]["id"], "membership", f"list:{item['id']}")
    ] * 2


def test_members_page_by_cursor_without_gaps(
    lists: Admin, client: TestClient, workspace: NewWorkspace
) -> None:
    contacts = Admin(client, workspace, "/api/v1/contacts")
    ids = [contacts.create(first_name=f"n{n}")["id"] for n in range(7)]
    item = lists.create(name="All")
    lists.call("POST", f"{API}/{item['id']}/members", json={"contacts": [{"id": i} for i in ids]})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = lists.call("GET", f"{API}/{item['id']}/members", params=params).json()
        seen += [m["contact_id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)


def test_a_contact_shows_its_lists_and_a_merged_away_id_shows_the_survivors(
    lists: Admin, container: Container, workspace: NewWorkspace
) -> None:
    ingest(container, workspace.id, {"type": "track", "anonymousId": "a1", "event": "Visited"})
    [anonymous] = container.contacts.list(workspace.id).items
    first, second = lists.create(name="One"), lists.create(name="Two")
    for item in (first, second):
        lists.call("POST", f"{API}/{item['id']}/members", json={"contacts": [{"id": anonymous.id}]})
    ingest(
        container, workspace.id, {"type": "identify", "userId": "known", "anonymousId": "a1", "traits": {}}
    )
    response = lists.call("GET", f"/api/v1/contacts/{anonymous.id}/lists")
    assert response.status_code == 200, response.text
    assert [(x["id"], x["name"]) for x in response.json()] == [(first["id"], "One"), (second["id"], "Two")]
    assert problem(lists.call("GET", "/api/v1/contacts/01AAAAAAAAAAAAAAAAAAAAAAAA/lists"), 404) == []


def test_deleting_a_list_removes_its_memberships_and_records_each_removal(
    lists: Admin, people: list[dict[str, Any]], container: Container, workspace: NewWorkspace
) -> None:
    item = lists.create(name="Temp")
    lists.call(
        "POST", f"{API}/{item['id']}/members", json={"contacts": [{"id": p["id"]} for p in people[:2]]}
    )
    assert lists.call("DELETE", f"{API}/{item['id']}").status_code == 204
    with container.db.read() as conn:
        assert (
            conn.execute(select(list_members).where(list_members.c.workspace_id == workspace.id)).all() == []
        )
    removed = activities(lists, kind="list_removed")
    assert sorted(a["contact_id"] for a in removed) == sorted(p["id"] for p in people[:2])
    assert {a["data"]["source"] for a in removed} == {"list_deleted"}
    assert len(queued(container, workspace.id)) == 4
    assert problem(lists.call("DELETE", f"{API}/{item['id']}"), 404) == []
    assert lists.create(name="Temp")["name"] == "Temp"  # the name is free again


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"name": "a\u0000b"}, ["name"]),
        ({"name": "ok", "description": "d" * 2001}, ["description"]),
        ({"name": "ok", "members": []}, ["members"]),
        ({"name": 5}, ["name"]),
    ],
)
def test_a_bad_list_body_is_a_problem_naming_the_field(
    lists: Admin, body: dict[str, Any], fields: list[str]
) -> None:
    assert problem(lists.call("POST", API, json=body)) == fields
    assert lists.all() == []


def test_a_duplicate_name_conflicts(lists: Admin) -> None:
    lists.create(name="VIP")
    assert problem(lists.call("POST", API, json={"name": "VIP"}), 409) == []
    assert len(lists.all()) == 1


@pytest.mark.parametrize(
    ("contacts", "field"),
    [
        ([{"phone": "+14155550123"}], "contacts[0]"),
        ([{"id": "x", "email": "y@example.com"}], "contacts[0]"),
        (["p0@example.com"], "contacts[0]"),
        ([{"email": ""}], "contacts[0].email"),
        ([{"id": "x" * 321}], "contacts[0].id"),
        ([{"id": 5}], "contacts[0].id"),
        ([{"id": "x"}] * 1001, "contacts"),
    ],
)
def test_bad_member_items_are_problems_naming_the_item_and_change_nothing(
    lists: Admin, people: list[dict[str, Any]], contacts: list[Any], field: str
) -> None:
    item = lists.create(name="Leads")
    body = {"contacts": [{"id": people[0]["id"]}, *contacts]}
    shifted = field.replace("[0]", "[1]") if field != "contacts" else field
    fields = problem(lists.call("POST", f"{API}/{item['id']}/members", json=body))
    assert fields == [shifted]
    assert lists.get(item["id"])["members"] == 0


def test_unknown_lists_are_not_found_on_every_route(lists: Admin, people: list[dict[str, Any]]) -> None:
    unknown = f"{API}/01AAAAAAAAAAAAAAAAAAAAAAAA"
    body = {"contacts": [{"id": people[0]["id"]}]}
    for method, path, kwargs in [
        ("GET", unknown, {}),
        ("PATCH", unknown, {"json": {"name": "x"}}),
        ("DELETE", unknown, {}),
        ("GET", f"{unknown}/members", {}),
        ("POST", f"{unknown}/members", {"json": body}),
        ("POST", f"{unknown}/members/remove", {"json": body}),
        ("DELETE", f"{unknown}/members/{people[0]['id']}", {}),
    ]:
        assert problem(lists.call(method, path, **kwargs), 404) == [], (method, path)


def test_a_bad_members_cursor_or_limit_is_named(lists: Admin) -> None:
    item = lists.create(name="Leads")
    assert problem(lists.call("GET", f"{API}/{item['id']}/members", params={"cursor": "nope"})) == ["cursor"]
    assert problem(lists.call("GET", f"{API}/{item['id']}/members", params={"limit": 0})) == ["limit"]
    assert problem(lists.call("GET", API, params={"limit": 501})) == ["limit"]
