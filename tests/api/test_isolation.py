"""Workspace isolation: the keys of one workspace can never read or change anything of another.

The route walk covers every route of the app, so a route added later is exercised (or the walk fails
and says what it needs) without anyone remembering to extend this file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.messages.links import Links, derive_key
from nurture.domain.tracking import MessageType
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import api_keys, metadata, workspaces
from tests.conftest import PUBLIC_URL, secret, write_auth

# Routes a recipient reaches from a message: no credentials, the signed token in the path is the key.
SIGNED = {
    ("GET", "/t/c/{token}"),
    ("GET", "/t/o/{token}.gif"),
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    ("GET", "/p/{token}"),
    ("POST", "/p/{token}"),
    ("GET", "/c/{token}"),
    ("POST", "/c/{token}"),
}
# Routes that hold no workspace data and answer anyone.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("OPTIONS", "/v1/{path:path}"),  # CORS preflight
}
# analytics.js settings: the write key is the path itself and the answer holds only that key.
KEY_IN_PATH = {("GET", "/v1/projects/{write_key}/settings")}
# Provider callbacks: the path's token (SMS: workspace id and secret; delivery reports: the workspace's
# secret path) and the provider's signature authenticate them, not a key (tests/api/test_sms.py and
# tests/api/test_deliveries.py show one workspace's token never reaches another's data).
TOKEN_IN_PATH = {
    ("POST", "/api/v1/sms/inbound/{token}"),
    ("POST", "/api/v1/sms/status/{token}"),
    ("POST", "/api/v1/delivery-reports/{provider}/{token}"),
}
SHORT_TYPES = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}
PEOPLE = 24


def routes(client: TestClient) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, included routers flattened."""
    found = {
        (method, context.path)
        for context in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if context.path is not None
        for method in (context.methods or ())
        if method != "HEAD"
    }
    assert ("GET", "/api/v1/contacts/{contact_id}") in found, "the walk must see the included routers"
    return found


@dataclass
class Acme:
    """Workspace A and what it holds; `spare` hands out identities of A's people one at a time."""

    workspace: NewWorkspace
    contacts: list[str]
    merged_away: str
    accounts: list[str]
    lists: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    journeys: list[str] = field(default_factory=list)
    messaging: dict[str, str] = field(default_factory=dict)  # template, layout, snippet ids
    hooks: dict[str, str] = field(default_factory=dict)  # webhook endpoint and delivery ids, SMS token
    people: Iterator[int] = field(default_factory=lambda: itertools.cycle(range(1, PEOPLE)))

    def ids(self) -> list[str]:
        return [
            *self.contacts,
            self.merged_away,
            *self.accounts,
            *self.lists,
            *self.owners,
            *self.rules,
            *self.models,
            *self.messaging.values(),
            *self.segments,
            *self.journeys,
            self.hooks["endpoint"],
            self.hooks["delivery"],
        ]


def person(n: int) -> dict[str, str]:
    return {
        "user": f"acme-user-{n}",
        "anon": f"acme-device-{n}",
        "email": f"person{n}@acme.example.com",
        "group": f"acme-team-{n}",
    }


@pytest.fixture
def acme(
    container: Container, client: TestClient, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> Acme:
    """A's data, sent through A's write key: people with events and accounts, and one merged-away id."""
    batch: list[dict[str, Any]] = [
        {"type": "track", "anonymousId": "acme-visitor", "event": "Viewed Pricing"}
    ]
    for n in range(PEOPLE):
        p = person(n)
        batch += [
            {
                "type": "identify",
                "userId": p["user"],
                "anonymousId": p["anon"],
                "traits": {"email": p["email"], "plan": "acme"},
            },
            {"type": "track", "userId": p["user"], "event": "Signed Up"},
            {"type": "group", "userId": p["user"], "groupId": p["group"], "traits": {"name": f"Acme {n}"}},
        ]
    assert client.post("/v1/batch", auth=write_auth(workspace), json={"batch": batch[:1]}).status_code == 200
    admin = secret(workspace)
    [visitor] = client.get("/api/v1/contacts", headers=admin).json()["data"]
    response = client.post("/v1/batch", auth=write_auth(workspace), json={"batch": batch[1:]})
    assert response.status_code == 200, response.text
    merge = {"type": "identify", "userId": "acme-user-0", "anonymousId": "acme-visitor"}
    assert client.post("/v1/identify", auth=write_auth(workspace), json=merge).status_code == 200
    contacts = [c["id"] for c in client.get("/api/v1/contacts?limit=500", headers=admin).json()["data"]]
    accounts = [a["id"] for a in client.get("/api/v1/accounts?limit=500", headers=admin).json()["data"]]
    assert len(contacts) == len(accounts) == PEOPLE
    assert visitor["id"] not in contacts
    # B holds data of its own, so its listings are not empty by accident.
    mine = {"type": "identify", "userId": "globex-user", "traits": {"email": "bob@globex.example.com"}}
    assert client.post("/v1/identify", auth=write_auth(other_workspace), json=mine).status_code == 200
    model = client.post("/api/v1/scoring-models", headers=admin, json=SCORING_MODEL)
    assert model.status_code == 201, model.text
    points = {"points": 60, "reason": "trade fair"}
    scores = f"/api/v1/contacts/{contacts[0]}/scores/{model.json()['id']}"
    scored = client.post(scores, headers=admin, json=points)
    assert scored.status_code == 200, scored.text
    segments = []
    for name, condition in (
        ("Signed up", {"type": "event", "name": "Signed Up"}),
        (
            "Acme plan",
            {"type": "attribute", "field": "attributes.plan", "operator": {"op": "equals", "value": "acme"}},
        ),
    ):
        response = client.post("/api/v1/segments", headers=admin, json={"name": name, "condition": condition})
        assert response.status_code == 201, response.text
        segments.append(response.json()["id"])
    acme = Acme(
        workspace,
        contacts,
        visitor["id"],
        accounts,
        models=[model.json()["id"]],
        messaging=messaging(client, admin),
        segments=segments,
    )
    acme = _with_audiences(client, acme)
    acme.hooks = _hooks(client, admin)
    container.audience.run_once()  # memberships, activities and timers of A exist too
    container.dispatcher.run_once()  # and A's message was sent (captured), with its events
    assert client.get(f"/api/v1/segments/{segments[0]}", headers=admin).json()["member_count"] == PEOPLE
    return acme


def _with_audiences(client: TestClient, acme: Acme) -> Acme:
    """A's lists, tags, subscriptions, owners and routing rules, made through A's secret key."""
    admin = secret(acme.workspace)

    def post(path: str, body: dict[str, Any]) -> Any:
        response = client.post(path, headers=admin, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    acme.lists = [post("/api/v1/lists", {"name": f"Acme list {n}"})["id"] for n in range(2)]
    post(f"/api/v1/lists/{acme.lists[0]}/members", {"contacts": [{"id": c} for c in acme.contacts[:3]]})
    acme.owners = [
        post("/api/v1/owners", {"name": f"Rep {n}", "email": f"rep{n}@acme.example.com"})["id"]
        for n in range(2)
    ]
    rule = {"name": "Acme rotation", "definition": {"kind": "round_robin", "owner_ids": acme.owners}}
    acme.rules = [post("/api/v1/routing/rules", rule)["id"]]
    acme.journeys = [post("/api/v1/journeys", JOURNEY)["journey"]["id"]]
    assert (
        client.post(
            f"/api/v1/journeys/{acme.journeys[0]}/enrollments",
            headers=admin,
            json={"contact_ids": acme.contacts[:1]},
        ).status_code
        == 202
    )
    for contact_id in acme.contacts[:2]:
        assert client.put(f"/api/v1/contacts/{contact_id}/tags/vip", headers=admin).status_code == 200
        subscribed = {"channel": "email", "status": "subscribed"}
        assert (
            client.put(
                f"/api/v1/contacts/{contact_id}/subscriptions", headers=admin, json=subscribed
            ).status_code
            == 200
        )
        assert (
            client.post(f"/api/v1/contacts/{contact_id}/assign", headers=admin).json()["owner_id"]
            in acme.owners
        )
    # a double opt-in topic and a subscribe: a consent record, an outbox row, the confirmation template
    post("/api/v1/topics", {**TOPIC_BODY, "double_opt_in": True})
    subscribe = {"topic": TOPIC_BODY["name"], "consent_text": "Yes please", "ip": "192.0.2.1"}
    assert post(f"/api/v1/contacts/{acme.contacts[0]}/subscriptions", subscribe)["status"] == "pending"
    return acme


def _hooks(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """A's webhook endpoint with one delivery in its log, and A's SMS settings (callback token)."""
    endpoint = client.post(
        "/api/v1/webhooks/endpoints",
        headers=admin,
        json={"url": "https://acme.example.com/hooks", "event_types": ["*"]},
    )
    assert endpoint.status_code == 201, endpoint.text
    delivery = client.post(f"/api/v1/webhooks/endpoints/{endpoint.json()['id']}/test", headers=admin)
    assert delivery.status_code == 202, delivery.text
    sms = client.put(
        "/api/v1/sms/settings", headers=admin, json={"account_sid": "ACacme", "auth_token": "acme"}
    )
    assert sms.status_code == 200, sms.text
    return {
        "endpoint": endpoint.json()["id"],
        "delivery": delivery.json()["id"],
        "sms_token": sms.json()["inbound_url"].rsplit("/", 1)[1],
    }


def messaging(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """A's snippet, layout and template (two versions), sender, settings and a message sent."""
    made = {}
    for kind, body in (
        ("snippet", {"name": "footer", "body": "<p>Acme footer {{ workspace.postal_address }}</p>"}),
        ("layout", {"name": "Acme brand", "body": "<html><body>{{ content }}</body></html>"}),
        ("template", {"name": "Acme welcome", "subject": "Hi", "html": "{% render 'footer' %}"}),
    ):
        response = client.post(f"/api/v1/{kind}s", headers=admin, json=body)
        assert response.status_code == 201, response.text
        made[kind] = response.json()["id"]
    body = {**TEMPLATE_BODY, "layout_id": made["layout"]}
    assert client.put(f"/api/v1/templates/{made['template']}", headers=admin, json=body).status_code == 200
    response = client.post("/api/v1/senders", headers=admin, json=CHANGE_BODIES["senders"])
    assert response.status_code == 201, response.text
    made["sender"] = response.json()["id"]
    settings = {"postal_address": "Acme, 1 Main St", "frequency_cap": {"max_messages": 5, "window_hours": 24}}
    assert client.put("/api/v1/messaging/settings", headers=admin, json=settings).status_code == 200
    send = {"contact": {"email": "person1@acme.example.com"}, "template_id": made["template"]}
    response = client.post("/api/v1/messages", headers={**admin, "Idempotency-Key": "acme-1"}, json=send)
    assert response.status_code == 202, response.text
    made["message"] = response.json()["id"]
    return made


def snapshot(container: Container, workspace_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the workspace, in every table, as plain tuples."""
    out = {}
    with container.db.read() as conn:
        for table in metadata.sorted_tables:
            column = table.c.get("workspace_id")
            if table is workspaces:
                column = table.c.id
            if column is None:
                continue
            rows = conn.execute(select(table).where(column == workspace_id)).all()
            out[table.name] = sorted((tuple(str(v) for v in row) for row in rows), key=str)
    assert out[api_keys.name], "the snapshot must see the workspace's keys"
    return out


# How each kind of route is called by the intruder.


def tracking_body(path: str, acme: Acme) -> dict[str, Any]:
    """A valid message for a tracking route, naming identities that belong to A."""
    p = person(next(acme.people))
    kind = SHORT_TYPES.get(path.rsplit("/", 1)[-1], path.rsplit("/", 1)[-1])
    messages: dict[str, dict[str, Any]] = {
        "identify": {
            "userId": p["user"],
            "anonymousId": p["anon"],
            "traits": {"email": p["email"], "plan": "intruder"},
        },
        "track": {"userId": p["user"], "anonymousId": p["anon"], "event": "Intruded"},
        "page": {"userId": p["user"], "name": "Intruded"},
        "screen": {"anonymousId": p["anon"], "name": "Intruded"},
        "group": {"userId": p["user"], "groupId": p["group"], "traits": {"name": "Intruder Inc"}},
        "alias": {"previousId": p["anon"], "userId": p["user"]},
    }
    if kind == "batch":
        return {
            "batch": [{"type": "identify", **messages["identify"]}, {"type": "track", **messages["track"]}]
        }
    if kind not in {t.value for t in MessageType}:
        pytest.fail(f"tracking route {path}: unknown message type; teach the isolation walk how to call it")
    return messages[kind]


def create_call(path: str, acme: Acme) -> dict[str, Any]:
    """A request for a collection route that creates, using identifiers that A already has."""
    p = person(next(acme.people))
    if path == "/api/v1/contacts":
        return {"json": {"email": p["email"], "user_id": p["user"], "first_name": "Mallory"}}
    if path == "/api/v1/accounts":
        return {"json": {"group_id": p["group"], "name": "Mallory Inc"}}
    if path == "/api/v1/scoring-models":
        return {"json": {**SCORING_MODEL, "name": f"Mallory {p['user']}"}}
    if path == "/api/v1/lifecycle-stages":
        return {"json": {"stages": ["mark", "lead", "mql", "sql"]}}
    if path == "/api/v1/segments":
        return {"json": {"name": "Signed up", "condition": {"type": "event", "name": "Signed Up"}}}
    if path == "/api/v1/segments/preview":
        return {"json": {"condition": {"type": "event", "name": "Signed Up"}}}
    if path == "/api/v1/imports/contacts":
        return {
            "content": f"email,user_id,first_name\n{p['email']},{p['user']},Mallory\n".encode(),
            "headers": {"content-type": "text/csv"},
        }
    if path in ("/api/v1/templates", "/api/v1/layouts", "/api/v1/snippets"):
        # the same names as A's: names are per workspace
        return {"json": CHANGE_BODIES[path.rsplit("/", 1)[-1]]}
    if path == "/api/v1/templates/{template_id}/preview":
        return {"json": {}}
    if path == "/api/v1/messages":
        send = {"contact": {"email": p["email"]}, "template_id": acme.messaging["template"]}
        return {"json": send, "headers": {"Idempotency-Key": "acme-1"}}
    if path == "/api/v1/catalog/attributes":
        return {"json": {"name": "plan", "types": ["string", "number"]}}
    if path == "/api/v1/bounces/inbound":
        return {"content": INBOUND_DSN, "headers": {"content-type": "message/rfc822"}}
    if path in COLLECTION_BODIES:
        return {"json": COLLECTION_BODIES[path]}
    if path in ITEM_BODIES:
        return {"json": ITEM_BODIES[path]}
    pytest.fail(f"POST {path}: teach the isolation walk a valid body for this route")


JOURNEY: dict[str, Any] = {
    "name": "Acme onboarding",
    "trigger": {"type": "manual"},
    "nodes": [{"id": "tag", "type": "update_contact", "add_tags": ["onboarded"]}],
}
# Bodies for creating routes (and the settings PUT), sent by the intruder into its own workspace.
COLLECTION_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/lists": {"name": "Acme list 0"},
    "/api/v1/owners": {"name": "Mallory", "email": "rep0@acme.example.com"},
    "/api/v1/routing/rules": {
        "name": "Acme rotation",
        "definition": {"kind": "territory", "attribute": "region"},
    },
    "/api/v1/routing/settings": {"assign_at_stages": ["sql"]},
    "/api/v1/journeys": JOURNEY,  # the same name as A's: names are per workspace
    "/api/v1/journeys/validate": JOURNEY,
    "/api/v1/journeys/preview": {"document": JOURNEY},
    "/api/v1/journeys/publish": {"document": JOURNEY},
    # replays the caller's own workspace history: nothing of A's may show
    "/api/v1/journeys/simulate": {"document": JOURNEY, "since": "2000-01-01T00:00:00Z"},
    "/api/v1/webhooks/endpoints": {"url": "https://acme.example.com/hooks", "event_types": ["contact.*"]},
    "/api/v1/sms/settings": {"account_sid": "ACacme", "from_number": "+14155550100"},
    "/api/v1/alerts": {"title": "Mallory", "slack_webhook_urls": ["https://acme.example.com/hooks"]},
    "/api/v1/messaging/settings": {"postal_address": "Mallory, 2 Side St"},
    "/api/v1/senders": {"name": "Acme", "from_name": "Mallory", "from_email": "news@acme.example.com"},
    "/api/v1/topics": {"channel": "email", "name": "globex-news", "label": "Globex news"},
    "/api/v1/delivery-reports": {"provider": "mailgun", "signing_key": "key-0123456789abcdef"},
}
INBOUND_DSN = (
    b"From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
    b"Final-Recipient: rfc822; person0@acme.example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
    b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    b"Message-ID: <abcdefghijklmnopqrstuvwxyz@acme.example.com>\r\n\r\n--B--\r\n"
)
# Valid bodies for item routes that take one, so the intruder's call reaches the workspace check.
ITEM_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/lists/{list_id}/members": {"contacts": [{"email": "person0@acme.example.com"}]},
    "/api/v1/lists/{list_id}/members/remove": {"contacts": [{"user_id": "acme-user-0"}]},
    "/api/v1/contacts/{contact_id}/subscriptions": {"channel": "email", "status": "unsubscribed"},
    "/api/v1/owners/{owner_id}": {"name": "Mallory", "email": "mallory@globex.example.com", "active": False},
    "/api/v1/routing/rules/{rule_id}": {"name": "Mallory"},
    "/api/v1/contacts/{contact_id}/assign": {},
    "/api/v1/contacts/{contact_id}/scores/{model_id}": {"points": 5, "reason": "intruder"},
    "/api/v1/scoring-models/{model_id}/rescore": {},
    "/api/v1/journeys/{journey}/status": {"status": "archived"},
    "/api/v1/journeys/{journey}/enrollments": {"contact_ids": ["anyone"]},
    "/api/v1/templates/{template_id}/test-send": {"to": "mallory@globex.example.com"},
}
# Bodies for routes whose path another method shares with a different body.
METHOD_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/contacts/{contact_id}/subscriptions"): {
        "topic": "acme-news",
        "consent_text": "Mallory",
    },
}
TOPIC_BODY = {"channel": "email", "name": "acme-news", "label": "Acme news"}


def path_values(path: str, acme: Acme) -> list[str]:
    """`path` with its parameters filled by each of A's ids that fit."""
    values = {
        "contact_id": [*acme.contacts[:2], acme.merged_away],
        "account_id": acme.accounts[:2],
        "list_id": acme.lists,
        "owner_id": acme.owners,
        "rule_id": acme.rules,
        "tag": ["vip"],
        "model_id": acme.models,
        "template_id": [acme.messaging["template"]],
        "sender_id": [acme.messaging["sender"]],
        "message_id": [acme.messaging["message"]],
        "layout_id": [acme.messaging["layout"]],
        "snippet_id": [acme.messaging["snippet"]],
        "version": ["1", "2"],
        "segment_id": acme.segments,
        "journey": acme.journeys,
        "endpoint_id": [acme.hooks["endpoint"]],
        "delivery_id": [acme.hooks["delivery"]],
        "channel": ["email"],
        "name": [TOPIC_BODY["name"]],
        "provider": ["mailgun"],
    }
    paths = [path]
    for name in re.findall(r"{(\w+)}", path):
        if name not in values:
            pytest.fail(f"{path}: no id of workspace A for {{{name}}}; add one to the isolation walk")
        paths = [p.replace(f"{{{name}}}", v) for p in paths for v in values[name]]
    return paths


SCORING_MODEL: dict[str, Any] = {
    "name": "Engagement",
    "rules": [{"type": "event", "id": "signup", "points": 10, "name": "Signed Up"}],
    "thresholds": [{"score": 50, "stage": "mql"}],
}
TEMPLATE_BODY = {
    "name": "Acme welcome",
    "subject": "Hi {{ contact.first_name }}",
    "html": "<p>Hi</p>{{ workspace.postal_address }}",
}
CHANGE_BODIES: dict[str, dict[str, Any]] = {
    "contacts": {"first_name": "Mallory", "attributes": {"owned": True}},
    "accounts": {"name": "Mallory"},
    "lists": {"name": "Mallory"},
    "scoring-models": {**SCORING_MODEL, "name": "Mallory"},
    "templates": TEMPLATE_BODY,
    "layouts": {"name": "Acme brand", "body": "<p>Mallory {{ content }}</p>"},
    "snippets": {"name": "footer", "body": "Mallory"},
    "segments": {"name": "Mallory", "condition": {"type": "event", "name": "Intruded"}},
    "webhooks": {"description": "Mallory", "enabled": False},
    "senders": {"name": "Acme", "from_name": "Acme", "from_email": "news@acme.example.com"},
    "topics": {"label": "Mallory"},
}
LIST_FILTERS = {
    "/api/v1/contacts": [
        {},
        {"email": "person0@acme.example.com"},
        {"user_id": "acme-user-0"},
        {"q": "acme"},
        {"attributes.plan": "acme"},
        {"tag": "vip"},
    ],
    "/api/v1/accounts": [{}, {"group_id": "acme-team-0"}, {"q": "acme"}],
    "/api/v1/activities": [{}, {"kind": "list_added"}, {"kind": "owner_assigned,tag_added"}],
    "/api/v1/owners": [{}, {"active": "true"}],
    "/api/v1/segments": [{}, {"status": "active"}],
    "/api/v1/messages": [{}, {"status": "sent"}],
}


def forged_tokens(path: str, acme: Acme) -> list[str]:
    """Tokens naming A's workspace, contact and outbox row, signed with a key that is not the server's."""
    links = Links(PUBLIC_URL, derive_key("an intruder's guess"))
    url = {
        "/t/c/": links.click_url(acme.workspace.id, "send", 0, "https://evil.example.com/"),
        "/t/o/": links.open_url(acme.workspace.id, "send").removesuffix(".gif"),
        "/u/": links.unsubscribe_url(acme.workspace.id, "send", acme.contacts[0]),
        "/p/": links.preferences_url(acme.workspace.id, acme.contacts[0]),
        "/c/": links.confirm_url(acme.workspace.id, "send"),
    }[path.removesuffix("{token}.gif").removesuffix("{token}")]
    token = url.rsplit("/", 1)[1]
    return [token, token[:-1], f"{acme.workspace.id}.{acme.contacts[0]}"]


def leaked(response: Any, acme: Acme) -> list[str]:
    """A's ids in the answer, other than those the request itself named (a 404 may echo them)."""
    asked = str(response.request.url)
    return [i for i in acme.ids() if i in response.text and i not in asked]


def test_another_workspaces_keys_reach_nothing_of_workspace_a_on_any_route(
    container: Container, client: TestClient, acme: Acme, other_workspace: NewWorkspace
) -> None:
    before = snapshot(container, acme.workspace.id)
    intruder = secret(other_workspace)
    exercised: set[tuple[str, str]] = set()

    for method, path in sorted(routes(client)):
        if (method, path) in PUBLIC:
            continue
        exercised.add((method, path))
        if (method, path) in SIGNED:
            for token in forged_tokens(path, acme):
                target = path.replace("{token}", token)
                response = client.request(
                    method, target, data={"List-Unsubscribe": "One-Click", "scope": "all"}
                )
                assert response.status_code == 404, (method, target, response.text)
                assert leaked(response, acme) == []
        elif (method, path) in KEY_IN_PATH:
            mine = client.get(path.replace("{write_key}", other_workspace.write_key))
            assert mine.status_code == 200
            assert acme.workspace.write_key not in mine.text
            for key in (acme.workspace.secret_key, other_workspace.secret_key):
                assert client.get(path.replace("{write_key}", key)).status_code == 404
        elif (method, path) in TOKEN_IN_PATH and "{provider}" in path:
            continue  # a secret path of the workspace's own: tests/api/test_deliveries.py
        elif (method, path) in TOKEN_IN_PATH:
            _, secret_part = acme.hooks["sms_token"].split(".")
            mine = client.put("/api/v1/sms/settings", headers=intruder, json={}).json()["inbound_url"]
            for token in (
                f"{other_workspace.id}.{secret_part}",
                f"{acme.workspace.id}.{mine.rsplit('.', 1)[1]}",
            ):
                form = {"From": "+14155550101", "Body": "STOP", "MessageStatus": "delivered"}
                response = client.post(path.replace("{token}", token), headers=intruder, data=form)
                assert response.status_code == 404, (path, token, response.text)
        elif path.startswith("/v1/"):
            body = tracking_body(path, acme)
            response = client.request(method, path, auth=write_auth(other_workspace), json=body)
            assert response.status_code == 200, (path, response.text)
        elif "{" in path:
            section = path.split("/")[3]
            for target in path_values(path, acme):
                change = CHANGE_BODIES.get(section, {}) if method in ("PUT", "PATCH") else None
                change = METHOD_BODIES.get((method, path), ITEM_BODIES.get(path, change))
                response = client.request(method, target, headers=intruder, json=change)
                assert response.status_code == 404, (method, target, response.text)
                assert leaked(response, acme) == []
        elif method == "GET":
            for params in LIST_FILTERS.get(path, [{}]):
                response = client.get(path, headers=intruder, params=params)
                assert response.status_code == 200, (path, params, response.text)
                assert leaked(response, acme) == [], (path, params)
        elif path == "/api/v1/messages":
            # A's contact by email (B gets a contact of its own) with A's template: not B's to send
            call = create_call(path, acme)
            call["headers"] = {**call.get("headers", {}), **intruder}
            response = client.request(method, path, **call)
            assert response.status_code == 400, response.text
            assert [e["field"] for e in response.json()["errors"]] == ["template_id"]
            assert leaked(response, acme) == [acme.messaging["template"]]  # the id it sent, echoed
        else:
            call = create_call(path, acme)
            call["headers"] = {**call.get("headers", {}), **intruder}
            response = client.request(method, path, **call)
            assert response.status_code in (200, 201, 202), (method, path, response.text)
            assert leaked(response, acme) == []
            if path == "/api/v1/imports/contacts":
                assert (response.json()["created"], response.json()["updated"]) == (1, 0)

    assert exercised | PUBLIC == routes(client)
    assert snapshot(container, acme.workspace.id) == before, "workspace A changed"
    seen_by_b = client.get("/api/v1/contacts?limit=500", headers=intruder).json()["data"]
    assert {c["id"] for c in seen_by_b}.isdisjoint(acme.ids())
    assert "bob@globex.example.com" in {c["email"] for c in seen_by_b}


def test_without_credentials_or_with_the_wrong_kind_of_key_every_private_route_answers_401(
    container: Container, client: TestClient, acme: Acme
) -> None:
    before = snapshot(container, acme.workspace.id)
    a = acme.workspace
    attempts: dict[str, dict[str, Any]] = {
        "no credentials": {},
        "write key as bearer": {"headers": {"Authorization": f"Bearer {a.write_key}"}},
        "write key as basic": {"auth": (a.write_key, "")},
        "secret key as basic": {"auth": (a.secret_key, "")},
        "unknown key": {"headers": {"Authorization": "Bearer ns_not-a-key"}},
        "malformed header": {"headers": {"Authorization": "Basic %%%"}},
    }
    for method, path in sorted(routes(client) - PUBLIC - KEY_IN_PATH - TOKEN_IN_PATH - SIGNED):
        tracking = path.startswith("/v1/")
        for how, credentials in attempts.items():
            if (not tracking and how == "secret key as basic") or (tracking and how == "write key as basic"):
                continue  # that is the right key for this route
            url = path
            if tracking:
                kwargs: dict[str, Any] = {"json": tracking_body(path, acme)}
            elif method == "POST" and "{" not in path:
                kwargs = create_call(path, acme)
            else:
                url = path_values(path, acme)[0]
                section = path.split("/")[3]
                kwargs = {"json": CHANGE_BODIES.get(section, {})} if method in ("PUT", "PATCH") else {}
            kwargs["headers"] = {**kwargs.get("headers", {}), **credentials.get("headers", {})}
            response = client.request(method, url, auth=credentials.get("auth"), **kwargs)
            assert response.status_code == 401, (how, method, url, response.text)
            assert leaked(response, acme) == []
            acme.people = iter(range(1, PEOPLE))
    assert snapshot(container, a.id) == before


def test_a_secret_key_given_as_the_body_write_key_cannot_ingest(
    container: Container, client: TestClient, acme: Acme
) -> None:
    before = snapshot(container, acme.workspace.id)
    body = {
        "writeKey": acme.workspace.secret_key,
        "batch": [{"type": "track", "userId": "x", "event": "Sneaky"}],
    }
    assert client.post("/v1/batch", json=body).status_code == 401
    assert snapshot(container, acme.workspace.id) == before


def test_a_write_key_puts_data_only_in_its_own_workspace(
    container: Container, client: TestClient, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    for ws in (workspace, other_workspace):
        sent = client.post(
            "/v1/identify",
            auth=write_auth(ws),
            json={
                "userId": "u1",
                "messageId": "same-id",
                "traits": {"email": "ann@example.com", "firstName": ws.name},
            },
        )
        assert sent.status_code == 200, sent.text
    before_b = snapshot(container, other_workspace.id)

    sent = client.post(
        "/v1/batch",
        auth=write_auth(workspace),
        json={
            "batch": [
                {"type": "track", "userId": "u1", "event": "Bought"},
                {"type": "group", "userId": "u1", "groupId": "g1"},
            ]
        },
    )
    assert sent.status_code == 200, sent.text

    assert snapshot(container, other_workspace.id) == before_b
    for ws, events, accounts in ((workspace, 3, 1), (other_workspace, 1, 0)):
        [contact] = client.get("/api/v1/contacts", headers=secret(ws)).json()["data"]
        assert contact["first_name"] == ws.name
        assert (
            len(client.get(f"/api/v1/contacts/{contact['id']}/events", headers=secret(ws)).json()["data"])
            == events
        )
        assert len(client.get("/api/v1/accounts", headers=secret(ws)).json()["data"]) == accounts
