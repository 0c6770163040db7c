"""Subscribing with consent and double opt-in: pending, one confirmation email (from a template made on
first use), a confirm page whose button subscribes, and the consent ledger (read, exported, merged,
erased)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.templates.context import message_context
from nurture.services.clock import ManualClock
from nurture.services.links import MessageLinks
from nurture.services.workspaces import NewWorkspace
from nurture.store import tracking as tracking_store
from nurture.store.schema import consent_records, messages, templates
from tests.api.outbox_rows import contact
from tests.conftest import ingest, secret

CONSENT = {
    "topic": "events",
    "consent_text": "Send me invitations to Acme events. You can unsubscribe at any time.",
    "ip": "198.51.100.7",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
}


@dataclass(frozen=True)
class Sender:
    from_email: str = "news@acme.example.com"


@pytest.fixture
def topics(container: Container, workspace: NewWorkspace) -> None:
    container.topics.create(workspace.id, "email", "events", {"label": "Acme events", "double_opt_in": True})
    container.topics.create(workspace.id, "email", "news", {"label": "News"})


def subscribe(client: TestClient, workspace: NewWorkspace, contact_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/contacts/{contact_id}/subscriptions", headers=secret(workspace), json=body)


def outbox(container: Container, workspace_id: str) -> list[dict[str, Any]]:
    with container.db.read() as conn:
        rows = conn.execute(select(messages).where(messages.c.workspace_id == workspace_id))
        return [dict(r._mapping) for r in rows]


def consents(client: TestClient, workspace: NewWorkspace, contact_id: str, **params: Any) -> Any:
    return client.get(f"/api/v1/contacts/{contact_id}/consents", headers=secret(workspace), params=params)


def confirm_path(container: Container, workspace_id: str, send: str) -> str:
    return container.links.links.confirm_url(workspace_id, send).removeprefix("http://testserver")


def form_of(html: str) -> str:
    found = re.search(r'name="form" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


@pytest.mark.usefixtures("topics")
def test_a_double_opt_in_topic_waits_for_one_confirmation_email_per_day(
    container: Container, client: TestClient, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ann = contact(container, workspace.id, first_name="Ann")
    answer = subscribe(client, workspace, ann, **CONSENT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "pending"
    send = answer.json()["confirmation_message_id"]
    again = subscribe(client, workspace, ann, **CONSENT).json()
    assert again == answer.json()  # the same day: no second mail
    [row] = outbox(container, workspace.id)
    assert (row["id"], row["category"], row["source"], row["channel"]) == (
        send,
        "transactional",
        "system",
        "email",
    )
    assert row["topic"] is None  # a confirmation is no mail *of* the topic
    assert row["context"] == {
        "double_opt_in": {"channel": "email", "topic": "events", "label": "Acme events"}
    }
    with container.db.read() as conn:
        made = conn.execute(select(templates).where(templates.c.workspace_id == workspace.id)).all()
    assert [(t.id, t.name, t.category) for t in made] == [
        (row["template_id"], "Double opt-in confirmation", "transactional")
    ]
    [record] = consents(client, workspace, ann).json()["data"]
    assert {k: record[k] for k in ("topic", "status", "source", "ip", "user_agent", "text")} == {
        "topic": "events",
        "status": "pending",
        "source": "form",
        "ip": CONSENT["ip"],
        "user_agent": CONSENT["user_agent"],
        "text": CONSENT["consent_text"],
    }
    assert len(record["text_sha256"]) == 64
    clock.advance(timedelta(days=1))
    tomorrow = subscribe(client, workspace, ann, **CONSENT).json()
    assert tomorrow["confirmation_message_id"] != send
    assert len(outbox(container, workspace.id)) == 2
    with container.db.read() as conn:
        assert len(conn.execute(select(templates).where(templates.c.workspace_id == workspace.id)).all()) == 1


@pytest.mark.usefixtures("topics")
def test_the_confirmation_email_renders_its_confirm_link_and_nothing_promotional(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id, first_name="Ann")
    send = subscribe(client, workspace, ann, **CONSENT).json()["confirmation_message_id"]
    with container.db.read() as conn:
        row = tracking_store.message(conn, workspace.id, send)
        assert row is not None
        compiled, _layout = container.templates.cache.compiled(conn, workspace.id, row.template_id or "", 1)
    links: MessageLinks = container.links
    context = message_context(
        now=container.clock.now(),
        contact={"first_name": "Ann"},
        workspace={"name": "Acme", "postal_address": "1 Main St, Springfield"},
        message={"id": send, **links.context(row)},
    )
    mail = compiled.render(context)
    assert mail.subject == "Please confirm your subscription"
    assert "Hello Ann," in (mail.html or "")
    assert "“Acme events” emails from Acme" in (mail.html or "")
    assert re.findall(r'href="([^"]+)"', mail.html or "") == [links.links.confirm_url(workspace.id, send)]
    assert "1 Main St, Springfield" in mail.text
    assert links.headers(row, Sender().from_email) == ()  # transactional: no List-Unsubscribe


@pytest.mark.usefixtures("topics")
def test_the_confirm_page_asks_and_its_button_subscribes_with_the_words_shown(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = subscribe(client, workspace, ann, **CONSENT).json()["confirmation_message_id"]
    path = confirm_path(container, workspace.id, send)
    page = client.get(path)
    assert page.status_code == 200
    assert "Yes, send “Acme events” emails from Acme to ann@example.com." in page.text
    assert len(consents(client, workspace, ann).json()["data"]) == 1  # the GET changed nothing
    assert client.post(path, data={"form": "nope"}).json()["errors"][0]["field"] == "form"
    done = client.post(path, data={"form": form_of(page.text)}, headers={"User-Agent": "Safari"})
    assert done.status_code == 200
    assert "your subscription is confirmed" in done.text
    subscribed = client.get(f"/api/v1/contacts/{ann}/subscriptions", headers=secret(workspace)).json()
    assert [(s["topic"], s["status"], s["source"]) for s in subscribed] == [
        ("events", "subscribed", "double_opt_in")
    ]
    records = consents(client, workspace, ann).json()["data"]
    assert [(r["status"], r["source"]) for r in records] == [
        ("pending", "form"),
        ("subscribed", "double_opt_in"),
    ]
    assert records[1]["text"] == "Yes, send “Acme events” emails from Acme to ann@example.com."
    assert (records[1]["user_agent"], records[1]["message_id"]) == ("Safari", send)
    client.post(path, data={"form": form_of(page.text)})
    assert len(consents(client, workspace, ann).json()["data"]) == 2


@pytest.mark.usefixtures("topics")
def test_a_confirmation_after_unsubscribing_no_longer_subscribes(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = subscribe(client, workspace, ann, **CONSENT).json()["confirmation_message_id"]
    path = confirm_path(container, workspace.id, send)
    form = form_of(client.get(path).text)
    container.subscriptions.set(workspace.id, ann, "email", "events", "unsubscribed")
    done = client.post(path, data={"form": form})
    assert "no longer valid" in done.text
    subscribed = client.get(f"/api/v1/contacts/{ann}/subscriptions", headers=secret(workspace)).json()
    assert [(s["topic"], s["status"]) for s in subscribed] == [("events", "unsubscribed")]
    assert client.get(confirm_path(container, workspace.id, "notaconfirmationsend00000")).status_code == 404


@pytest.mark.usefixtures("topics")
def test_other_topics_subscribe_at_once_but_never_undo_an_unsubscribe_from_all(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    done = subscribe(client, workspace, ann, topic="news", source="signup_form").json()
    assert (done["status"], done["confirmation_message_id"], done["all_unsubscribed"]) == (
        "subscribed",
        None,
        False,
    )
    assert outbox(container, workspace.id) == []
    container.subscriptions.set(workspace.id, ann, "email", None, "unsubscribed")
    whole = subscribe(client, workspace, ann).json()
    assert (whole["status"], whole["all_unsubscribed"]) == ("unsubscribed", True)
    records = consents(client, workspace, ann).json()["data"]
    assert [(r["topic"], r["status"], r["source"]) for r in records] == [
        ("news", "subscribed", "signup_form"),
        (None, "unsubscribed", "api"),  # the operator's change; the refused subscribe records nothing
    ]


@pytest.mark.usefixtures("topics")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"topic": "nosuch"}, "topic"),
        ({"channel": "fax"}, "channel"),
        ({"topic": "events", "source": "Web Form!"}, "source"),
        ({"topic": "bad topic"}, "topic"),
        ({"topic": "events", "ip": "x" * 46}, "ip"),
        ({"topic": "events", "status": "subscribed"}, "status"),
    ],
)
def test_bad_subscribes_are_refused_naming_the_field(
    container: Container, client: TestClient, workspace: NewWorkspace, body: dict[str, Any], field: str
) -> None:
    ann = contact(container, workspace.id)
    problem = subscribe(client, workspace, ann, **body)
    assert problem.status_code == 400, problem.text
    assert problem.json()["errors"][0]["field"] == field
    assert consents(client, workspace, ann).json()["data"] == []


@pytest.mark.usefixtures("topics")
def test_a_contact_without_email_or_unknown_cannot_join_a_double_opt_in_topic(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ingest(container, workspace.id, {"type": "identify", "userId": "u9", "traits": {"first_name": "Noemail"}})
    nobody = container.contacts.list(workspace.id, user_id="u9").items[0].id
    assert subscribe(client, workspace, nobody, topic="events").json()["errors"][0]["field"] == "topic"
    assert subscribe(client, workspace, "01HNOSUCHCONTACT0000000000", topic="events").status_code == 404
    assert consents(client, workspace, "01HNOSUCHCONTACT0000000000").status_code == 404
    assert outbox(container, workspace.id) == []


@pytest.mark.usefixtures("topics")
def test_the_ledger_pages_and_is_exported_merged_and_erased_with_the_contact(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ingest(
        container,
        workspace.id,
        {"type": "identify", "anonymousId": "a1", "traits": {"email": "ann@example.com"}},
    )
    ingest(container, workspace.id, {"type": "identify", "userId": "u1"})
    visitor = container.contacts.list(workspace.id, email="ann@example.com").items[0].id
    member = container.contacts.list(workspace.id, user_id="u1").items[0].id
    subscribe(client, workspace, visitor, topic="news")
    subscribe(client, workspace, visitor, **CONSENT)
    first = consents(client, workspace, visitor, limit=1).json()
    assert len(first["data"]) == 1
    rest = consents(client, workspace, visitor, limit=1, after=first["next_cursor"]).json()
    assert [r["topic"] for r in first["data"] + rest["data"]] == ["news", "events"]
    assert consents(client, workspace, visitor, after="garbage").json()["errors"][0]["field"] == "cursor"
    assert consents(client, workspace, visitor, limit=0).status_code == 400
    ingest(container, workspace.id, {"type": "identify", "userId": "u1", "anonymousId": "a1"})  # a merge
    survivor = container.contacts.get(workspace.id, visitor).id
    assert survivor == member
    assert len(consents(client, workspace, member).json()["data"]) == 2
    exported = client.get(f"/api/v1/contacts/{member}/export", headers=secret(workspace)).json()
    assert [c["topic"] for c in exported["consents"]] == ["news", "events"]
    assert client.delete(f"/api/v1/contacts/{member}", headers=secret(workspace)).status_code == 204
    with container.db.read() as conn:
        assert (
            conn.execute(select(consent_records).where(consent_records.c.workspace_id == workspace.id)).all()
            == []
        )
