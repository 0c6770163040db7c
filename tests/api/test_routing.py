"""Routing to sales through the API: owners, ordered rules (round-robin, territory, account owner,
company domain) with conditions, assignment on demand and when a contact reaches a routed stage."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import pending_changes
from tests.api.admin import Admin, problem
from tests.conftest import ingest

UNKNOWN = "01AAAAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
def admin(client: TestClient, workspace: NewWorkspace) -> Admin:
    return Admin(client, workspace, "/api/v1/contacts")


def owner(admin: Admin, name: str, **extra: Any) -> str:
    response = admin.call(
        "POST", "/api/v1/owners", json={"name": name, "email": f"{name.lower()}@sales.example.com", **extra}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def rule(admin: Admin, name: str, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = admin.call(
        "POST", "/api/v1/routing/rules", json={"name": name, "definition": definition, **extra}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assign(admin: Admin, contact_id: str, **params: Any) -> dict[str, Any]:
    response = admin.call("POST", f"/api/v1/contacts/{contact_id}/assign", params=params)
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


# owners


def test_owners_are_created_read_listed_changed_and_deleted(admin: Admin) -> None:
    rita = admin.call(
        "POST",
        "/api/v1/owners",
        json={"name": " Rita ", "email": "Rita@Sales.Example.com", "attributes": {"territory": "EMEA"}},
    )
    assert rita.status_code == 201, rita.text
    body = rita.json()
    assert (body["name"], body["email"], body["active"], body["attributes"]) == (
        "Rita",
        "rita@sales.example.com",
        True,
        {"territory": "EMEA"},
    )
    sam = owner(admin, "Sam")
    assert admin.call("GET", f"/api/v1/owners/{body['id']}").json() == body
    patched = admin.call("PATCH", f"/api/v1/owners/{sam}", json={"active": False}).json()
    assert (patched["name"], patched["active"]) == ("Sam", False)
    listed = admin.call("GET", "/api/v1/owners", params={"active": "true"}).json()["data"]
    assert [o["id"] for o in listed] == [body["id"]]
    replaced = admin.call(
        "PUT", f"/api/v1/owners/{sam}", json={"name": "Samuel", "email": "sam@sales.example.com"}
    ).json()
    assert (replaced["name"], replaced["active"], replaced["attributes"]) == ("Samuel", True, {})
    assert admin.call("DELETE", f"/api/v1/owners/{sam}").status_code == 204
    assert problem(admin.call("GET", f"/api/v1/owners/{sam}"), 404) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.com"}, "name"),
        ({"name": "  ", "email": "x@example.com"}, "name"),
        ({"name": "X"}, "email"),
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "email": "x@example.com", "active": "yes"}, "active"),
        ({"name": "X", "email": "x@example.com", "attributes": []}, "attributes"),
        ({"name": "X" * 201, "email": "x@example.com"}, "name"),
        ({"name": "X", "email": "x@example.com", "team": "a"}, "team"),
    ],
)
def test_a_bad_owner_is_a_problem_naming_the_field(admin: Admin, body: dict[str, Any], field: str) -> None:
    assert problem(admin.call("POST", "/api/v1/owners", json=body)) == [field]
    assert admin.call("GET", "/api/v1/owners").json()["data"] == []


def test_owner_email_is_unique_and_an_owner_in_use_cannot_be_deleted(admin: Admin) -> None:
    rita = owner(admin, "Rita")
    assert (
        problem(
            admin.call("POST", "/api/v1/owners", json={"name": "R2", "email": "RITA@sales.example.com"}), 409
        )
        == []
    )
    used = rule(admin, "rotation", {"kind": "round_robin", "owner_ids": [rita]})
    assert problem(admin.call("DELETE", f"/api/v1/owners/{rita}"), 409) == []
    assert admin.call("DELETE", f"/api/v1/routing/rules/{used['id']}").status_code == 204
    ann = admin.create(first_name="Ann", owner_id=rita)
    assert problem(admin.call("DELETE", f"/api/v1/owners/{rita}"), 409) == []
    admin.call("PATCH", f"/api/v1/contacts/{ann['id']}", json={"owner_id": None})
    assert admin.call("DELETE", f"/api/v1/owners/{rita}").status_code == 204


# rules


def test_round_robin_takes_turns_skips_inactive_owners_and_keeps_existing_owners(
    admin: Admin, container: Container, workspace: NewWorkspace
) -> None:
    a, b, c = owner(admin, "A"), owner(admin, "B"), owner(admin, "C")
    rotation = rule(admin, "rotation", {"kind": "round_robin", "owner_ids": [a, b, c]})
    people = [admin.create(first_name=f"p{n}")["id"] for n in range(5)]
    assert [assign(admin, p)["owner_id"] for p in people[:3]] == [a, b, c]
    admin.call("PATCH", f"/api/v1/owners/{a}", json={"active": False})
    assert [assign(admin, p)["owner_id"] for p in people[3:]] == [b, c]
    again = assign(admin, people[0])
    assert (again["owner_id"], again["changed"]) == (a, False)  # an inactive owner keeps its contacts
    forced = assign(admin, people[0], force="true")
    assert (forced["owner_id"], forced["changed"], forced["rule_id"]) == (b, True, rotation["id"])
    [assigned, reassigned] = [
        x
        for x in admin.call("GET", f"/api/v1/contacts/{people[0]}/activities").json()["data"]
        if x["kind"] == "owner_assigned"
    ]
    assert assigned["data"] == {
        "from": None,
        "to": a,
        "rule": rotation["id"],
        "rule_name": "rotation",
        "trigger": "api",
    }
    assert (reassigned["data"]["from"], reassigned["data"]["to"], reassigned["subject_id"]) == (a, b, b)
    with container.db.read() as conn:
        names = (
            conn.execute(
                select(pending_changes.c.name).where(
                    pending_changes.c.workspace_id == workspace.id,
                    pending_changes.c.contact_id == people[0],
                    pending_changes.c.name == "owner_id",  # creating the contact queued its profile too
                )
            )
            .scalars()
            .all()
        )
    assert names == ["owner_id", "owner_id"]
    assert admin.get(people[0])["owner_id"] == b


def test_territory_maps_values_falls_back_and_matches_owner_attributes(admin: Admin) -> None:
    emea, us1, us2, desk = (
        owner(admin, "Emea"),
        owner(admin, "Us1", attributes={"region": "US"}),
        owner(admin, "Us2", attributes={"region": "US"}),
        owner(admin, "Desk"),
    )
    rule(admin, "by owner region", {"kind": "territory", "attribute": "region"})
    mapped = {"EMEA": emea, "3": us2}
    rule(
        admin,
        "mapped",
        {"kind": "territory", "attribute": "territory", "owners": mapped, "fallback_owner_id": desk},
    )
    us = [admin.create(first_name=f"us{n}", attributes={"region": "US"})["id"] for n in range(3)]
    assert [assign(admin, c)["owner_id"] for c in us] == [us1, us2, us1]
    by_map = admin.create(first_name="a", attributes={"territory": "EMEA"})
    by_number = admin.create(first_name="n", attributes={"territory": 3})
    fallback = admin.create(first_name="b", attributes={"territory": "APAC"})
    missing = admin.create(first_name="c")
    assert assign(admin, by_map["id"])["rule_name"] == "mapped"
    assert assign(admin, by_map["id"], force="true")["owner_id"] == emea
    assert assign(admin, by_number["id"])["owner_id"] == us2
    assert assign(admin, fallback["id"])["owner_id"] == desk
    assert assign(admin, missing["id"])["owner_id"] == desk
    admin.call("PATCH", f"/api/v1/owners/{emea}", json={"active": False})
    other = admin.create(first_name="d", attributes={"territory": "EMEA"})
    assert assign(admin, other["id"])["owner_id"] == desk  # an inactive mapped owner falls back


def test_rules_run_in_position_order_and_conditions_decide_whom_they_apply_to(admin: Admin) -> None:
    enterprise, smb = owner(admin, "Enterprise"), owner(admin, "Smb")
    large = admin.create(first_name="Large", attributes={"employees": 5000})
    small = admin.create(first_name="Small", attributes={"employees": 10})
    partner = admin.create(first_name="Partner", attributes={"employees": 10})
    rule(admin, "everyone else", {"kind": "round_robin", "owner_ids": [smb]}, position=10)
    big = {
        "type": "attribute",
        "field": "attributes.employees",
        "operator": {"op": "greater_or_equal", "value": 1000},
    }
    rule(
        admin,
        "big companies",
        {"kind": "round_robin", "owner_ids": [enterprise], "condition": big},
        position=1,
    )
    tagged = {"type": "tag", "tag": "partner"}
    rule(
        admin, "partners", {"kind": "round_robin", "owner_ids": [enterprise], "condition": tagged}, position=5
    )
    admin.call("PUT", f"/api/v1/contacts/{partner['id']}/tags/partner")
    assert assign(admin, large["id"])["rule_name"] == "big companies"
    assert assign(admin, small["id"])["owner_id"] == smb
    assert assign(admin, partner["id"])["rule_name"] == "partners"
    names = [r["name"] for r in admin.call("GET", "/api/v1/routing/rules").json()]
    assert names == ["big companies", "partners", "everyone else"]


def test_account_owner_comes_from_the_account_or_its_other_contacts(
    admin: Admin, container: Container, workspace: NewWorkspace
) -> None:
    rita, sam = owner(admin, "Rita"), owner(admin, "Sam")
    rule(admin, "account", {"kind": "account_owner"})
    ingest(
        container,
        workspace.id,
        {
            "type": "group",
            "userId": "u1",
            "groupId": "acme",
            "traits": {"name": "Acme", "owner_email": "SAM@sales.example.com"},
        },
        {"type": "group", "userId": "u2", "groupId": "globex", "traits": {"name": "Globex"}},
        {"type": "group", "userId": "u3", "groupId": "globex", "traits": {}},
        {"type": "group", "userId": "u4", "groupId": "initech", "traits": {}},
    )
    ids = {c["user_id"]: c["id"] for c in admin.all()}
    assert assign(admin, ids["u1"])["owner_id"] == sam
    admin.call("PATCH", f"/api/v1/contacts/{ids['u2']}", json={"owner_id": rita})
    assert assign(admin, ids["u3"])["owner_id"] == rita  # a colleague at Globex is Rita's
    nobody = assign(admin, ids["u4"])
    assert (nobody["owner_id"], nobody["changed"], nobody["rule_id"]) == (None, False, None)


def test_company_domain_matches_the_email_domain_to_an_accounts_domain(
    admin: Admin, container: Container, workspace: NewWorkspace
) -> None:
    rita = owner(admin, "Rita")
    rule(admin, "domain", {"kind": "company_domain"})
    ingest(
        container,
        workspace.id,
        {
            "type": "group",
            "userId": "u1",
            "groupId": "acme",
            "traits": {"domain": "https://www.acme.com", "owner_id": rita},
        },
    )
    newcomer = admin.create(email="new.hire@ACME.com")
    elsewhere = admin.create(email="someone@other.com")
    assert assign(admin, newcomer["id"])["owner_id"] == rita
    assert assign(admin, elsewhere["id"])["owner_id"] is None


def test_reaching_a_routed_stage_assigns_an_owner_once(admin: Admin) -> None:
    a, b = owner(admin, "A"), owner(admin, "B")
    rule(admin, "rotation", {"kind": "round_robin", "owner_ids": [a, b]})
    assert admin.call("GET", "/api/v1/routing/settings").json() == {"assign_at_stages": ["mql"]}
    ann = admin.create(first_name="Ann", lifecycle_stage="lead")
    assert ann["owner_id"] is None
    mql = admin.call("PATCH", f"/api/v1/contacts/{ann['id']}", json={"lifecycle_stage": "mql"}).json()
    assert mql["owner_id"] == a
    kinds = [x["kind"] for x in admin.call("GET", f"/api/v1/contacts/{ann['id']}/activities").json()["data"]]
    assert kinds == ["lifecycle_changed", "lifecycle_changed", "owner_assigned"]
    admin.call("PATCH", f"/api/v1/contacts/{ann['id']}", json={"lifecycle_stage": "lead"})
    assert (
        admin.call("PATCH", f"/api/v1/contacts/{ann['id']}", json={"lifecycle_stage": "mql"}).json()[
            "owner_id"
        ]
        == a
    )

    settings = admin.call(
        "PUT", "/api/v1/routing/settings", json={"assign_at_stages": ["sql", "sql", "customer"]}
    )
    assert settings.json() == {"assign_at_stages": ["sql", "customer"]}
    bob = admin.create(first_name="Bob", lifecycle_stage="mql")
    assert bob["owner_id"] is None
    assert (
        admin.call("PATCH", f"/api/v1/contacts/{bob['id']}", json={"lifecycle_stage": "sql"}).json()[
            "owner_id"
        ]
        == b
    )


def test_rules_are_changed_and_deleted(admin: Admin) -> None:
    a, b = owner(admin, "A"), owner(admin, "B")
    created = rule(admin, "rotation", {"kind": "round_robin", "owner_ids": [a]})
    assert created["position"] == 1
    second = rule(admin, "second", {"kind": "account_owner"})
    assert second["position"] == 2
    changed = admin.call(
        "PATCH",
        f"/api/v1/routing/rules/{created['id']}",
        json={"position": 3, "definition": {"kind": "round_robin", "owner_ids": [a, b]}},
    ).json()
    assert (changed["name"], changed["position"], changed["definition"]["owner_ids"]) == (
        "rotation",
        3,
        [a, b],
    )
    assert [r["name"] for r in admin.call("GET", "/api/v1/routing/rules").json()] == ["second", "rotation"]
    assert (
        problem(admin.call("PATCH", f"/api/v1/routing/rules/{created['id']}", json={"name": "second"}), 409)
        == []
    )
    assert admin.call("DELETE", f"/api/v1/routing/rules/{created['id']}").status_code == 204
    assert problem(admin.call("GET", f"/api/v1/routing/rules/{created['id']}"), 404) == []


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (None, "definition"),
        ({"kind": "lottery"}, "definition.kind"),
        ({"owner_ids": ["x"]}, "definition.kind"),
        ({"kind": "round_robin", "owner_ids": []}, "definition.owner_ids"),
        ({"kind": "round_robin", "owner_ids": [UNKNOWN]}, "definition.owner_ids[0]"),
        ({"kind": "round_robin", "owner_ids": ["OWNER", "OWNER"]}, "definition.owner_ids"),
        ({"kind": "territory", "attribute": "region", "owners": {"EU": UNKNOWN}}, "definition.owners.EU"),
        (
            {"kind": "territory", "attribute": "region", "fallback_owner_id": UNKNOWN},
            "definition.fallback_owner_id",
        ),
        ({"kind": "territory", "attribute": ""}, "definition.attribute"),
        ({"kind": "account_owner", "extra": 1}, "definition.extra"),
        (
            {
                "kind": "account_owner",
                "condition": {"type": "attribute", "field": "plan", "operator": {"op": "exists"}},
            },
            "definition.condition.field",
        ),
        (
            {
                "kind": "account_owner",
                "condition": {"type": "all", "conditions": [{"type": "tag", "tag": ""}]},
            },
            "definition.condition.conditions[0].tag",
        ),
        (  # no contact has ever had the attribute: a typo, as in segments and journeys
            {
                "kind": "account_owner",
                "condition": {
                    "type": "attribute",
                    "field": "attributes.employes",
                    "operator": {"op": "exists"},
                },
            },
            "definition.condition.field",
        ),
    ],
)
def test_a_bad_rule_is_a_problem_naming_the_path_and_changes_nothing(
    admin: Admin, definition: Any, field: str
) -> None:
    real = owner(admin, "Real")
    if definition and definition.get("owner_ids") == ["OWNER", "OWNER"]:
        definition = {**definition, "owner_ids": [real, real]}
    kept = rule(admin, "kept", {"kind": "round_robin", "owner_ids": [real]})
    assert problem(
        admin.call("POST", "/api/v1/routing/rules", json={"name": "new", "definition": definition})
    ) == [field]
    changed = admin.call("PATCH", f"/api/v1/routing/rules/{kept['id']}", json={"definition": definition})
    if definition is not None:
        assert problem(changed) == [field]
    assert admin.call("GET", "/api/v1/routing/rules").json() == [kept]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"definition": {"kind": "account_owner"}}, "name"),
        ({"name": "x" * 201, "definition": {"kind": "account_owner"}}, "name"),
        ({"name": "r", "position": -1, "definition": {"kind": "account_owner"}}, "position"),
        ({"name": "r", "position": "first", "definition": {"kind": "account_owner"}}, "position"),
    ],
)
def test_a_bad_rule_name_or_position_is_named(admin: Admin, body: dict[str, Any], field: str) -> None:
    assert problem(admin.call("POST", "/api/v1/routing/rules", json=body)) == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"assign_at_stages": ["champion"]}, "assign_at_stages[0]"),
        ({"assign_at_stages": ["mql", 5]}, "assign_at_stages[1]"),
        ({"assign_at_stages": "mql"}, "assign_at_stages"),
        ({}, "assign_at_stages"),
    ],
)
def test_bad_settings_are_named_and_keep_the_stored_ones(
    admin: Admin, body: dict[str, Any], field: str
) -> None:
    admin.call("PUT", "/api/v1/routing/settings", json={"assign_at_stages": ["sql"]})
    assert problem(admin.call("PUT", "/api/v1/routing/settings", json=body)) == [field]
    assert admin.call("GET", "/api/v1/routing/settings").json() == {"assign_at_stages": ["sql"]}


def test_unknown_ids_are_not_found(admin: Admin) -> None:
    for method, path, body in [
        ("GET", f"/api/v1/owners/{UNKNOWN}", None),
        ("PATCH", f"/api/v1/owners/{UNKNOWN}", {"active": False}),
        ("DELETE", f"/api/v1/owners/{UNKNOWN}", None),
        ("GET", f"/api/v1/routing/rules/{UNKNOWN}", None),
        ("PATCH", f"/api/v1/routing/rules/{UNKNOWN}", {"name": "x"}),
        ("DELETE", f"/api/v1/routing/rules/{UNKNOWN}", None),
        ("POST", f"/api/v1/contacts/{UNKNOWN}/assign", None),
    ]:
        assert problem(admin.call(method, path, json=body), 404) == [], (method, path)
