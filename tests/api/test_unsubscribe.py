"""Unsubscribing from a message: the page asks and changes nothing, the one-click POST (RFC 8058) and
the page's buttons unsubscribe, the mailto address too; each change once, with its proof."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.messages.consent import ONE_CLICK_STATEMENT, text_hash
from nurture.services.identity import address_hash
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import consent_records, subscriptions, suppressions
from tests.api.outbox_rows import contact, events_of, sent_message
from tests.conftest import secret

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def unsubscribe_path(container: Container, workspace_id: str, send: str, contact_id: str) -> str:
    return container.links.links.unsubscribe_url(workspace_id, send, contact_id).removeprefix(
        "http://testserver"
    )


def rows(container: Container, table, workspace_id: str) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    with container.db.read() as conn:
        found = conn.execute(select(table).where(table.c.workspace_id == workspace_id))
        return [dict(r._mapping) for r in found]


def news(container: Container, workspace_id: str) -> None:
    container.topics.create(
        workspace_id, "email", "news", {"label": "Weekly news", "default_status": "subscribed"}
    )


def test_the_page_asks_and_changes_nothing(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    news(container, workspace.id)
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann, topic="news")
    page = client.get(unsubscribe_path(container, workspace.id, send, ann))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "Unsubscribe ann@example.com from “Weekly news” emails from Acme." in page.text
    assert "Unsubscribe from all email" in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert '<html lang="en">' in page.text
    assert "/p/" in page.text  # the preference page is offered
    for table in (subscriptions, consent_records, suppressions):
        assert rows(container, table, workspace.id) == []
    assert events_of(container, workspace.id, "unsubscribed") == []


def test_one_click_unsubscribes_from_the_messages_topic_once_with_its_proof(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    news(container, workspace.id)
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann, topic="news")
    path = unsubscribe_path(container, workspace.id, send, ann)
    for _ in range(2):  # mail programs may retry
        done = client.post(path, data=ONE_CLICK, headers={"User-Agent": "Gmail one-click"})
        assert done.status_code == 200, done.text
    assert "Done: you are unsubscribed." in done.text
    [status] = rows(container, subscriptions, workspace.id)
    assert (status["topic"], status["status"], status["source"]) == (
        "news",
        "unsubscribed",
        "list_unsubscribe",
    )
    [record] = rows(container, consent_records, workspace.id)
    assert record["topic"] == "news"
    assert record["text"] == ONE_CLICK_STATEMENT
    assert record["text_hash"] == text_hash(ONE_CLICK_STATEMENT)
    assert (record["ip"], record["user_agent"], record["message_id"]) == (
        "testclient",
        "Gmail one-click",
        send,
    )
    [event] = events_of(container, workspace.id, "unsubscribed")
    assert event["data"] == {"scope": "topic", "via": "list_unsubscribe", "topic": "news"}
    assert rows(container, suppressions, workspace.id) == []  # only the topic: other mail still arrives
    subscribed = client.get(f"/api/v1/contacts/{ann}/subscriptions", headers=secret(workspace)).json()
    assert [(s["topic"], s["status"]) for s in subscribed] == [("news", "unsubscribed")]


def test_one_click_as_multipart_on_a_message_without_topic_leaves_all_email_and_suppresses(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann, to_address="Ann@Example.com")
    response = client.post(
        unsubscribe_path(container, workspace.id, send, ann), files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert response.status_code == 200, response.text
    [status] = rows(container, subscriptions, workspace.id)
    assert (status["topic"], status["status"]) == ("", "unsubscribed")
    [suppressed] = rows(container, suppressions, workspace.id)
    assert (suppressed["value_hash"], suppressed["reason"]) == (
        address_hash("ann@example.com"),
        "unsubscribed",
    )
    assert client.get(f"/api/v1/contacts/{ann}", headers=secret(workspace)).json()["suppressed"] is True
    [event] = events_of(container, workspace.id, "unsubscribed")
    assert event["data"] == {"scope": "all", "via": "list_unsubscribe"}


def test_the_pages_second_button_leaves_all_email_recording_the_words_shown(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    news(container, workspace.id)
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann, topic="news")
    path = unsubscribe_path(container, workspace.id, send, ann)
    done = client.post(path, data={**ONE_CLICK, "scope": "all", "source": "page"})
    assert done.status_code == 200
    assert "receives no more email from Acme" in done.text
    [record] = rows(container, consent_records, workspace.id)
    assert (record["topic"], record["source"]) == (None, "unsubscribe_page")
    assert record["text"] == "Unsubscribe ann@example.com from all email from Acme."
    assert len(rows(container, suppressions, workspace.id)) == 1
    again = client.get(path)
    assert "Unsubscribe from all email" not in again.text


def test_bad_bodies_and_tokens_are_refused_as_problems_or_pages(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann)
    path = unsubscribe_path(container, workspace.id, send, ann)
    for body, field in (({}, "List-Unsubscribe"), ({"List-Unsubscribe": "yes"}, "List-Unsubscribe")):
        problem = client.post(path, data=body)
        assert problem.status_code == 400
        assert problem.json()["errors"][0]["field"] == field
    problem = client.post(path, data={**ONE_CLICK, "scope": "everything"})
    assert problem.json()["errors"][0]["field"] == "scope"
    browser = client.post(path, data={}, headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 400
    assert browser.headers["content-type"].startswith("text/html")
    assert "List-Unsubscribe" in browser.text
    tampered = client.get(path[:-3] + "abc", headers={"Accept": "text/html"})
    assert tampered.status_code == 404
    assert "This link is not valid" in tampered.text
    assert client.post(path[:-3] + "abc", data=ONE_CLICK).status_code == 404
    assert rows(container, subscriptions, workspace.id) == []


def test_the_mailto_address_unsubscribes_when_its_mac_checks_out(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    news(container, workspace.id)
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann, topic="news")
    address = container.links.links.mailto(workspace.id, send, "mail.acme.example.com")
    forged = container.links.links.mailto(other_workspace.id, send, "mail.acme.example.com")
    assert container.unsubscribe.by_mail([forged, "someone@example.com"]) == 0
    assert rows(container, subscriptions, workspace.id) == []
    assert container.unsubscribe.by_mail(["help@acme.example.com", address.upper()]) == 1
    [status] = rows(container, subscriptions, workspace.id)
    assert (status["topic"], status["status"], status["source"]) == (
        "news",
        "unsubscribed",
        "list_unsubscribe_mailto",
    )
    [event] = events_of(container, workspace.id, "unsubscribed")
    assert event["data"]["via"] == "list_unsubscribe_mailto"  # type: ignore[index]


def test_an_erased_contacts_link_shows_it_is_done_and_changes_nothing(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ann = contact(container, workspace.id)
    send = sent_message(container, workspace.id, ann)
    container.contacts.erase(workspace.id, ann)
    path = unsubscribe_path(container, workspace.id, send, ann)
    assert "This address receives no more email from Acme" in client.get(path).text
    assert client.post(path, data=ONE_CLICK).status_code == 200
    assert rows(container, consent_records, workspace.id) == []
    assert [r["reason"] for r in rows(container, suppressions, workspace.id)] == ["erased"]
