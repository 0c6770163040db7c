"""The admin REST API for contacts: list and filter, read, create, replace, patch, events, erase, export."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import metadata, suppressions
from tests.api.admin import Admin
from tests.conftest import ingest

API = "/api/v1/contacts"


@pytest.fixture
def admin(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, API)


def problem_fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400
    assert body["title"]
    assert body["detail"]
    return [e["field"] for e in body["errors"]]


# Listing and filters

PEOPLE = [
    {
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "user_id": "u1",
        "attributes": {"plan": "pro", "seats": 5, "beta": True, "score": 2.5},
    },
    {
        "email": "bob@example.com",
        "first_name": "Bob",
        "last_name": "Leeds",
        "phone": "+14155550123",
        "attributes": {"plan": "free", "seats": 50, "beta": False},
    },
    {
        "email": "cy@example.org",
        "first_name": "Cy",
        "last_name": "Smith",
        "user_id": "u3",
        "attributes": {"plan": "pro", "seats": "5", "beta": False},
    },
    {"email": "dee_100%@example.org", "first_name": "Dee", "attributes": {"plan": "Pro"}},
    {"first_name": "Eve", "attributes": {}},
    {"first_name": "Fay", "last_name": "ÖZTÜRK"},
]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({}, ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay"]),
        ({"email": "ann@example.com"}, ["Ann"]),
        ({"email": "  ANN@Example.com "}, ["Ann"]),
        ({"email": "nobody@example.com"}, []),
        ({"user_id": "u3"}, ["Cy"]),
        ({"user_id": "U3"}, []),
        ({"attributes.plan": "pro"}, ["Ann", "Cy"]),
        ({"attributes.plan": "Pro"}, ["Dee"]),
        ({"attributes.seats": "5"}, ["Ann", "Cy"]),  # the number 5 and the text "5"
        ({"attributes.seats": "50"}, ["Bob"]),
        ({"attributes.score": "2.5"}, ["Ann"]),
        ({"attributes.beta": "true"}, ["Ann"]),
        ({"attributes.beta": "false"}, ["Bob", "Cy"]),
        ({"attributes.plan": "pro", "attributes.beta": "false"}, ["Cy"]),
        ({"attributes.missing": "x"}, []),
        ({"q": "lee"}, ["Ann", "Bob"]),
        ({"q": "LEEDS"}, ["Bob"]),
        ({"q": "example.org"}, ["Cy", "Dee"]),
        ({"q": "555"}, ["Bob"]),
        ({"q": "%"}, ["Dee"]),  # LIKE wildcards are searched for literally
        ({"q": "_"}, ["Dee"]),
        ({"q": "lee", "attributes.plan": "pro"}, ["Ann"]),
        ({"q": "eve", "user_id": "u1"}, []),
        ({"q": "öztürk"}, ["Fay"]),  # case folding beyond ASCII, on SQLite as on PostgreSQL
        ({"q": "Öz"}, ["Fay"]),
    ],
)
def test_list_filters(admin: Admin, params: dict[str, str], names: list[str]) -> None:
    for person in PEOPLE:
        admin.create(**person)
    assert [c["first_name"] for c in admin.all(**params)] == names


@pytest.mark.parametrize("limit", [1, 4, 5, 7, 23, 500])
def test_walking_every_page_gives_each_contact_exactly_once_in_creation_order(
    admin: Admin, limit: int
) -> None:
    created = [admin.create(first_name=f"person {n}")["id"] for n in range(23)]
    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = admin.call("GET", API, params=params).json()
        assert 0 < len(page["data"]) <= limit
        pages.append([c["id"] for c in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i for page in pages for i in page] == created
    assert len(pages) == -(-23 // limit)


def test_a_filtered_listing_pages_without_gaps_and_contacts_added_meanwhile_appear_at_the_end(
    admin: Admin,
) -> None:
    pro = [
        admin.create(first_name=f"p{n}", attributes={"plan": "pro" if n % 3 else "free"}) for n in range(20)
    ]
    seen = []
    page = admin.call("GET", API, params={"attributes.plan": "pro", "limit": 4}).json()
    seen += [c["id"] for c in page["data"]]
    late = admin.create(first_name="late", attributes={"plan": "pro"})
    while page["next_cursor"]:
        page = admin.call(
            "GET", API, params={"attributes.plan": "pro", "limit": 4, "cursor": page["next_cursor"]}
        ).json()
        seen += [c["id"] for c in page["data"]]
    assert seen == [c["id"] for c in pro if c["attributes"]["plan"] == "pro"] + [late["id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "===="}, "cursor"),
        ({"cursor": "Zm9v"}, "cursor"),  # valid base64, but not a cursor this API gave out
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_a_bad_listing_parameter_is_a_problem_naming_it(
    admin: Admin, params: dict[str, str], field: str
) -> None:
    admin.create(first_name="Ann")
    assert problem_fields(admin.call("GET", API, params=params)) == [field]


# Reading, creating, replacing, patching


def test_create_normalises_and_get_returns_the_same_contact(admin: Admin, clock: ManualClock) -> None:
    created = admin.create(
        user_id="u1",
        email=" Ann@Example.COM",
        phone="+1 (415) 555-0123",
        first_name="Ann",
        last_name="Lee",
        timezone="Europe/Berlin",
        locale="de_de",
        attributes={"plan": "pro", "seats": 5, "tags": ["a", "b"], "nested": {"x": 1}},
    )
    assert created == admin.get(created["id"])
    assert {k: created[k] for k in ("user_id", "email", "phone", "timezone", "locale")} == {
        "user_id": "u1",
        "email": "ann@example.com",
        "phone": "+14155550123",
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
    }
    assert created["attributes"] == {"plan": "pro", "seats": 5, "tags": ["a", "b"], "nested": {"x": 1}}
    assert created["anonymous_ids"] == []
    assert created["suppressed"] is False
    assert created["created_at"] == created["updated_at"] == "2026-03-02T09:30:00Z"
    assert created["last_seen_at"] is None


def test_an_unknown_contact_is_not_found(admin: Admin) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = admin.call(
            method, f"{API}/01NOSUCHCONTACT0000000000", json={} if method in ("PUT", "PATCH") else None
        )
        assert response.status_code == 404, method
        assert response.headers["content-type"].startswith("application/problem+json")
    for suffix in ("events", "export"):
        assert admin.call("GET", f"{API}/01NOSUCHCONTACT0000000000/{suffix}").status_code == 404


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ({"email": "ann@example.com"}, {"email": "ANN@example.com", "first_name": "Imposter"}),
        ({"user_id": "u1"}, {"user_id": "u1", "email": "other@example.com"}),
        ({"user_id": "u1", "email": "ann@example.com"}, {"user_id": "u2", "email": "ann@example.com"}),
    ],
)
def test_create_conflicts_when_the_email_or_user_id_exists(
    admin: Admin, existing: dict[str, Any], new: dict[str, Any]
) -> None:
    first = admin.create(**existing)
    response = admin.call("POST", API, json=new)
    assert response.status_code == 409, response.text
    assert response.json()["status"] == 409
    assert [c["id"] for c in admin.all()] == [first["id"]]


def test_put_replaces_the_whole_profile(admin: Admin, clock: ManualClock) -> None:
    ann = admin.create(
        user_id="u1",
        email="ann@example.com",
        phone="+14155550123",
        first_name="Ann",
        last_name="Lee",
        timezone="Europe/Berlin",
        locale="de",
        attributes={"plan": "pro", "seats": 5},
    )
    later = clock.advance(timedelta(hours=1))
    response = admin.call(
        "PUT", f"{API}/{ann['id']}", json={"email": "ann@new.example", "attributes": {"vip": True}}
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced == admin.get(ann["id"])
    assert replaced["user_id"] == "u1", "the user id is set once and stays"
    assert replaced["email"] == "ann@new.example"
    assert [replaced[k] for k in ("phone", "first_name", "last_name", "timezone", "locale")] == [None] * 5
    assert replaced["attributes"] == {"vip": True}
    assert replaced["updated_at"] == later.isoformat().replace("+00:00", "Z")
    assert [c["id"] for c in admin.all(email="ann@new.example")] == [ann["id"]]
    admin.create(email="ann@example.com")  # the old address is free again


def test_put_with_an_empty_body_clears_everything_but_the_user_id(admin: Admin) -> None:
    ann = admin.create(user_id="u1", email="ann@example.com", first_name="Ann", attributes={"plan": "pro"})
    replaced = admin.call("PUT", f"{API}/{ann['id']}", json={}).json()
    assert (replaced["user_id"], replaced["email"], replaced["first_name"], replaced["attributes"]) == (
        "u1",
        None,
        None,
        {},
    )


def test_patch_changes_only_the_given_fields(admin: Admin, clock: ManualClock) -> None:
    ann = admin.create(
        email="ann@example.com",
        phone="+14155550123",
        first_name="Ann",
        last_name="Lee",
        attributes={"plan": "free", "seats": 5, "beta": True},
    )
    clock.advance(timedelta(minutes=1))
    response = admin.call(
        "PATCH",
        f"{API}/{ann['id']}",
        json={
            "last_name": "Lee-Smith",
            "phone": None,
            "attributes": {"plan": "pro", "beta": None, "source": "ad"},
        },
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched == admin.get(ann["id"])
    assert (patched["email"], patched["first_name"], patched["last_name"], patched["phone"]) == (
        "ann@example.com",
        "Ann",
        "Lee-Smith",
        None,
    )
    assert patched["attributes"] == {"plan": "pro", "seats": 5, "source": "ad"}
    assert patched["updated_at"] > ann["updated_at"]


def test_patch_with_nothing_new_changes_nothing(admin: Admin, clock: ManualClock) -> None:
    ann = admin.create(email="ann@example.com", attributes={"plan": "pro"})
    clock.advance(timedelta(minutes=1))
    same = admin.call(
        "PATCH", f"{API}/{ann['id']}", json={"email": "ANN@example.com", "attributes": {"plan": "pro"}}
    )
    assert same.json() == ann


def test_patch_email_moves_the_identity_and_conflicts_with_another_contacts_email(admin: Admin) -> None:
    ann = admin.create(email="ann@example.com")
    bob = admin.create(email="bob@example.com")
    assert admin.call("PATCH", f"{API}/{ann['id']}", json={"email": "ann@new.example"}).status_code == 200
    assert [c["id"] for c in admin.all(email="ann@new.example")] == [ann["id"]]

    response = admin.call("PATCH", f"{API}/{ann['id']}", json={"email": "bob@example.com"})
    assert response.status_code == 409, response.text
    assert admin.get(ann["id"])["email"] == "ann@new.example"
    assert admin.get(bob["id"])["email"] == "bob@example.com"


def test_the_user_id_can_be_set_once_but_not_taken_from_another_contact_or_changed(admin: Admin) -> None:
    ann = admin.create(email="ann@example.com", user_id="u1")
    bob = admin.create(email="bob@example.com")

    taken = admin.call("PATCH", f"{API}/{bob['id']}", json={"user_id": "u1"})
    assert taken.status_code == 409, taken.text
    assert admin.get(bob["id"])["user_id"] is None
    assert [c["id"] for c in admin.all(user_id="u1")] == [ann["id"]]

    assert admin.call("PATCH", f"{API}/{bob['id']}", json={"user_id": "u2"}).json()["user_id"] == "u2"
    assert [c["id"] for c in admin.all(user_id="u2")] == [bob["id"]]
    assert admin.call("PATCH", f"{API}/{bob['id']}", json={"user_id": "u2"}).status_code == 200
    assert problem_fields(admin.call("PATCH", f"{API}/{bob['id']}", json={"user_id": "u9"})) == ["user_id"]
    assert problem_fields(admin.call("PUT", f"{API}/{bob['id']}", json={"user_id": "u9"})) == ["user_id"]
    assert admin.get(bob["id"])["user_id"] == "u2"


BAD_BODIES = [
    ({"email": "not-an-address"}, "email"),
    ({"email": 42}, "email"),
    ({"phone": "555-0123"}, "phone"),
    ({"phone": "+1 23"}, "phone"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "CEST"}, "timezone"),
    ({"locale": "klingon"}, "locale"),
    ({"first_name": "x" * 201}, "first_name"),
    ({"last_name": ["Lee"]}, "last_name"),
    ({"nickname": "Annie"}, "nickname"),
    ({"attributes": ["plan", "pro"]}, "attributes"),
    ({"user_id": ""}, "user_id"),
    ({"user_id": "u" * 256}, "user_id"),
    ({"user_id": 7}, "user_id"),
]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[f for _, f in BAD_BODIES])
def test_bad_input_on_every_write_path_is_a_problem_naming_the_field_and_changes_nothing(
    admin: Admin, method: str, body: dict[str, Any], field: str
) -> None:
    ann = admin.create(email="ann@example.com", first_name="Ann", attributes={"plan": "pro"})
    path = API if method == "POST" else f"{API}/{ann['id']}"
    response = admin.call(
        method, path, json={"email": "ann@example.com", **body} if method == "POST" else body
    )
    assert problem_fields(response) == [field]
    assert admin.all() == [ann]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"ann@example.com"', b""])
def test_a_body_that_is_not_a_json_object_is_a_problem_about_the_body(
    admin: Admin, method: str, raw: bytes
) -> None:
    ann = admin.create(email="ann@example.com")
    path = API if method == "POST" else f"{API}/{ann['id']}"
    response = admin.call(method, path, content=raw, headers={"content-type": "application/json"})
    assert problem_fields(response) == ["body"]
    assert admin.all() == [ann]


def test_several_bad_fields_are_all_named(admin: Admin) -> None:
    response = admin.call("POST", API, json={"email": "x", "phone": "1", "locale": "??"})
    assert sorted(problem_fields(response)) == ["email", "locale", "phone"]


# Events


def test_events_come_newest_first_and_page_without_gaps(
    container: Container, admin: Admin, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ann = admin.create(user_id="u1", email="ann@example.com")
    bob = admin.create(user_id="u2")
    sent = []
    for n in range(13):
        clock.advance(timedelta(minutes=1 if n % 4 else 0))  # some events share a timestamp
        ingest(
            container,
            workspace.id,
            {"type": "track", "userId": "u1", "event": f"step {n}", "messageId": f"m{n}"},
        )
        sent.append(f"m{n}")
    ingest(container, workspace.id, {"type": "track", "userId": "u2", "event": "other", "messageId": "bob"})

    got: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = admin.call(
            "GET", f"{API}/{ann['id']}/events", params={"limit": 4, **({"cursor": cursor} if cursor else {})}
        ).json()
        assert len(page["data"]) <= 4
        got += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(e["message_id"] for e in got) == sorted(sent)
    assert len(got) == 13
    times = [(e["timestamp"], e["id"]) for e in got]
    assert times == sorted(times, reverse=True)
    assert got[0]["name"] == "step 12"
    assert got[-1]["name"] == "step 0"
    assert {e["contact_id"] for e in got} == {ann["id"]}
    assert [e["message_id"] for e in admin.call("GET", f"{API}/{bob['id']}/events").json()["data"]] == ["bob"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": "Zm9v"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
    ],
)
def test_a_bad_events_parameter_is_a_problem_naming_it(
    admin: Admin, params: dict[str, Any], field: str
) -> None:
    ann = admin.create(email="ann@example.com")
    assert problem_fields(admin.call("GET", f"{API}/{ann['id']}/events", params=params)) == [field]


# Erase and export


def _rows_mentioning(container: Container, workspace_id: str, needles: list[str]) -> list[tuple[str, str]]:
    """(table, needle) for every row of the workspace whose text holds one of `needles`."""
    found = []
    with container.db.read() as conn:
        for table in metadata.sorted_tables:
            if "workspace_id" not in table.c:
                continue
            for row in conn.execute(select(table).where(table.c.workspace_id == workspace_id)):
                text = str(tuple(row)).lower()
                found += [(table.name, n) for n in needles if n.lower() in text]
    return found


def test_erase_deletes_the_contact_its_events_and_personal_data_but_keeps_the_email_suppressed(
    container: Container, admin: Admin, workspace: NewWorkspace, client: TestClient
) -> None:
    ann_traits = {"email": "Ann@Example.com", "phone": "+14155550123", "firstName": "Ann", "lastName": "Lee"}
    ingest(
        container,
        workspace.id,
        {"type": "track", "anonymousId": "device-1", "event": "Viewed", "properties": {"who": "Ann Lee"}},
        {"type": "identify", "userId": "u1", "traits": ann_traits},
        {"type": "identify", "userId": "u1", "anonymousId": "device-1"},
        {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme"}},
    )
    [ann] = admin.all()
    keep = admin.create(email="bob@example.com", first_name="Bob")

    assert admin.call("DELETE", f"{API}/{ann['id']}").status_code == 204

    for path in (f"{API}/{ann['id']}", f"{API}/{ann['id']}/events", f"{API}/{ann['id']}/export"):
        assert admin.call("GET", path).status_code == 404, path
    assert admin.call("DELETE", f"{API}/{ann['id']}").status_code == 404
    assert admin.all() == [keep]
    personal = ["ann@example.com", "+14155550123", "Ann Lee", "device-1", "u1", ann["id"]]
    assert _rows_mentioning(container, workspace.id, personal) == []
    with container.db.read() as conn:
        kept = conn.execute(
            select(suppressions.c.channel, suppressions.c.value_hash, suppressions.c.reason)
        ).all()
    assert sorted(kept) == sorted(
        [
            ("email", hashlib.sha256(b"ann@example.com").hexdigest(), "erased"),
            ("sms", hashlib.sha256(b"+14155550123").hexdigest(), "erased"),
        ]
    )
    members = client.get("/api/v1/accounts", headers=admin.headers).json()["data"]
    assert [
        client.get(f"/api/v1/accounts/{a['id']}/contacts", headers=admin.headers).json() for a in members
    ] == [[]]


def test_an_erased_email_shows_as_suppressed_when_it_comes_back(admin: Admin, client: TestClient) -> None:
    ann = admin.create(email="ann@example.com")
    assert admin.call("DELETE", f"{API}/{ann['id']}").status_code == 204

    again = admin.create(email="ANN@example.com ")
    assert again["id"] != ann["id"]
    assert again["suppressed"] is True
    assert admin.get(again["id"])["suppressed"] is True
    assert admin.all(email="ann@example.com")[0]["suppressed"] is True
    assert admin.call("DELETE", f"{API}/{again['id']}").status_code == 204

    report = admin.call(
        "POST",
        "/api/v1/imports/contacts",
        content=b"email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n",
        headers={"content-type": "text/csv"},
    ).json()
    assert (report["created"], report["suppressed"], report["errors"]) == (2, 1, [])
    assert {c["email"]: c["suppressed"] for c in admin.all()} == {
        "ann@example.com": True,
        "bob@example.com": False,
    }


def test_erasing_the_survivor_of_a_merge_also_forgets_the_merged_away_id(
    container: Container, admin: Admin, workspace: NewWorkspace
) -> None:
    ingest(container, workspace.id, {"type": "track", "anonymousId": "device-1", "event": "Viewed Pricing"})
    [anonymous] = admin.all()
    ingest(
        container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}}
    )
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "device-1"})
    [survivor] = admin.all()
    assert admin.get(anonymous["id"])["id"] == survivor["id"]

    assert admin.call("DELETE", f"{API}/{survivor['id']}").status_code == 204
    assert admin.call("GET", f"{API}/{anonymous['id']}").status_code == 404
    assert _rows_mentioning(container, workspace.id, [anonymous["id"], survivor["id"], "device-1"]) == []


def test_writes_through_a_merged_away_id_reach_the_contact_it_became(
    container: Container, admin: Admin, workspace: NewWorkspace
) -> None:
    ingest(container, workspace.id, {"type": "track", "anonymousId": "device-1", "event": "Viewed Pricing"})
    [anonymous] = admin.all()
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}})
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "device-1"})
    [survivor] = admin.all()
    assert survivor["id"] != anonymous["id"]

    patched = admin.call("PATCH", f"{API}/{anonymous['id']}", json={"first_name": "Ann"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["id"] == survivor["id"]
    replaced = admin.call("PUT", f"{API}/{anonymous['id']}", json={"last_name": "Lee"})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["first_name"], replaced.json()["last_name"]) == (None, "Lee")
    assert admin.get(survivor["id"])["last_name"] == "Lee"

    assert admin.call("DELETE", f"{API}/{anonymous['id']}").status_code == 204
    assert admin.call("GET", f"{API}/{survivor['id']}").status_code == 404
    assert admin.all() == []


def test_export_holds_profile_identities_every_event_accounts_and_merges(
    container: Container, admin: Admin, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ingest(
        container,
        workspace.id,
        *[{"type": "page", "anonymousId": "a1", "name": f"page {n}"} for n in range(60)],
    )
    [anonymous] = admin.all()
    clock.advance(timedelta(hours=1))
    ingest(
        container,
        workspace.id,
        {"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com", "plan": "pro"}},
        {
            "type": "group",
            "userId": "u1",
            "groupId": "acme",
            "traits": {"name": "Acme", "website": "https://acme.io"},
        },
    )
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "a1"})
    [ann] = admin.all()

    response = admin.call("GET", f"{API}/{ann['id']}/export")
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["contact"] == admin.get(ann["id"])
    assert sorted((i["kind"], i["value"]) for i in export["identities"]) == [
        ("anonymous_id", "a1"),
        ("email", "ann@example.com"),
        ("user_id", "u1"),
    ]
    assert len(export["events"]) == 63
    assert {e["contact_id"] for e in export["events"]} == {ann["id"]}
    assert sorted(e["type"] for e in export["events"]) == ["group"] + ["identify"] * 2 + ["page"] * 60
    assert [(a["group_id"], a["name"], a["domain"]) for a in export["accounts"]] == [
        ("acme", "Acme", "acme.io")
    ]
    assert [m["merged_id"] for m in export["merged"]] == [anonymous["id"]]
    assert admin.call("GET", f"{API}/{anonymous['id']}/export").json() == export


# The API describes itself


def test_openapi_and_docs_answer(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in (
        API,
        f"{API}/{{contact_id}}",
        f"{API}/{{contact_id}}/events",
        f"{API}/{{contact_id}}/export",
    ):
        assert path in paths
    assert set(paths[f"{API}/{{contact_id}}"]) == {"get", "put", "patch", "delete"}
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    assert "openapi.json" in docs.text
