"""The links of a message against a real `nurture serve` process, over HTTP: one-click unsubscribe
(the GET changes nothing, the POST does), the click redirect and a tampered token, the open pixel.

The server makes the message itself: subscribing to a double opt-in topic queues its confirmation,
whose send id the API returns; the links are signed with the key every test server uses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from nurture.domain.messages.links import Links, derive_key
from tests.conftest import LINK_SECRET, LiveServer

pytestmark = pytest.mark.slow
SALE = "https://shop.example.com/sale?x=1&y=2"


@dataclass
class Sent:
    http: httpx.Client
    links: Links
    workspace_id: str
    contact_id: str
    send: str

    def contact_events(self, name: str) -> list[dict[str, Any]]:
        found = self.http.get(f"/api/v1/contacts/{self.contact_id}/events").json()["data"]
        return [e for e in found if e["name"] == name]

    def subscriptions(self) -> dict[Any, str]:
        found = self.http.get(f"/api/v1/contacts/{self.contact_id}/subscriptions").json()
        return {s["topic"]: s["status"] for s in found}


@pytest.fixture
def sent(live_server_without_workers: LiveServer) -> Iterator[Sent]:
    """A contact of the Example workspace and the confirmation email the server queued for it. The
    server's workers are off, so the message stays unsent: an open of it cannot be "too fast"."""
    live_server = live_server_without_workers
    found = re.search(r"Created workspace Example \((\w+)\)", live_server.log.read_text())
    assert found is not None, live_server.log.read_text()
    headers = {"Authorization": f"Bearer {live_server.secret_key}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as http:
        ann = http.post("/api/v1/contacts", json={"email": "ann@example.com"})
        assert ann.status_code == 201, ann.text
        topic = {"channel": "email", "name": "events", "label": "Events", "double_opt_in": True}
        assert http.post("/api/v1/topics", json=topic).status_code == 201
        asked = http.post(f"/api/v1/contacts/{ann.json()['id']}/subscriptions", json={"topic": "events"})
        assert asked.status_code == 200, asked.text
        links = Links(live_server.url, derive_key(LINK_SECRET))
        yield Sent(http, links, found.group(1), ann.json()["id"], asked.json()["confirmation_message_id"])


def test_one_click_post_unsubscribes_and_the_get_does_not(sent: Sent) -> None:
    url = sent.links.unsubscribe_url(sent.workspace_id, sent.send, sent.contact_id)
    before = sent.subscriptions()
    page = httpx.get(url, timeout=10)  # what a link scanner does
    assert page.status_code == 200
    assert "Unsubscribe from all email" in page.text
    assert sent.subscriptions() == before == {"events": "pending"}
    # exactly what a mail program sends (RFC 8058): no cookies, no credentials, this body
    done = httpx.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert done.status_code == 200, done.text
    assert sent.subscriptions() == {None: "unsubscribed", "events": "pending"}
    assert sent.http.get(f"/api/v1/contacts/{sent.contact_id}").json()["suppressed"] is True
    assert len(sent.contact_events("Unsubscribed")) == 1
    consents = sent.http.get(f"/api/v1/contacts/{sent.contact_id}/consents").json()["data"]
    assert [(c["status"], c["source"], c["ip"]) for c in consents][-1] == (
        "unsubscribed",
        "list_unsubscribe",
        "127.0.0.1",
    )


def test_the_click_redirect_leads_to_the_signed_url_and_a_tampered_token_is_404(sent: Sent) -> None:
    url = sent.links.click_url(sent.workspace_id, sent.send, 0, SALE)
    response = httpx.get(url, headers={"User-Agent": "Mozilla/5.0 (Macintosh) Safari/605.1"}, timeout=10)
    assert response.status_code == 302
    assert response.headers["location"] == SALE
    [clicked] = sent.contact_events("Email Link Clicked")
    assert clicked["properties"]["url"] == SALE
    assert clicked["properties"]["message_id"] == sent.send
    evil = sent.links.click_url(sent.workspace_id, sent.send, 0, "https://evil.example.net/")
    swapped = url.rsplit(".", 2)[0] + "." + evil.rsplit(".", 2)[1] + "." + url.rsplit(".", 1)[1]
    for tampered in (swapped, url[:-1] + ("A" if url[-1] != "A" else "B")):
        refused = httpx.get(tampered, timeout=10)
        assert refused.status_code == 404
        assert "location" not in refused.headers
    assert len(sent.contact_events("Email Link Clicked")) == 1


def test_the_open_pixel_returns_a_gif_and_records_the_open(sent: Sent) -> None:
    response = httpx.get(
        sent.links.open_url(sent.workspace_id, sent.send),
        headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Outlook/16.0"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"]
    [opened] = sent.contact_events("Email Opened")
    assert opened["properties"]["message_id"] == sent.send
    assert opened["properties"]["machine"] is False
