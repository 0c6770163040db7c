"""The Segment-compatible tracking API through HTTP: what each route stores, analytics.js routes and CORS,
gzip, limits, authentication, messageId dedupe and Segment's timestamp rules.

What was stored is read back through the admin API with the secret key, and counted through a new
database connection (a 2xx promises the events are committed)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from nurture.bootstrap import Container
from nurture.domain.keys import KeyKind
from nurture.services.clock import ManualClock
from nurture.services.workspaces import NewWorkspace
from nurture.store.db import normalize_url
from tests.conftest import START, secret, write_auth

H = timedelta(hours=1)
S = timedelta(seconds=1)
PROBLEM = "application/problem+json"

Counter = Callable[[NewWorkspace], dict[str, int]]


@pytest.fixture
def stored(database_url: str) -> Iterator[Counter]:
    """Counts a workspace's events and contacts through a fresh connection, not the app's pool."""
    engine = create_engine(normalize_url(database_url), poolclass=NullPool)

    def count(workspace: NewWorkspace) -> dict[str, int]:
        with engine.connect() as conn:
            return {
                table: conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE workspace_id = :w"),
                    {"w": workspace.id},
                ).scalar_one()
                for table in ("events", "contacts")
            }

    yield count
    engine.dispose()


def send(client: TestClient, workspace: NewWorkspace, path: str, body: Any) -> httpx.Response:
    response = client.post(path, json=body, auth=write_auth(workspace))
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    return response


def contacts(client: TestClient, workspace: NewWorkspace, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/contacts", params=params, headers=secret(workspace))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def the_contact(client: TestClient, workspace: NewWorkspace, **params: str) -> dict[str, Any]:
    found = contacts(client, workspace, **params)
    assert len(found) == 1, found
    return found[0]


def events(client: TestClient, workspace: NewWorkspace, contact_id: str) -> list[dict[str, Any]]:
    """The contact's events, newest first."""
    response = client.get(f"/api/v1/contacts/{contact_id}/events", headers=secret(workspace))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def events_of_user(client: TestClient, workspace: NewWorkspace, user_id: str) -> list[dict[str, Any]]:
    return events(client, workspace, the_contact(client, workspace, user_id=user_id)["id"])


def at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def assert_problem(response: httpx.Response, status: int, fields: list[str] | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    # Segment's and RudderStack's libraries read these two; rudder-sdk-python breaks without `code`.
    assert body["code"]
    assert body["message"] == body["detail"]
    if fields is not None:
        assert [error["field"] for error in body["errors"]] == fields, body
        assert all(error["message"] for error in body["errors"])
    return body


def track(user_id: str = "u1", event: str = "Signed Up", **extra: Any) -> dict[str, Any]:
    return {"userId": user_id, "event": event, **extra}


def typed(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


# --- server routes: each stores what it should ---------------------------------------------------------

CONTEXT = {"ip": "203.0.113.9", "library": {"name": "test", "version": "1"}}

ROUTES = [
    pytest.param(
        "/v1/identify",
        {"traits": {"email": "Ada@Example.com", "firstName": "Ada", "plan": "pro"}},
        ("identify", None, {"email": "Ada@Example.com", "firstName": "Ada", "plan": "pro"}),
        id="identify",
    ),
    pytest.param(
        "/v1/track",
        {"event": "Order Completed", "properties": {"total": 42.5, "items": ["a", "b"]}},
        ("track", "Order Completed", {"total": 42.5, "items": ["a", "b"]}),
        id="track",
    ),
    pytest.param(
        "/v1/page",
        {"name": "Pricing", "properties": {"path": "/pricing"}},
        ("page", "Pricing", {"path": "/pricing"}),
        id="page",
    ),
    pytest.param(
        "/v1/screen",
        {"name": "Home", "properties": {"variant": "b"}},
        ("screen", "Home", {"variant": "b"}),
        id="screen",
    ),
    pytest.param(
        "/v1/group",
        {"groupId": "acme-inc", "traits": {"name": "Acme Inc", "employees": 40}},
        ("group", "acme-inc", {"name": "Acme Inc", "employees": 40}),
        id="group",
    ),
    pytest.param("/v1/alias", {"previousId": "anon-1"}, ("alias", "anon-1", {}), id="alias"),
]


@pytest.mark.parametrize(("path", "fields", "expected"), ROUTES)
def test_each_route_stores_its_event(
    client: TestClient,
    workspace: NewWorkspace,
    stored: Counter,
    path: str,
    fields: dict[str, Any],
    expected: tuple[str, str | None, dict[str, Any]],
) -> None:
    body = {"userId": "u1", "messageId": "m-1", "context": CONTEXT, **fields}
    send(client, workspace, path, body)

    assert stored(workspace) == {"events": 1, "contacts": 1}
    [event] = events_of_user(client, workspace, "u1")
    kind, name, properties = expected
    assert (event["type"], event["name"], event["properties"]) == (kind, name, properties)
    assert (event["message_id"], event["user_id"], event["context"]) == ("m-1", "u1", CONTEXT)
    assert at(event["timestamp"]) == START
    assert at(event["received_at"]) == START


def test_identify_sets_the_profile(client: TestClient, workspace: NewWorkspace) -> None:
    send(
        client,
        workspace,
        "/v1/identify",
        {
            "userId": "u1",
            "anonymousId": "anon-1",
            "traits": {
                "email": " Ada@Example.COM ",
                "firstName": "Ada",
                "last_name": "Lovelace",
                "phone": "+44 20 7946 0958",
                "plan": "pro",
                "seats": 3,
            },
            "context": {"timezone": "Europe/London", "locale": "en-gb"},
        },
    )
    contact = the_contact(client, workspace, user_id="u1")
    assert contact["email"] == "ada@example.com"
    assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")
    assert contact["phone"] == "+442079460958"
    assert (contact["timezone"], contact["locale"]) == ("Europe/London", "en-GB")
    assert contact["attributes"] == {"plan": "pro", "seats": 3}
    assert contact["anonymous_ids"] == ["anon-1"]
    assert at(contact["last_seen_at"]) == START

    send(
        client, workspace, "/v1/identify", {"userId": "u1", "traits": {"plan": None, "firstName": "Augusta"}}
    )
    contact = the_contact(client, workspace, user_id="u1")
    assert contact["first_name"] == "Augusta"
    assert contact["attributes"] == {"seats": 3}
    assert the_contact(client, workspace, email="ada@example.com")["id"] == contact["id"]


def test_identify_reads_traits_from_context_as_rudderstack_sends_them(
    client: TestClient, workspace: NewWorkspace
) -> None:
    send(
        client,
        workspace,
        "/v1/identify",
        {
            "userId": "u1",
            "context": {"traits": {"email": "ada@example.com", "firstName": "Ada", "plan": "free"}},
            "traits": {"plan": "pro"},
        },
    )
    contact = the_contact(client, workspace, user_id="u1")
    assert (contact["email"], contact["first_name"]) == ("ada@example.com", "Ada")
    assert contact["attributes"] == {"plan": "pro"}
    [event] = events(client, workspace, contact["id"])
    assert event["properties"] == {"email": "ada@example.com", "firstName": "Ada", "plan": "pro"}


def test_context_traits_of_other_calls_leave_the_profile_alone(
    client: TestClient, workspace: NewWorkspace
) -> None:
    send(client, workspace, "/v1/track", track(context={"traits": {"email": "ada@example.com"}}))
    assert the_contact(client, workspace, user_id="u1")["email"] is None


def test_group_stores_the_account_and_membership(client: TestClient, workspace: NewWorkspace) -> None:
    send(
        client,
        workspace,
        "/v1/group",
        {
            "userId": "u1",
            "groupId": "acme-inc",
            "traits": {"name": "Acme Inc", "website": "https://www.acme.com/"},
        },
    )
    response = client.get("/api/v1/accounts", params={"group_id": "acme-inc"}, headers=secret(workspace))
    [account] = response.json()["data"]
    assert (account["name"], account["domain"]) == ("Acme Inc", "acme.com")
    members = client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=secret(workspace)).json()
    assert members == [the_contact(client, workspace, user_id="u1")["id"]]


def test_anonymous_events_join_the_user_on_identify(client: TestClient, workspace: NewWorkspace) -> None:
    send(client, workspace, "/v1/page", {"anonymousId": "anon-7", "name": "Pricing"})
    anonymous = the_contact(client, workspace)
    assert anonymous["user_id"] is None

    send(client, workspace, "/v1/identify", {"userId": "u7", "anonymousId": "anon-7"})
    send(client, workspace, "/v1/track", track("u7", "Trial Started"))

    contact = the_contact(client, workspace)
    assert contact["id"] == anonymous["id"]
    assert (contact["user_id"], contact["anonymous_ids"]) == ("u7", ["anon-7"])
    assert sorted(e["type"] for e in events(client, workspace, contact["id"])) == [
        "identify",
        "page",
        "track",
    ]


def test_alias_merges_the_anonymous_profile_into_the_user(
    client: TestClient, workspace: NewWorkspace
) -> None:
    send(client, workspace, "/v1/track", {"anonymousId": "anon-1", "event": "Viewed Product"})
    send(client, workspace, "/v1/identify", {"userId": "u1", "traits": {"email": "ada@example.com"}})
    before = {c["user_id"]: c["id"] for c in contacts(client, workspace)}
    assert set(before) == {None, "u1"}
    anonymous_id = before[None]

    send(client, workspace, "/v1/alias", {"previousId": "anon-1", "userId": "u1"})

    contact = the_contact(client, workspace)
    assert contact["id"] == before["u1"]
    assert (contact["email"], contact["anonymous_ids"]) == ("ada@example.com", ["anon-1"])
    merged = client.get(f"/api/v1/contacts/{anonymous_id}", headers=secret(workspace))
    assert merged.json()["id"] == contact["id"]
    names = sorted(e["type"] for e in events(client, workspace, contact["id"]))
    assert names == ["alias", "identify", "track"]


def test_batch_stores_every_type_in_one_request(
    client: TestClient, workspace: NewWorkspace, stored: Counter
) -> None:
    send(
        client,
        workspace,
        "/v1/batch",
        {
            "batch": [
                typed("page", anonymousId="anon-2", name="Home"),
                typed("identify", userId="u2", anonymousId="anon-2", traits={"email": "bo@example.com"}),
                typed("track", userId="u2", event="Signed Up", properties={"source": "ad"}),
                typed("screen", userId="u2", name="Settings"),
                typed("group", userId="u2", groupId="globex"),
                typed("alias", previousId="legacy-2", userId="u2"),
                typed("Track", userId="u3", event="Other"),
            ]
        },
    )
    assert stored(workspace) == {"events": 7, "contacts": 2}
    contact = the_contact(client, workspace, user_id="u2")
    assert contact["email"] == "bo@example.com"
    assert sorted(contact["anonymous_ids"]) == ["anon-2", "legacy-2"]
    kinds = sorted(e["type"] for e in events(client, workspace, contact["id"]))
    assert kinds == ["alias", "group", "identify", "page", "screen", "track"]
    assert [e["name"] for e in events_of_user(client, workspace, "u3")] == ["Other"]


def test_success_answer_is_segments_json(client: TestClient, workspace: NewWorkspace) -> None:
    response = send(client, workspace, "/v1/track", track())
    assert response.headers["content-type"] == "application/json"


def test_the_schema_documents_the_tracking_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for name in ("identify", "track", "page", "screen", "group", "alias", "batch"):
        operation = spec["paths"][f"/v1/{name}"]["post"]
        assert operation["tags"] == ["tracking"]
        assert operation["security"] == [{"WriteKey": []}]
        assert set(operation["responses"]) == {"200", "400", "401"}
        problem = operation["responses"]["400"]["content"]["application/problem+json"]["schema"]
        assert problem["$ref"].removeprefix("#/components/schemas/") in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["WriteKey"]["scheme"] == "basic"
    assert "/v1/t" not in spec["paths"], "analytics.js's short paths are not part of the documented API"
    assert "/api/v1/contacts" in spec["paths"], "the rest of the schema is still FastAPI's"


def test_tracking_requests_are_timed_by_route(client: TestClient, workspace: NewWorkspace) -> None:
    labels = ('method="POST"', 'route="/v1/track"', 'status="200"')

    def count() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith("nurture_http_request_duration_seconds_count{") and all(
                label in line for label in labels
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()
    assert send(client, workspace, "/v1/track", track()).status_code == 200
    assert count() - before == 1


# --- analytics.js browser routes, CORS and project settings ---------------------------------------------

BROWSER = [
    ("/v1/i", {"type": "identify", "traits": {"email": "ada@example.com"}}, "identify"),
    ("/v1/t", {"type": "track", "event": "Clicked"}, "track"),
    ("/v1/p", {"type": "page", "name": "Docs"}, "page"),
    ("/v1/s", {"type": "screen", "name": "Feed"}, "screen"),
    ("/v1/g", {"type": "group", "groupId": "acme-inc"}, "group"),
    ("/v1/a", {"type": "alias", "previousId": "anon-9"}, "alias"),
]
ORIGIN = {"Origin": "https://shop.example"}


def browser_post(client: TestClient, path: str, body: Any) -> httpx.Response:
    """As analytics.js sends: text/plain (a CORS-simple request), the write key in the body."""
    return client.post(path, content=orjson.dumps(body), headers={"Content-Type": "text/plain", **ORIGIN})


@pytest.mark.parametrize(("path", "fields", "kind"), BROWSER)
def test_browser_route_stores_with_write_key_in_body(
    client: TestClient, workspace: NewWorkspace, stored: Counter, path: str, fields: dict[str, Any], kind: str
) -> None:
    body = {"userId": "u1", "anonymousId": "anon-1", "writeKey": workspace.write_key, **fields}
    response = browser_post(client, path, body)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert stored(workspace)["events"] == 1
    [event] = events_of_user(client, workspace, "u1")
    assert (event["type"], event["anonymous_id"]) == (kind, "anon-1")


def test_browser_route_takes_its_type_from_the_path(client: TestClient, workspace: NewWorkspace) -> None:
    body = {"type": "identify", "userId": "u1", "event": "Clicked", "writeKey": workspace.write_key}
    assert browser_post(client, "/v1/t", body).status_code == 200
    assert [e["type"] for e in events_of_user(client, workspace, "u1")] == ["track"]


@pytest.mark.parametrize("path", ["/v1/t", "/v1/batch", "/v1/identify"])
def test_cors_preflight(client: TestClient, path: str) -> None:
    response = client.options(
        path,
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "authorization"} <= allowed


def test_browser_errors_carry_cors_headers_so_the_page_can_read_them(
    client: TestClient, workspace: NewWorkspace
) -> None:
    invalid = browser_post(client, "/v1/t", {"userId": "u1", "writeKey": workspace.write_key})
    assert_problem(invalid, 400, ["event"])
    assert invalid.headers["access-control-allow-origin"] == "*"
    unauthorized = browser_post(client, "/v1/t", track(writeKey="nw_nobody"))
    assert_problem(unauthorized, 401)
    assert unauthorized.headers["access-control-allow-origin"] == "*"


def test_project_settings_point_analytics_js_here(client: TestClient, workspace: NewWorkspace) -> None:
    response = client.get(f"/v1/projects/{workspace.write_key}/settings", headers=ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    segment = response.json()["integrations"]["Segment.io"]
    assert segment["apiKey"] == workspace.write_key
    assert segment["apiHost"] == "testserver/v1"
    assert segment["protocol"] == "http"


@pytest.mark.parametrize("key", ["nw_unknown", "secret"])
def test_project_settings_for_an_unknown_write_key(
    client: TestClient, workspace: NewWorkspace, key: str
) -> None:
    key = workspace.secret_key if key == "secret" else key
    assert_problem(client.get(f"/v1/projects/{key}/settings"), 404)


# --- gzip ----------------------------------------------------------------------------------------------


def post_gzip(client: TestClient, workspace: NewWorkspace, path: str, raw: bytes) -> httpx.Response:
    return client.post(
        path,
        content=raw,
        auth=write_auth(workspace),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


def test_gzip_bodies_are_accepted(client: TestClient, workspace: NewWorkspace, stored: Counter) -> None:
    batch = {"batch": [typed("track", userId="u1", event=f"E{i}") for i in range(20)]}
    assert post_gzip(client, workspace, "/v1/batch", gzip.compress(orjson.dumps(batch))).status_code == 200
    single = orjson.dumps(track(event="Single"))
    assert post_gzip(client, workspace, "/v1/track", gzip.compress(single)).status_code == 200
    assert stored(workspace)["events"] == 21
    assert {e["name"] for e in events_of_user(client, workspace, "u1")} >= {"E0", "E19", "Single"}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(orjson.dumps(track()), id="plain JSON"),
        pytest.param(b"\x1f\x8b\x08\x00garbage", id="corrupt"),
        pytest.param(gzip.compress(orjson.dumps(track()))[:-8], id="truncated"),
    ],
)
def test_invalid_gzip_is_400(
    client: TestClient, workspace: NewWorkspace, stored: Counter, raw: bytes
) -> None:
    assert_problem(post_gzip(client, workspace, "/v1/track", raw), 400, ["body"])
    assert stored(workspace)["events"] == 0


def test_gzip_bomb_is_cut_at_the_limit(client: TestClient, workspace: NewWorkspace, stored: Counter) -> None:
    padding = b" " * (50 * 1024 * 1024)
    bomb = gzip.compress(b'{"batch": [' + padding + b"]}", compresslevel=9)
    assert len(bomb) < 100 * 1024
    body = assert_problem(post_gzip(client, workspace, "/v1/batch", bomb), 400, ["body"])
    assert "500" in body["errors"][0]["message"]
    assert stored(workspace)["events"] == 0


# --- limits and validation: 400 naming the field, nothing of the request stored ------------------------

BLOB_33K = "x" * (33 * 1024)
BLOB_30K = "x" * (30 * 1024)


def batch_of(*items: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"batch": list(items), **extra})


def ok(index: int) -> dict[str, Any]:
    """A valid message that would be stored if the request were accepted in part."""
    return typed("track", userId=f"valid-{index}", event="Would Be Stored", messageId=f"valid-{index}")


BAD_EMAIL = {"userId": "u9", "traits": {"email": "not-an-email"}}

INVALID = [
    pytest.param(
        "/v1/track", orjson.dumps(track(properties={"blob": BLOB_33K})), ["body"], id="event over 32 KB"
    ),
    pytest.param(
        "/v1/batch",
        batch_of(ok(0), ok(1), typed("track", **track(properties={"blob": BLOB_33K}))),
        ["batch[2]"],
        id="event over 32 KB in a batch",
    ),
    pytest.param(
        "/v1/batch",
        batch_of(
            *(typed("track", **track(properties={"blob": BLOB_30K}), messageId=f"b{i}") for i in range(18))
        ),
        ["body"],
        id="batch over 500 KB",
    ),
    pytest.param("/v1/track", b'{"userId": "u1", "event": ', ["body"], id="malformed JSON"),
    pytest.param("/v1/track", b"", ["body"], id="empty body"),
    pytest.param("/v1/track", orjson.dumps([track()]), ["body"], id="array body"),
    pytest.param("/v1/identify", b'"u1"', ["body"], id="string body"),
    pytest.param("/v1/batch", orjson.dumps([typed("track", **track())]), ["body"], id="batch as array"),
    pytest.param("/v1/batch", orjson.dumps({"batch": {"0": ok(0)}}), ["batch"], id="batch not an array"),
    pytest.param(
        "/v1/batch",
        batch_of(ok(0), typed("track", event="Anonymous?"), ok(2)),
        ["batch[1].userId"],
        id="batch message without ids",
    ),
    pytest.param(
        "/v1/batch", batch_of(ok(0), typed("signup", userId="u1")), ["batch[1].type"], id="unknown type"
    ),
    pytest.param("/v1/track", orjson.dumps({"userId": "u1"}), ["event"], id="track without event"),
    pytest.param("/v1/track", orjson.dumps({"event": "x"}), ["userId"], id="track without ids"),
    pytest.param("/v1/group", orjson.dumps({"userId": "u1"}), ["groupId"], id="group without groupId"),
    pytest.param("/v1/alias", orjson.dumps({"userId": "u1"}), ["previousId"], id="alias without previousId"),
    pytest.param("/v1/identify", orjson.dumps(BAD_EMAIL), ["traits.email"], id="identify with bad email"),
    pytest.param(
        "/v1/identify",
        orjson.dumps({"userId": "u9", "context": {"traits": {"email": "nope", "phone": "12"}}}),
        ["context.traits.email", "context.traits.phone"],
        id="identify with bad context traits",
    ),
    pytest.param(
        "/v1/batch",
        batch_of(ok(0), typed("identify", **BAD_EMAIL)),
        ["batch[1].traits.email"],
        id="batch identify with bad email",
    ),
    pytest.param(
        "/v1/batch",
        batch_of(typed("identify", **BAD_EMAIL)),
        ["batch[0].traits.email"],
        id="one-message batch with bad email",
    ),
    pytest.param(
        "/v1/group",
        orjson.dumps({"userId": "u1", "groupId": "g1", "traits": {"domain": "nowhere"}}),
        ["traits.domain"],
        id="group with bad domain",
    ),
    pytest.param(
        "/v1/track", orjson.dumps(track(timestamp="2026-02-30T10:00:00Z")), ["timestamp"], id="bad timestamp"
    ),
    pytest.param(
        "/v1/batch",
        batch_of(ok(0), typed("track", **track(timestamp="last tuesday"))),
        ["batch[1].timestamp"],
        id="bad timestamp in a batch",
    ),
    pytest.param("/v1/batch", batch_of(ok(0), sentAt="soon"), ["sentAt"], id="bad batch sentAt"),
    pytest.param(
        "/v1/track",
        orjson.dumps(track(timestamp="0001-01-01T00:00:00Z", sentAt="9999-12-31T00:00:00Z")),
        ["timestamp"],
        id="timestamp too far from sentAt",
    ),
    pytest.param(
        "/v1/batch",
        batch_of(
            ok(0), typed("track", **track(timestamp="9999-12-30T00:00:00Z")), sentAt="0001-01-02T00:00:00Z"
        ),
        ["batch[1].timestamp"],
        id="batch timestamp too far from the batch sentAt",
    ),
    pytest.param(
        "/v1/batch",
        batch_of(ok(0), sentAt="0001-01-01T00:00:00+01:00"),
        ["sentAt"],
        id="sentAt before year 1 in UTC",
    ),
    pytest.param(
        "/v1/page",
        orjson.dumps({"userId": "u1", "originalTimestamp": "9999-12-31T23:30:00-01:00"}),
        ["originalTimestamp"],
        id="originalTimestamp after year 9999 in UTC",
    ),
]


@pytest.mark.parametrize(("path", "raw", "fields"), INVALID)
def test_invalid_requests_are_rejected_whole(
    client: TestClient, workspace: NewWorkspace, stored: Counter, path: str, raw: bytes, fields: list[str]
) -> None:
    send(client, workspace, "/v1/track", track("before", "Existing"))
    before = stored(workspace)

    response = client.post(
        path, content=raw, auth=write_auth(workspace), headers={"Content-Type": "application/json"}
    )

    body = assert_problem(response, 400, fields)
    assert body["title"] == "Invalid input"
    assert fields[0] in body["detail"]
    assert stored(workspace) == before


# --- authentication ------------------------------------------------------------------------------------


def test_no_key_is_401(client: TestClient, workspace: NewWorkspace, stored: Counter) -> None:
    body = assert_problem(client.post("/v1/track", json=track()), 401)
    assert "write key" in body["detail"]
    assert stored(workspace)["events"] == 0


def revoked_write_key(container: Container, workspace: NewWorkspace) -> str:
    [key] = [k for k in container.workspaces.list_keys(workspace.id) if k.kind == KeyKind.WRITE.value]
    container.workspaces.revoke_key(workspace.id, key.id)
    return workspace.write_key


BAD_CREDENTIALS: list[tuple[str, Callable[[Container, NewWorkspace], dict[str, Any]]]] = [
    ("unknown write key", lambda _c, _w: {"auth": ("nw_" + "x" * 32, "")}),
    ("unknown write key in body", lambda _c, _w: {"body": {"writeKey": "nw_" + "x" * 32}}),
    ("secret key as basic user", lambda _c, w: {"auth": (w.secret_key, "")}),
    ("secret key in body", lambda _c, w: {"body": {"writeKey": w.secret_key}}),
    ("write key as bearer token", lambda _c, w: {"headers": {"Authorization": f"Bearer {w.write_key}"}}),
    ("malformed basic header", lambda _c, _w: {"headers": {"Authorization": "Basic %%%"}}),
    ("revoked write key", lambda c, w: {"auth": (revoked_write_key(c, w), "")}),
    ("revoked write key in body", lambda c, w: {"body": {"writeKey": revoked_write_key(c, w)}}),
]


@pytest.mark.parametrize(("case", "credentials"), BAD_CREDENTIALS, ids=[c for c, _ in BAD_CREDENTIALS])
@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch"])
def test_bad_credentials_are_401(
    client: TestClient,
    container: Container,
    workspace: NewWorkspace,
    stored: Counter,
    case: str,
    credentials: Callable[[Container, NewWorkspace], dict[str, Any]],
    path: str,
) -> None:
    given = credentials(container, workspace)
    body: dict[str, Any] = track() if path == "/v1/track" else {"batch": [typed("track", **track())]}
    body = {**body, **given.get("body", {})}
    response = client.post(path, json=body, auth=given.get("auth"), headers=given.get("headers"))
    assert_problem(response, 401)
    assert stored(workspace)["events"] == 0


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"auth": True}, id="basic user name"),
        pytest.param({"auth": True, "password": "ignored"}, id="basic with a password"),
        pytest.param({"body": True}, id="writeKey in body"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch"])
def test_write_key_is_accepted(
    client: TestClient, workspace: NewWorkspace, stored: Counter, how: dict[str, Any], path: str
) -> None:
    body: dict[str, Any] = track() if path == "/v1/track" else {"batch": [typed("track", **track())]}
    if how.get("body"):
        body["writeKey"] = workspace.write_key
    auth = (workspace.write_key, how.get("password", "")) if how.get("auth") else None
    response = client.post(path, json=body, auth=auth)
    assert response.status_code == 200, response.text
    assert stored(workspace)["events"] == 1


def test_write_key_lands_in_its_own_workspace(
    client: TestClient, workspace: NewWorkspace, other_workspace: NewWorkspace, stored: Counter
) -> None:
    send(client, other_workspace, "/v1/track", track())
    assert stored(other_workspace)["events"] == 1
    assert stored(workspace)["events"] == 0
    assert contacts(client, workspace) == []


# --- messageId dedupe ----------------------------------------------------------------------------------


def test_a_retried_request_is_stored_once(
    client: TestClient, workspace: NewWorkspace, stored: Counter
) -> None:
    batch = {"batch": [typed("track", **track(messageId=f"m-{i}")) for i in range(3)]}
    send(client, workspace, "/v1/batch", batch)
    send(client, workspace, "/v1/batch", batch)
    send(client, workspace, "/v1/track", track(messageId="m-1"))
    assert stored(workspace)["events"] == 3

    batch["batch"].append(typed("track", **track(messageId="m-3")))
    send(client, workspace, "/v1/batch", batch)
    assert stored(workspace)["events"] == 4


def test_a_retried_identify_does_not_undo_a_later_one(client: TestClient, workspace: NewWorkspace) -> None:
    first = {"userId": "u1", "messageId": "m-1", "traits": {"email": "old@example.com", "plan": "free"}}
    send(client, workspace, "/v1/identify", first)
    send(
        client,
        workspace,
        "/v1/identify",
        {"userId": "u1", "messageId": "m-2", "traits": {"email": "new@example.com", "plan": "pro"}},
    )
    send(client, workspace, "/v1/identify", first)
    contact = the_contact(client, workspace, user_id="u1")
    assert (contact["email"], contact["attributes"]) == ("new@example.com", {"plan": "pro"})


def test_message_ids_are_per_workspace(
    client: TestClient, workspace: NewWorkspace, other_workspace: NewWorkspace, stored: Counter
) -> None:
    send(client, workspace, "/v1/track", track(messageId="shared-1"))
    send(client, other_workspace, "/v1/track", track(messageId="shared-1"))
    assert stored(workspace)["events"] == 1
    assert stored(other_workspace)["events"] == 1
    for each in (workspace, other_workspace):
        assert [e["message_id"] for e in events_of_user(client, each, "u1")] == ["shared-1"]


def test_duplicates_inside_one_batch_are_stored_once(
    client: TestClient, workspace: NewWorkspace, stored: Counter
) -> None:
    send(
        client,
        workspace,
        "/v1/batch",
        {
            "batch": [
                typed("track", **track(messageId="m-1", properties={"copy": 1})),
                typed("track", **track(messageId="m-2")),
                typed("track", **track(messageId="m-1", properties={"copy": 2})),
            ]
        },
    )
    assert stored(workspace)["events"] == 2
    found = {e["message_id"]: e["properties"] for e in events_of_user(client, workspace, "u1")}
    assert found == {"m-1": {"copy": 1}, "m-2": {}}


def test_messages_without_message_id_are_all_stored(
    client: TestClient, workspace: NewWorkspace, stored: Counter
) -> None:
    send(client, workspace, "/v1/batch", {"batch": [typed("track", **track()), typed("track", **track())]})
    send(client, workspace, "/v1/track", track())
    assert stored(workspace)["events"] == 3
    assert len({e["message_id"] for e in events_of_user(client, workspace, "u1")}) == 3


# --- timestamps as Segment computes them ----------------------------------------------------------------


def test_client_clock_skew_is_corrected_with_sent_at(client: TestClient, workspace: NewWorkspace) -> None:
    # The device's clock is an hour fast; the event happened 5 s before receipt and was sent 1 s before.
    original = START - 5 * S + H
    sent_at = START - S + H
    send(client, workspace, "/v1/track", track(timestamp=iso(original), sentAt=iso(sent_at)))
    [event] = events_of_user(client, workspace, "u1")
    assert at(event["timestamp"]) == START - (sent_at - original) == START - 4 * S
    assert at(event["original_timestamp"]) == original
    assert at(event["sent_at"]) == sent_at
    assert at(event["received_at"]) == START


def test_batch_sent_at_corrects_each_message(client: TestClient, workspace: NewWorkspace) -> None:
    # An hour slow this time; analytics.js names the client time originalTimestamp.
    sent_at = START - H
    send(
        client,
        workspace,
        "/v1/batch",
        {
            "sentAt": iso(sent_at),
            "batch": [
                typed("track", **track(event="First", originalTimestamp=iso(START - H - 60 * S))),
                typed("track", **track(event="Second", timestamp="2026-03-02T09:29:30+01:00")),
            ],
        },
    )
    found = {e["name"]: e for e in events_of_user(client, workspace, "u1")}
    assert at(found["First"]["timestamp"]) == START - 60 * S
    assert at(found["Second"]["timestamp"]) == START - 30 * S
    for event in found.values():
        assert at(event["sent_at"]) == sent_at
        assert at(event["received_at"]) == START
    assert [e["name"] for e in events_of_user(client, workspace, "u1")] == ["Second", "First"]


def test_without_sent_at_the_client_time_is_taken_as_is(client: TestClient, workspace: NewWorkspace) -> None:
    historic = START - timedelta(days=400)
    send(client, workspace, "/v1/track", track(timestamp=iso(historic)))
    [event] = events_of_user(client, workspace, "u1")
    assert at(event["timestamp"]) == at(event["original_timestamp"]) == historic
    assert event["sent_at"] is None
    assert at(event["received_at"]) == START


def test_without_client_times_the_event_happened_when_received(
    client: TestClient, workspace: NewWorkspace, clock: ManualClock
) -> None:
    send(client, workspace, "/v1/track", track(event="First"))
    later = clock.advance(2 * H)
    send(client, workspace, "/v1/track", track(event="Second"))
    second, first = events_of_user(client, workspace, "u1")
    assert (first["name"], at(first["timestamp"]), at(first["received_at"])) == ("First", START, START)
    assert (second["name"], at(second["timestamp"]), at(second["received_at"])) == ("Second", later, later)
    assert first["original_timestamp"] is None
    assert first["sent_at"] is None
    assert at(the_contact(client, workspace)["last_seen_at"]) == later


# --- 2xx means stored -----------------------------------------------------------------------------------


def test_events_are_committed_when_the_response_arrives(
    client: TestClient, workspace: NewWorkspace, database_url: str
) -> None:
    batch = {"batch": [typed("track", **track(f"u{i % 5}", messageId=f"m-{i}")) for i in range(50)]}
    send(client, workspace, "/v1/batch", batch)

    engine = create_engine(normalize_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT message_id, user_id FROM events WHERE workspace_id = :w"), {"w": workspace.id}
            ).all()
    finally:
        engine.dispose()
    assert sorted(rows) == sorted((f"m-{i}", f"u{i % 5}") for i in range(50))
