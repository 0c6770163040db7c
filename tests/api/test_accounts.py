"""Accounts (companies): created by Segment `group` calls and managed through the admin REST API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin
from tests.conftest import ingest, write_auth

API = "/api/v1/accounts"


class Accounts(Admin):
    """The accounts API, plus the look-ups these tests repeat."""

    def by_group(self, group_id: str) -> dict[str, Any]:
        [account] = self.all(group_id=group_id)
        return account

    def members(self, account_id: str) -> list[str]:
        response = self.call("GET", f"{API}/{account_id}/contacts")
        assert response.status_code == 200, response.text
        ids: list[str] = response.json()
        return ids

    def contact(self, **params: str) -> dict[str, Any]:
        [found] = self.call("GET", "/api/v1/contacts", params=params).json()["data"]
        return dict(found)


@pytest.fixture
def admin(client: TestClient, workspace: NewWorkspace) -> Accounts:
    return Accounts(client, workspace, API)


def group(group_id: str, user: str | None = None, anon: str | None = None, **traits: Any) -> dict[str, Any]:
    ids = {"userId": user} if user else {"anonymousId": anon}
    return {"type": "group", "groupId": group_id, **ids, "traits": traits}


def problem_fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


# Group calls


@pytest.mark.parametrize("requests", ["one request", "one request per call"])
def test_group_calls_create_an_account_and_link_each_contact_once(
    container: Container, workspace: NewWorkspace, admin: Accounts, clock: ManualClock, requests: str
) -> None:
    calls = [
        group(
            "acme",
            user="u1",
            name="Acme Inc",
            website="https://www.Acme.io/about",
            industry="SaaS",
            employees=50,
        ),
        group("acme", user="u2", employees=60, industry=None),
        group("acme", user="u1"),
        group("globex", user="u2", name="Globex", domain="GLOBEX.example.COM"),
    ]
    if requests == "one request":
        ingest(container, workspace.id, *calls)
    else:
        for call in calls:
            ingest(container, workspace.id, call)

    acme = admin.by_group("acme")
    assert (acme["name"], acme["domain"]) == ("Acme Inc", "acme.io")
    assert acme["attributes"] == {"website": "https://www.Acme.io/about", "employees": 60}
    u1, u2 = admin.contact(user_id="u1")["id"], admin.contact(user_id="u2")["id"]
    assert admin.members(acme["id"]) == sorted([u1, u2])

    globex = admin.by_group("globex")
    assert (globex["name"], globex["domain"]) == ("Globex", "globex.example.com")
    assert admin.members(globex["id"]) == [u2]
    assert [a["group_id"] for a in admin.all()] == ["acme", "globex"]


def test_a_group_call_over_http_names_the_bad_trait(
    client: TestClient, workspace: NewWorkspace, admin: Accounts
) -> None:
    bad: list[tuple[dict[str, Any], str]] = [({"name": 5}, "traits.name"), ({"domain": "x"}, "traits.domain")]
    for traits, field in bad:
        response = client.post(
            "/v1/group", auth=write_auth(workspace), json=group("acme", user="u1", **traits)
        )
        assert problem_fields(response) == [field]
    assert admin.all() == []
    ok = client.post("/v1/group", auth=write_auth(workspace), json=group("acme", user="u1", name="Acme"))
    assert ok.status_code == 200, ok.text
    assert admin.by_group("acme")["name"] == "Acme"


def test_the_membership_of_an_anonymous_visitor_moves_to_the_profile_it_merges_into(
    container: Container, workspace: NewWorkspace, admin: Accounts
) -> None:
    ingest(container, workspace.id, group("acme", anon="a1", name="Acme"), group("initech", anon="a1"))
    ingest(container, workspace.id, group("acme", user="u1"))
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "a1"})

    u1 = admin.contact(user_id="u1")["id"]
    assert admin.members(admin.by_group("acme")["id"]) == [u1]
    assert admin.members(admin.by_group("initech")["id"]) == [u1]
    export = admin.call("GET", f"/api/v1/contacts/{u1}/export").json()
    assert sorted(a["group_id"] for a in export["accounts"]) == ["acme", "initech"]


def test_group_traits_update_the_account_and_its_times(
    container: Container, workspace: NewWorkspace, admin: Accounts, clock: ManualClock
) -> None:
    ingest(container, workspace.id, group("acme", user="u1", name="Acme", plan="free"))
    created = admin.by_group("acme")
    clock.advance(timedelta(hours=1))
    ingest(container, workspace.id, group("acme", user="u1", name="Acme", plan="free"))
    assert admin.by_group("acme") == created, "the same traits again change nothing"

    later = clock.advance(timedelta(hours=1))
    ingest(container, workspace.id, group("acme", user="u1", name=None, plan="pro", domain="acme.io"))
    account = admin.by_group("acme")
    assert (account["name"], account["domain"], account["attributes"]) == (None, "acme.io", {"plan": "pro"})
    assert account["created_at"] == created["created_at"]
    assert account["updated_at"] == later.isoformat().replace("+00:00", "Z")


# The REST API


def test_create_get_and_duplicate_group_id(
    container: Container, workspace: NewWorkspace, admin: Accounts
) -> None:
    acme = admin.create(
        group_id="acme", name=" Acme Inc ", attributes={"website": "http://www.ACME.io", "tier": 1}
    )
    assert (acme["group_id"], acme["name"], acme["domain"]) == ("acme", "Acme Inc", "acme.io")
    assert acme["attributes"] == {"website": "http://www.ACME.io", "tier": 1}
    assert admin.get(acme["id"]) == acme

    again = admin.call("POST", API, json={"group_id": "acme", "name": "Other"})
    assert again.status_code == 409, again.text
    ingest(container, workspace.id, group("globex", user="u1"))
    assert admin.call("POST", API, json={"group_id": "globex"}).status_code == 409
    assert [(a["group_id"], a["name"]) for a in admin.all()] == [("acme", "Acme Inc"), ("globex", None)]


@pytest.mark.parametrize(
    ("params", "groups"),
    [
        ({}, ["acme", "globex", "initech", "umbrella"]),
        ({"group_id": "globex"}, ["globex"]),
        ({"group_id": "GLOBEX"}, []),
        ({"domain": "acme.io"}, ["acme"]),
        ({"q": "corp"}, ["globex", "initech"]),
        ({"q": "ACME"}, ["acme"]),
        ({"q": ".org"}, ["umbrella"]),
        ({"q": "%"}, []),
    ],
)
def test_list_filters(admin: Accounts, params: dict[str, str], groups: list[str]) -> None:
    admin.create(group_id="acme", name="Acme", domain="acme.io")
    admin.create(group_id="globex", name="Globex Corp")
    admin.create(group_id="initech", name="Initech", domain="initech-corp.com")
    admin.create(group_id="umbrella", domain="umbrella.org")
    assert [a["group_id"] for a in admin.all(**params)] == groups


def test_walking_every_page_gives_each_account_once(admin: Accounts) -> None:
    created = [admin.create(group_id=f"g{n}")["id"] for n in range(11)]
    seen: list[str] = []
    cursor = None
    while True:
        page = admin.call("GET", API, params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        assert 0 < len(page["data"]) <= 3
        seen += [a["id"] for a in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created


def test_put_replaces_and_patch_merges(admin: Accounts, clock: ManualClock) -> None:
    acme = admin.create(
        group_id="acme", name="Acme", domain="acme.io", attributes={"tier": 1, "region": "eu"}
    )
    clock.advance(timedelta(minutes=1))

    patched = admin.call(
        "PATCH", f"{API}/{acme['id']}", json={"attributes": {"tier": 2, "region": None, "seats": 9}}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["domain"]) == ("Acme", "acme.io")
    assert patched.json()["attributes"] == {"tier": 2, "seats": 9}
    assert patched.json()["updated_at"] > acme["updated_at"]

    unset = admin.call("PATCH", f"{API}/{acme['id']}", json={"domain": None}).json()
    assert (unset["name"], unset["domain"]) == ("Acme", None)

    replaced = admin.call("PUT", f"{API}/{acme['id']}", json={"name": "Acme Corp"})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["name"], replaced.json()["domain"], replaced.json()["attributes"]) == (
        "Acme Corp",
        None,
        {},
    )
    assert replaced.json()["group_id"] == "acme"
    assert admin.get(acme["id"]) == replaced.json()


def test_delete_removes_the_account_and_its_memberships_but_not_the_contacts(
    container: Container, workspace: NewWorkspace, admin: Accounts
) -> None:
    ingest(container, workspace.id, group("acme", user="u1", name="Acme"), group("globex", user="u1"))
    acme, globex = admin.by_group("acme"), admin.by_group("globex")
    u1 = admin.contact(user_id="u1")["id"]

    assert admin.call("DELETE", f"{API}/{acme['id']}").status_code == 204
    for method, path in [
        ("GET", f"{API}/{acme['id']}"),
        ("GET", f"{API}/{acme['id']}/contacts"),
        ("DELETE", f"{API}/{acme['id']}"),
    ]:
        assert admin.call(method, path).status_code == 404
    assert [a["id"] for a in admin.all()] == [globex["id"]]
    assert admin.members(globex["id"]) == [u1]
    export = admin.call("GET", f"/api/v1/contacts/{u1}/export").json()
    assert [a["group_id"] for a in export["accounts"]] == ["globex"]

    ingest(container, workspace.id, group("acme", user="u1"))  # the same company signs up again
    assert admin.by_group("acme")["id"] != acme["id"]
    assert admin.members(admin.by_group("acme")["id"]) == [u1]


def test_an_unknown_account_is_not_found(admin: Accounts) -> None:
    missing = f"{API}/01NOSUCHACCOUNT0000000000"
    for method, path, body in [
        ("GET", missing, None),
        ("GET", f"{missing}/contacts", None),
        ("PUT", missing, {"name": "x"}),
        ("PATCH", missing, {"name": "x"}),
        ("DELETE", missing, None),
    ]:
        response = admin.call(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.headers["content-type"].startswith("application/problem+json")


BAD_BODIES = [
    ({"name": 5}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"domain": "not a domain"}, "domain"),
    ({"domain": "localhost"}, "domain"),
    ({"domain": ["acme.io"]}, "domain"),
    ({"attributes": "tier 1"}, "attributes"),
    ({"industry": "SaaS"}, "industry"),
]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[f for _, f in BAD_BODIES])
def test_bad_input_on_every_write_path_is_a_problem_naming_the_field_and_changes_nothing(
    admin: Accounts, method: str, body: dict[str, Any], field: str
) -> None:
    acme = admin.create(group_id="acme", name="Acme", domain="acme.io", attributes={"tier": 1})
    if method == "POST":
        response = admin.call(method, API, json={"group_id": "globex", **body})
    else:
        response = admin.call(method, f"{API}/{acme['id']}", json=body)
    assert problem_fields(response) == [field]
    assert admin.all() == [acme]


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("POST", {"name": "No id"}),
        ("POST", {"group_id": ""}),
        ("POST", {"group_id": "g" * 256}),
        ("PUT", {"group_id": "other"}),
        ("PATCH", {"group_id": "other"}),
    ],
)
def test_the_group_id_is_required_on_create_and_fixed_afterwards(
    admin: Accounts, method: str, body: dict[str, Any]
) -> None:
    acme = admin.create(group_id="acme")
    path = API if method == "POST" else f"{API}/{acme['id']}"
    assert problem_fields(admin.call(method, path, json=body)) == ["group_id"]
    assert admin.all() == [acme]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "bad!"}, "cursor"),
        ({"cursor": "Zm9v"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
    ],
)
def test_a_bad_listing_parameter_is_a_problem_naming_it(
    admin: Accounts, params: dict[str, Any], field: str
) -> None:
    admin.create(group_id="acme")
    assert problem_fields(admin.call("GET", API, params=params)) == [field]
