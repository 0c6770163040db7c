"""The click redirect and the open pixel: where they lead, what they record, and what a machine's hit
looks like."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.contact_view import MessageEventKind
from nurture.services.link_tracking import PIXEL_GIF
from nurture.services.workspaces import NewWorkspace
from nurture.store import tracking as tracking_store
from nurture.store.schema import events
from tests.api.outbox_rows import contact, events_of, sent_message

SALE = "https://shop.example.com/sale?x=1&y=2"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"


def click_path(container: Container, workspace_id: str, send: str, url: str = SALE, index: int = 0) -> str:
    return container.links.links.click_url(workspace_id, send, index, url).removeprefix("http://testserver")


def pixel_path(container: Container, workspace_id: str, send: str) -> str:
    return container.links.links.open_url(workspace_id, send).removeprefix("http://testserver")


def contact_events(container: Container, workspace_id: str, name: str) -> list[dict[str, object]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(events).where(events.c.workspace_id == workspace_id, events.c.name == name)
        )
        return [dict(r._mapping) for r in rows]


def test_a_click_redirects_to_the_signed_url_and_is_recorded_as_a_persons(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann)
    response = client.get(
        click_path(container, workspace.id, send, index=2),
        headers={"User-Agent": IPHONE},
        follow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["location"] == SALE
    assert "no-store" in response.headers["cache-control"]
    [clicked] = events_of(container, workspace.id, "clicked")
    assert clicked["message_id"] == send
    assert clicked["contact_id"] == ann
    assert clicked["data"] == {"url": SALE, "link": 2, "machine": False, "user_agent": IPHONE}
    [event] = contact_events(container, workspace.id, "Email Link Clicked")
    assert event["contact_id"] == ann
    assert event["properties"]["url"] == SALE  # type: ignore[index]


def test_a_tampered_click_token_is_a_404_and_never_a_redirect(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann)
    good = click_path(container, workspace.id, send)
    evil = click_path(container, workspace.id, send, url="https://evil.example.net/")
    parts, evil_parts = good.split("."), evil.split(".")
    swapped = ".".join([*parts[:3], evil_parts[3], parts[4]])  # the evil URL with the good MAC
    for path in (
        swapped,
        good[:-2] + "xx",
        "/t/c/nothing",
        good.replace(workspace.id, "01HOTHERWORKSPACE000000000"),
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("application/problem+json")
    assert events_of(container, workspace.id, "clicked") == []


def test_machine_clicks_redirect_too_and_are_flagged(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann)
    fresh = sent_message(container, workspace.id, ann, key="spring:2", ago=timedelta(seconds=2))
    assert (
        client.head(
            click_path(container, workspace.id, send), headers={"User-Agent": IPHONE}, follow_redirects=False
        ).status_code
        == 302
    )
    scanner = {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}
    assert (
        client.get(
            click_path(container, workspace.id, send), headers=scanner, follow_redirects=False
        ).status_code
        == 302
    )
    quick = client.get(
        click_path(container, workspace.id, fresh), headers={"User-Agent": IPHONE}, follow_redirects=False
    )
    assert quick.status_code == 302
    reasons = [
        (e["message_id"], e["data"]["machine_reason"]) for e in events_of(container, workspace.id, "clicked")
    ]  # type: ignore[index]
    assert reasons == [(send, "head_request"), (send, "scanner"), (fresh, "too_fast")]


def test_the_open_pixel_is_an_uncached_gif_and_records_opens_flagging_apple_mpp(
    container: Container, client: TestClient, workspace: NewWorkspace, is_postgres: bool
) -> None:
    ann = contact(container, workspace.id)
    read = sent_message(container, workspace.id, ann)
    prefetched = sent_message(container, workspace.id, ann, key="spring:2")
    path = pixel_path(container, workspace.id, read)
    assert path.endswith(".gif")
    response = client.get(path, headers={"User-Agent": IPHONE})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == PIXEL_GIF
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["expires"] == "0"
    mpp = {"User-Agent": "Mozilla/5.0"}
    assert client.get(path, headers=mpp).status_code == 200
    assert client.get(pixel_path(container, workspace.id, prefetched), headers=mpp).status_code == 200
    opened = events_of(container, workspace.id, "opened")
    assert [(e["message_id"], e["data"]["machine"]) for e in opened] == [  # type: ignore[index]
        (read, False),
        (read, True),
        (prefetched, True),
    ]
    assert opened[1]["data"]["machine_reason"] == "apple_mpp"  # type: ignore[index]
    assert len(contact_events(container, workspace.id, "Email Opened")) == 3
    with container.db.read() as conn:
        human = tracking_store.unique_human(conn, workspace.id, MessageEventKind.OPENED, [read, prefetched])
        assert human == 1  # one message opened by a person, the other only by Apple's proxy
        assert tracking_store.unique_human(conn, workspace.id, MessageEventKind.CLICKED, [read]) == 0
    assert client.get(path[:-8] + "AAAA.gif").status_code == 404


def test_a_link_of_an_erased_contact_or_a_vanished_message_still_works_and_records_nothing(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann)
    container.contacts.erase(workspace.id, ann)
    response = client.get(click_path(container, workspace.id, send), follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, SALE)
    gone = click_path(container, workspace.id, "sendthatwasneverstored0000")
    assert client.get(gone, follow_redirects=False).headers["location"] == SALE
    assert client.get(pixel_path(container, workspace.id, send)).status_code == 200
    assert events_of(container, workspace.id, "clicked") == []
    assert events_of(container, workspace.id, "opened") == []
