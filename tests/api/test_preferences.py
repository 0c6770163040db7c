"""The preference page: topics with the contact's status, saving only what the person changed, the
form's own MAC instead of cookies, and unsubscribing from everything and back."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.services.identity import address_hash
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import consent_records, suppressions
from tests.api.outbox_rows import contact
from tests.conftest import secret


def setup_topics(container: Container, workspace_id: str) -> None:
    container.topics.create(
        workspace_id,
        "email",
        "news",
        {"label": "Weekly news", "description": "Every Monday", "default_status": "subscribed"},
    )
    container.topics.create(
        workspace_id, "email", "offers", {"label": "Offers", "default_status": "unsubscribed"}
    )
    container.topics.create(workspace_id, "email", "events", {"label": "Events", "double_opt_in": True})
    container.topics.create(workspace_id, "sms", "alerts", {"label": "SMS alerts"})


def page_path(container: Container, workspace_id: str, contact_id: str) -> str:
    return container.links.links.preferences_url(workspace_id, contact_id).removeprefix("http://testserver")


def form_of(html: str) -> str:
    found = re.search(r'name="form" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def ticked(html: str) -> list[str]:
    return re.findall(r'name="topic" value="([^"]+)" checked', html)


def statuses(client: TestClient, workspace: NewWorkspace, contact_id: str) -> dict[object, str]:
    found = client.get(f"/api/v1/contacts/{contact_id}/subscriptions", headers=secret(workspace)).json()
    return {s["topic"]: s["status"] for s in found}


def records(container: Container, workspace_id: str) -> list[dict[str, object]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(consent_records)
            .where(consent_records.c.workspace_id == workspace_id)
            .order_by(consent_records.c.id)
        )
        return [dict(r._mapping) for r in rows]


def test_the_page_lists_the_email_topics_ticked_as_they_reach_the_contact(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    setup_topics(container, workspace.id)
    ann = contact(container, workspace.id)
    page = client.get(page_path(container, workspace.id, ann))
    assert page.status_code == 200
    assert "Choose which emails Acme sends to ann@example.com." in page.text
    assert ticked(page.text) == ["news"]  # opt-out topic; offers and events are opt-in
    assert "Every Monday" in page.text
    assert "SMS alerts" not in page.text
    assert '<label for="topic-offers">' in page.text
    assert records(container, workspace.id) == []


def test_saving_changes_only_what_the_person_changed_with_the_words_shown(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    setup_topics(container, workspace.id)
    ann = contact(container, workspace.id)
    path = page_path(container, workspace.id, ann)
    form = form_of(client.get(path).text)
    saved = client.post(
        path,
        data={"form": form, "action": "save", "topic": ["offers", "events"]},
        headers={"User-Agent": "Firefox"},
    )
    assert saved.status_code == 200, saved.text
    assert "Your choices are saved." in saved.text
    assert sorted(ticked(saved.text)) == ["events", "offers"]
    assert statuses(client, workspace, ann) == {
        "news": "unsubscribed",
        "offers": "subscribed",
        "events": "subscribed",
    }
    kept = records(container, workspace.id)
    assert {r["topic"] for r in kept} == {"news", "offers", "events"}
    assert {r["source"] for r in kept} == {"preference_page"}
    offers = next(r for r in kept if r["topic"] == "offers")
    assert offers["text"] == "Choose which emails Acme sends to ann@example.com.\n[x] Offers"
    assert (offers["ip"], offers["user_agent"]) == ("testclient", "Firefox")
    # the same form again changes nothing
    again = client.post(path, data={"form": form, "action": "save", "topic": ["offers", "events"]})
    assert again.status_code == 200
    assert len(records(container, workspace.id)) == 3


def test_forms_without_the_pages_mac_or_with_unknown_topics_are_refused(
    container: Container, client: TestClient, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    setup_topics(container, workspace.id)
    ann = contact(container, workspace.id)
    bob = contact(container, workspace.id, "bob@example.com")
    path = page_path(container, workspace.id, ann)
    form = form_of(client.get(path).text)
    bobs_form = form_of(client.get(page_path(container, workspace.id, bob)).text)
    cases = [
        ({"action": "save", "topic": "offers"}, "form"),
        ({"form": bobs_form, "action": "save"}, "form"),
        ({"form": form, "action": "delete_everything"}, "action"),
        ({"form": form, "action": "save", "topic": "alerts"}, "topic"),  # an SMS topic
        ({"form": form, "action": "save", "topic": "nosuch"}, "topic"),
    ]
    for body, field in cases:
        problem = client.post(path, data=body)
        assert problem.status_code == 400, body
        assert problem.json()["errors"][0]["field"] == field, body
    stale = client.post(path, data={"form": "1000.abc", "action": "save"}, headers={"Accept": "text/html"})
    assert stale.status_code == 400
    assert "form: this form was not made by this page" in stale.text
    foreign = container.links.links.preferences_url(other_workspace.id, ann).removeprefix("http://testserver")
    assert client.get(foreign).status_code == 200  # a valid link of B shows B's (empty) page…
    assert "ann@example.com" not in client.get(foreign).text  # …never A's contact
    assert records(container, workspace.id) == []


def test_unsubscribing_from_everything_and_coming_back_keeps_untouched_topics_off(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    setup_topics(container, workspace.id)
    ann = contact(container, workspace.id)
    path = page_path(container, workspace.id, ann)
    form = form_of(client.get(path).text)
    out = client.post(path, data={"form": form, "action": "unsubscribe_all", "topic": "news"})
    assert out.status_code == 200
    assert "You are unsubscribed from all email." in out.text
    assert ticked(out.text) == []
    assert statuses(client, workspace, ann) == {None: "unsubscribed"}
    with container.db.read() as conn:
        [row] = conn.execute(select(suppressions).where(suppressions.c.workspace_id == workspace.id)).all()
    assert (row.value_hash, row.reason) == (address_hash("ann@example.com"), "unsubscribed")
    # back for the offers only: news (opt-out by default) must not start arriving again
    back = client.post(path, data={"form": form_of(out.text), "action": "save", "topic": "offers"})
    assert ticked(back.text) == ["offers"]
    assert statuses(client, workspace, ann) == {
        None: "subscribed",
        "news": "unsubscribed",
        "offers": "subscribed",
    }
    with container.db.read() as conn:
        assert (
            conn.execute(select(suppressions).where(suppressions.c.workspace_id == workspace.id)).all() == []
        )
    assert client.get(f"/api/v1/contacts/{ann}", headers=secret(workspace)).json()["suppressed"] is False


def test_saving_nothing_after_unsubscribing_from_everything_keeps_it_so(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    setup_topics(container, workspace.id)
    ann = contact(container, workspace.id)
    path = page_path(container, workspace.id, ann)
    out = client.post(path, data={"form": form_of(client.get(path).text), "action": "unsubscribe_all"})
    client.post(path, data={"form": form_of(out.text), "action": "save"})
    assert statuses(client, workspace, ann) == {None: "unsubscribed"}
