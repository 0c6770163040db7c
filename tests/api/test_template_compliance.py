"""CAN-SPAM through the templates API: a marketing email template that would not show the workspace's
postal address is refused naming the field; the preview shows the address of the messaging settings."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import messaging_settings
from tests.conftest import secret

MJML_TEXT = "<mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>"
NO_ADDRESS = {"name": "Spring sale", "subject": "Sale", "html": "<p>20% off</p>"}


def test_a_marketing_email_without_the_postal_address_is_refused_naming_the_body(
    client: TestClient, workspace: NewWorkspace
) -> None:
    admin = secret(workspace)
    mjml = {**NO_ADDRESS, "html": None, "mjml": f"<mjml><mj-body>{MJML_TEXT}</mj-body></mjml>"}
    for body, field in ((NO_ADDRESS, "html"), (mjml, "mjml")):
        problem = client.post("/api/v1/templates", headers=admin, json=body)
        assert problem.status_code == 400, problem.text
        [error] = problem.json()["errors"]
        assert error["field"] == field
        assert "{{ workspace.postal_address }}" in error["message"]
        assert "CAN-SPAM" in error["message"]
    text_only = {**NO_ADDRESS, "html": "<p>Hi {{ workspace.postal_address }}</p>", "text": "Hi"}
    assert (
        client.post("/api/v1/templates", headers=admin, json=text_only).json()["errors"][0]["field"] == "text"
    )
    receipt = {**NO_ADDRESS, "name": "Receipt", "category": "transactional"}
    kept = client.post("/api/v1/templates", headers=admin, json=receipt)
    assert kept.status_code == 201
    layout = client.post(
        "/api/v1/layouts",
        headers=admin,
        json={
            "name": "Brand",
            "body": "<html><body>{{ content }}{{ workspace.postal_address }}</body></html>",
        },
    ).json()
    made = client.post("/api/v1/templates", headers=admin, json={**NO_ADDRESS, "layout_id": layout["id"]})
    assert made.status_code == 201, made.text
    # a new version that drops the layout is refused, and the template keeps its version
    changed = client.put(f"/api/v1/templates/{made.json()['id']}", headers=admin, json=NO_ADDRESS)
    assert changed.json()["errors"][0]["field"] == "html"
    assert client.get(f"/api/v1/templates/{made.json()['id']}", headers=admin).json()["version"] == 1
    # so is turning a transactional template into marketing
    to_marketing = {**receipt, "category": "marketing"}
    problem = client.put(f"/api/v1/templates/{kept.json()['id']}", headers=admin, json=to_marketing)
    assert problem.json()["errors"][0]["field"] == "html"


def test_the_preview_shows_the_postal_address_of_the_messaging_settings(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    with container.db.write() as conn:
        conn.execute(
            messaging_settings.insert().values(
                workspace_id=workspace.id,
                data={"postal_address": "Acme Inc., 1 Main Street, Springfield"},
                updated_at=container.clock.now(),
            )
        )
    admin = secret(workspace)
    body = {**NO_ADDRESS, "html": "<p>20% off</p><footer>{{ workspace.postal_address }}</footer>"}
    template = client.post("/api/v1/templates", headers=admin, json=body).json()
    shown = client.post(f"/api/v1/templates/{template['id']}/preview", headers=admin, json={}).json()
    assert "<footer>Acme Inc., 1 Main Street, Springfield</footer>" in shown["html"]
