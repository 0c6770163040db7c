"""Subscription topics through the admin API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.services.workspaces import NewWorkspace
from tests.conftest import secret

NEWS = {"channel": "email", "name": "news", "label": "Weekly news", "description": "Every Monday"}


def test_topics_are_created_listed_changed_and_deleted(client: TestClient, workspace: NewWorkspace) -> None:
    admin = secret(workspace)
    created = client.post("/api/v1/topics", headers=admin, json=NEWS)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in ("channel", "name", "label", "default_status", "double_opt_in")} == {
        "channel": "email",
        "name": "news",
        "label": "Weekly news",
        "default_status": "unsubscribed",  # opt-in unless said otherwise
        "double_opt_in": False,
    }
    sms = {"channel": "sms", "name": "news", "label": "SMS news", "default_status": "subscribed"}
    assert client.post("/api/v1/topics", headers=admin, json=sms).status_code == 201  # names are per channel
    assert client.post("/api/v1/topics", headers=admin, json=NEWS).status_code == 409
    assert [t["channel"] for t in client.get("/api/v1/topics", headers=admin).json()] == ["email", "sms"]
    assert [t["label"] for t in client.get("/api/v1/topics?channel=sms", headers=admin).json()] == [
        "SMS news"
    ]
    changed = client.put(
        "/api/v1/topics/email/news", headers=admin, json={"label": "News", "double_opt_in": True}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["label"], changed.json()["double_opt_in"], changed.json()["description"]) == (
        "News",
        True,
        None,
    )
    assert client.get("/api/v1/topics/email/news", headers=admin).json()["label"] == "News"
    assert client.delete("/api/v1/topics/email/news", headers=admin).status_code == 204
    assert client.get("/api/v1/topics/email/news", headers=admin).status_code == 404
    assert client.delete("/api/v1/topics/email/news", headers=admin).status_code == 404
    assert client.put("/api/v1/topics/email/news", headers=admin, json={"label": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEWS, "channel": "fax"}, "channel"),
        ({**NEWS, "name": "no spaces"}, "name"),
        ({**NEWS, "name": ""}, "name"),
        ({**NEWS, "label": " "}, "label"),
        ({**NEWS, "default_status": "pending"}, "default_status"),
        ({**NEWS, "default_status": "subscribed", "double_opt_in": True}, "double_opt_in"),
        ({**NEWS, "colour": "red"}, "colour"),
        ({"channel": "email", "name": "x"}, "label"),
    ],
)
def test_bad_topics_are_refused_naming_the_field(
    client: TestClient, workspace: NewWorkspace, body: dict[str, Any], field: str
) -> None:
    problem = client.post("/api/v1/topics", headers=secret(workspace), json=body)
    assert problem.status_code == 400, problem.text
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["errors"][0]["field"] == field
    assert client.get("/api/v1/topics", headers=secret(workspace)).json() == []


def test_a_change_is_checked_like_a_creation(client: TestClient, workspace: NewWorkspace) -> None:
    admin = secret(workspace)
    assert client.post("/api/v1/topics", headers=admin, json=NEWS).status_code == 201
    problem = client.put(
        "/api/v1/topics/email/news", headers=admin, json={"label": "x", "default_status": "maybe"}
    )
    assert problem.json()["errors"][0]["field"] == "default_status"
    assert client.get("/api/v1/topics?channel=fax", headers=admin).json()["errors"][0]["field"] == "channel"
