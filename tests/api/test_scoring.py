"""Scoring through the admin API: models CRUD, bad input as problems naming the field, a contact's scores
with the breakdown, history paging, manual points, rescoring and the lifecycle stage list."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin
from tests.conftest import write_auth

MODELS = "/api/v1/scoring-models"
ENGAGEMENT: dict[str, Any] = {
    "name": "Engagement",
    "rules": [
        {
            "type": "event",
            "id": "pricing",
            "points": 10,
            "name": "Viewed Pricing",
            "cap": {"max_points": 30, "days": 7},
        },
        {
            "type": "condition",
            "id": "vp",
            "points": 15,
            "condition": {
                "type": "attribute",
                "field": "attributes.title",
                "operator": {"op": "equals", "value": "VP"},
            },
        },
    ],
    "decay": {"kind": "half_life", "days": 30},
    "thresholds": [{"score": 50, "stage": "mql"}, {"score": 80, "stage": "sql"}],
}


@pytest.fixture
def models(client: TestClient, workspace: NewWorkspace) -> Admin:
    admin = Admin(client, workspace, MODELS)
    # the models' condition rules read attributes.title, which no contact has had yet
    declared = admin.call("POST", "/api/v1/catalog/attributes", json={"name": "title", "types": ["string"]})
    assert declared.status_code == 201, declared.text
    return admin


def test_rules_that_read_unknown_attributes_or_compare_wrong_types_are_refused(
    client: TestClient, workspace: NewWorkspace
) -> None:
    admin = Admin(client, workspace, MODELS)
    batch = {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"revenue": 10}}
    assert client.post("/v1/track", json=batch, auth=write_auth(workspace)).status_code == 200
    body = {
        "name": "Fit",
        "rules": [
            {
                "type": "condition",
                "id": "vp",
                "points": 10,
                "condition": {"type": "attribute", "field": "attributes.titel", "operator": {"op": "exists"}},
            },
            {
                "type": "event",
                "id": "big",
                "points": 5,
                "name": "Order Completed",
                "where": [{"property": "properties.revenue", "operator": {"op": "equals", "value": "10"}}],
            },
        ],
    }
    response = admin.call("POST", MODELS, json=body)
    assert response.status_code == 400, response.text
    assert problem_fields(response) == ["rules[0].condition.field", "rules[1].where[0].operator"]
    assert admin.all() == []


def contact(client: TestClient, workspace: NewWorkspace) -> str:
    people = Admin(client, workspace, "/api/v1/contacts")
    return str(people.create(email="ann@example.com", user_id="ann", attributes={"title": "VP"})["id"])


def problem_fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


def test_models_are_created_read_listed_replaced_and_deleted(models: Admin) -> None:
    created = models.create(**ENGAGEMENT)
    assert created["rules"][0]["frequency"] == "every"
    assert created["decay"] == {"kind": "half_life", "days": 30}
    assert models.get(created["id"]) == created
    second = models.create(**{**ENGAGEMENT, "name": "Fit", "decay": {"kind": "none"}})
    first_page = models.call("GET", MODELS, params={"limit": 1}).json()
    assert [m["id"] for m in first_page["data"]] == [created["id"]]
    assert [m["id"] for m in models.all()] == [created["id"], second["id"]]
    replaced = models.call("PUT", f"{MODELS}/{created['id']}", json={**ENGAGEMENT, "thresholds": []})
    assert replaced.status_code == 200, replaced.text
    assert models.get(created["id"])["thresholds"] == []
    assert models.call("DELETE", f"{MODELS}/{created['id']}").status_code == 204
    assert models.call("GET", f"{MODELS}/{created['id']}").status_code == 404
    assert "rules" in models.call("GET", f"{MODELS}/schema").json()["properties"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"decay": {"kind": "half_life", "days": -3}}, "decay.days"),
        ({"decay": {"kind": "half_life", "days": "30"}}, "decay.days"),
        ({"thresholds": [{"score": 50, "stage": "champion"}]}, "thresholds[0].stage"),
        (
            {"rules": [{"type": "event", "id": "p", "points": "ten", "name": "Viewed Pricing"}]},
            "rules[0].points",
        ),
        (
            {"rules": [{"type": "event", "id": "p", "points": 1, "name": "X", "cap": {"max_points": 5}}]},
            "rules[0].cap.days",
        ),
        (
            {"rules": [{"type": "event", "id": "p", "points": 1, "name": "X", "colour": "red"}]},
            "rules[0].colour",
        ),
        (
            {
                "rules": [
                    {
                        "type": "condition",
                        "id": "c",
                        "points": 1,
                        "condition": {"type": "attribute", "field": "nope", "operator": {"op": "exists"}},
                    }
                ]
            },
            "rules[0].condition.field",
        ),
        ({"rules": "all of them"}, "rules"),
        ({"name": None}, "name"),
    ],
)
def test_bad_models_get_a_problem_naming_the_field_and_nothing_changes(
    models: Admin, change: dict[str, Any], field: str
) -> None:
    kept = models.create(**ENGAGEMENT)
    assert field in problem_fields(models.call("POST", MODELS, json={**ENGAGEMENT, "name": "New", **change}))
    assert field in problem_fields(
        models.call("PUT", f"{MODELS}/{kept['id']}", json={**ENGAGEMENT, **change})
    )
    assert models.all() == [kept]


def test_a_model_body_must_be_an_object_and_names_are_unique(models: Admin) -> None:
    assert problem_fields(models.call("POST", MODELS, json=[1, 2])) == ["body"]
    models.create(**ENGAGEMENT)
    duplicate = models.call("POST", MODELS, json=ENGAGEMENT)
    assert duplicate.status_code == 409
    assert duplicate.json()["title"] == "Conflict"
    assert len(models.all()) == 1


def test_a_model_read_by_another_cannot_be_deleted(models: Admin) -> None:
    fit = models.create(**{**ENGAGEMENT, "name": "Fit"})
    reads_fit = {
        "type": "condition",
        "id": "fit",
        "points": 5,
        "condition": {"type": "score", "model": fit["id"], "operator": {"op": "greater_than", "value": 20}},
    }
    models.create(**{**ENGAGEMENT, "rules": [reads_fit]})
    assert models.call("DELETE", f"{MODELS}/{fit['id']}").status_code == 409
    self_loop = {**reads_fit, "condition": {**reads_fit["condition"], "model": fit["id"]}}
    looped = models.call(
        "PUT", f"{MODELS}/{fit['id']}", json={**ENGAGEMENT, "name": "Fit", "rules": [self_loop]}
    )
    assert problem_fields(looped) == ["rules[0].condition"]


def test_a_contacts_scores_history_and_manual_points(
    client: TestClient, workspace: NewWorkspace, models: Admin
) -> None:
    model = models.create(**ENGAGEMENT)
    contact_id = contact(client, workspace)
    scores = models.call("GET", f"/api/v1/contacts/{contact_id}/scores").json()["data"]
    assert scores == [
        {"model_id": model["id"], "model_name": "Engagement", "score": 0, "updated_at": None, "rules": []}
    ]
    url = f"/api/v1/contacts/{contact_id}/scores/{model['id']}"
    for points in (20, 15, 27):
        answer = models.call("POST", url, json={"points": points, "reason": "sales call"})
        assert answer.status_code == 200, answer.text
    assert answer.json()["score"] == 62
    assert answer.json()["rules"] == [
        {
            "rule_id": "manual",
            "times_applied": 3,
            "points": 62,
            "last_applied_at": answer.json()["updated_at"],
        }
    ]
    first = models.call("GET", f"{url}/history", params={"limit": 2}).json()
    rest = models.call("GET", f"{url}/history", params={"cursor": first["next_cursor"]}).json()
    assert [h["points"] for h in first["data"] + rest["data"]] == [27, 15, 20]
    assert rest["next_cursor"] is None
    assert {h["reason"] for h in first["data"]} == {"sales call"}
    stage = models.call("GET", f"/api/v1/contacts/{contact_id}/scores").json()["data"][0]["score"]
    assert stage == 62


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": "5", "reason": "x"}, "points"),
        ({"points": True, "reason": "x"}, "points"),
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": 5}, "reason"),
        ({"points": 5, "reason": "  "}, "reason"),
        ({"points": 5, "reason": "x", "rule": "pricing"}, "rule"),
    ],
)
def test_bad_manual_points_are_refused_naming_the_field(
    client: TestClient, workspace: NewWorkspace, models: Admin, body: dict[str, Any], field: str
) -> None:
    model = models.create(**ENGAGEMENT)
    contact_id = contact(client, workspace)
    url = f"/api/v1/contacts/{contact_id}/scores/{model['id']}"
    assert field in problem_fields(models.call("POST", url, json=body))
    assert models.call("GET", f"{url}/history").json()["data"] == []


def test_unknown_contacts_models_and_cursors_are_refused(
    client: TestClient, workspace: NewWorkspace, models: Admin
) -> None:
    model = models.create(**ENGAGEMENT)
    contact_id = contact(client, workspace)
    nobody = "01NOSUCHCONTACT0000000000A"
    assert models.call("GET", f"/api/v1/contacts/{nobody}/scores").status_code == 404
    assert (
        models.call(
            "POST", f"/api/v1/contacts/{contact_id}/scores/{nobody}", json={"points": 1, "reason": "x"}
        ).status_code
        == 404
    )
    history = models.call(
        "GET", f"/api/v1/contacts/{contact_id}/scores/{model['id']}/history", params={"cursor": "bogus"}
    )
    assert problem_fields(history) == ["cursor"]


def test_rescore_scores_stored_events_and_conditions(
    client: TestClient, workspace: NewWorkspace, models: Admin
) -> None:
    contact_id = contact(client, workspace)
    track = {"type": "track", "userId": "ann", "event": "Viewed Pricing"}
    for _ in range(4):
        assert client.post("/v1/track", auth=write_auth(workspace), json=track).status_code == 200
    model = models.create(**ENGAGEMENT)
    answer = models.call("POST", f"{MODELS}/{model['id']}/rescore")
    assert answer.json() == {"contacts": 1, "changed": 1}
    [score] = models.call("GET", f"/api/v1/contacts/{contact_id}/scores").json()["data"]
    assert score["score"] == 45  # 30 (capped) for pricing + 15 for the title
    assert {r["rule_id"]: r["times_applied"] for r in score["rules"]} == {"pricing": 3, "vp": 1}
    people = Admin(client, workspace, "/api/v1/contacts")
    assert people.get(contact_id)["id"] == contact_id


def test_lifecycle_stages_are_read_and_set_with_validation(
    client: TestClient, workspace: NewWorkspace
) -> None:
    admin = Admin(client, workspace, "/api/v1/lifecycle-stages")
    url = "/api/v1/lifecycle-stages"
    assert admin.call("GET", url).json()["stages"][:3] == ["subscriber", "lead", "mql"]
    new = ["visitor", "lead", "customer"]
    assert admin.call("PUT", url, json={"stages": new}).json() == {"stages": new}
    assert problem_fields(admin.call("PUT", url, json={"stages": ["a", "b", "a"]})) == ["stages[2]"]
    assert problem_fields(admin.call("PUT", url, json={"stages": []})) == ["stages"]
    assert problem_fields(admin.call("PUT", url, json={"stages": "a,b"})) == ["stages"]
    assert problem_fields(admin.call("PUT", url, json={"stages": ["a", 3]})) == ["stages[1]"]
    assert problem_fields(admin.call("PUT", url, json={"stages": ["a"], "extra": 1})) == ["extra"]
    assert admin.call("GET", url).json() == {"stages": new}
