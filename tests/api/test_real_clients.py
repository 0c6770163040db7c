"""The real Segment and RudderStack Python libraries against a real `nurture serve` process.

Each client only has its host changed. What they sent is read back through the admin REST API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

import httpx
import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


class TrackingClient(Protocol):
    """What segment-analytics-python and rudder-sdk-python have in common."""

    def identify(self, **kwargs: Any) -> tuple[bool, dict[str, Any]]: ...
    def track(self, **kwargs: Any) -> tuple[bool, dict[str, Any]]: ...
    def page(self, **kwargs: Any) -> tuple[bool, dict[str, Any]]: ...
    def alias(self, **kwargs: Any) -> tuple[bool, dict[str, Any]]: ...
    def flush(self) -> None: ...


Errors = list[Exception]


def segment(server: LiveServer, errors: Errors, *, sync: bool) -> SegmentClient:
    return SegmentClient(
        server.write_key,
        host=server.url,
        sync_mode=sync,
        max_retries=0,
        on_error=lambda error, _batch: errors.append(error),
    )


def rudder(server: LiveServer, errors: Errors, *, sync: bool) -> RudderClient:
    # gzip is on by default in rudder-sdk-python; left so.
    return RudderClient(
        server.write_key,
        host=server.url,
        sync_mode=sync,
        max_retries=0,
        on_error=lambda error, _batch: errors.append(error),
    )


CLIENTS: dict[str, Callable[..., Any]] = {"segment": segment, "rudder": rudder}


@pytest.fixture(params=sorted(CLIENTS))
def library(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def errors() -> Iterator[Errors]:
    found: Errors = []
    yield found
    assert found == []


class Admin:
    """The admin REST API of the live server, with its secret key."""

    def __init__(self, server: LiveServer) -> None:
        assert server.write_key.startswith("nw_")
        assert server.secret_key.startswith("ns_")
        self.http = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.secret_key}"}, timeout=10
        )

    def contacts(self, **params: str) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/contacts", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found

    def events(self, contact_id: str) -> list[dict[str, Any]]:
        """Oldest first."""
        response = self.http.get(f"/api/v1/contacts/{contact_id}/events", params={"limit": 500})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found[::-1]


@pytest.fixture
def admin(live_server: LiveServer) -> Iterator[Admin]:
    client = Admin(live_server)
    yield client
    client.http.close()


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_identify_track_and_page_merge_into_one_contact(
    live_server: LiveServer, admin: Admin, errors: Errors, library: str
) -> None:
    client: TrackingClient = CLIENTS[library](live_server, errors, sync=True)
    sent = [
        client.page(anonymous_id="anon-1", name="Pricing", properties={"path": "/pricing"})[1],
        client.track(anonymous_id="anon-1", event="Viewed Plan", properties={"plan": "pro", "price": 49})[1],
        client.identify(
            user_id="user-1",
            anonymous_id="anon-1",
            traits={"email": "Ada@Example.com", "firstName": "Ada", "company_size": 40},
        )[1],
        client.track(user_id="user-1", event="Signed Up", properties={"source": "pricing"})[1],
    ]

    [contact] = admin.contacts()
    assert contact["user_id"] == "user-1"
    assert contact["anonymous_ids"] == ["anon-1"]
    assert contact["email"] == "ada@example.com"
    assert contact["first_name"] == "Ada"
    assert contact["attributes"] == {"company_size": 40}
    assert admin.contacts(email="ada@example.com") == [contact]

    stored = {e["message_id"]: e for e in admin.events(contact["id"])}
    assert set(stored) == {m["messageId"] for m in sent}
    page, viewed, identify, signed_up = (stored[m["messageId"]] for m in sent)
    assert (page["type"], page["name"], page["properties"]) == ("page", "Pricing", {"path": "/pricing"})
    assert (viewed["type"], viewed["name"]) == ("track", "Viewed Plan")
    assert viewed["properties"] == {"plan": "pro", "price": 49}
    assert (viewed["anonymous_id"], viewed["user_id"]) == ("anon-1", None)
    assert identify["type"] == "identify"
    assert (signed_up["name"], signed_up["user_id"], signed_up["properties"]) == (
        "Signed Up",
        "user-1",
        {"source": "pricing"},
    )
    for message in sent:
        event = stored[message["messageId"]]
        assert at(event["original_timestamp"]) == at(message["timestamp"])
        assert event["sent_at"] is not None
        assert event["context"]["library"]["name"] == "analytics-python"


def test_alias_joins_an_earlier_anonymous_profile(
    live_server: LiveServer, admin: Admin, errors: Errors, library: str
) -> None:
    client: TrackingClient = CLIENTS[library](live_server, errors, sync=True)
    client.track(anonymous_id="anon-2", event="Added to Cart")
    client.identify(user_id="user-2", traits={"lastName": "Lovelace"})
    assert len(admin.contacts()) == 2

    client.alias(previous_id="anon-2", user_id="user-2")

    [contact] = admin.contacts()
    assert (contact["user_id"], contact["anonymous_ids"], contact["last_name"]) == (
        "user-2",
        ["anon-2"],
        "Lovelace",
    )
    assert sorted(e["type"] for e in admin.events(contact["id"])) == ["alias", "identify", "track"]


def test_queued_messages_arrive_in_batches_on_flush(
    live_server: LiveServer, admin: Admin, errors: Errors, library: str
) -> None:
    client: TrackingClient = CLIENTS[library](live_server, errors, sync=False)
    sent = [client.track(user_id="user-3", event="Step", properties={"n": n})[1] for n in range(120)]
    client.identify(user_id="user-3", traits={"email": "user3@example.com"})
    client.flush()

    [contact] = admin.contacts(user_id="user-3")
    assert contact["email"] == "user3@example.com"
    events = admin.events(contact["id"])
    steps = [e for e in events if e["type"] == "track"]
    assert sorted(e["properties"]["n"] for e in steps) == list(range(120))
    assert {e["message_id"] for e in steps} == {m["messageId"] for m in sent}


def test_a_resent_message_is_stored_once(
    live_server: LiveServer, admin: Admin, errors: Errors, library: str
) -> None:
    client: TrackingClient = CLIENTS[library](live_server, errors, sync=True)
    for _ in range(3):
        client.track(user_id="user-4", event="Paid", message_id="invoice-77-paid")
    [contact] = admin.contacts(user_id="user-4")
    assert [e["message_id"] for e in admin.events(contact["id"])] == ["invoice-77-paid"]


def test_a_wrong_write_key_is_reported_to_the_client(live_server: LiveServer, library: str) -> None:
    errors: Errors = []
    wrong = LiveServer(live_server.url, "nw_wrong", "", live_server.process, live_server.log)
    client: TrackingClient = CLIENTS[library](wrong, errors, sync=False)
    client.track(user_id="user-5", event="Lost")
    client.flush()
    assert len(errors) == 1
    assert getattr(errors[0], "status", None) == 401
