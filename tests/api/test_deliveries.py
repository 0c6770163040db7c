"""Delivery reports over HTTP: provider webhooks with their signatures, their configuration, and the
inbound DSN/ARF endpoint."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.services.workspaces import NewWorkspace
from tests.conftest import START, secret
from tests.domain import provider_samples as samples
from tests.services.deliveries import dsn, events_of, sent_email, suppression

MAILGUN_KEY = "key-0123456789abcdef0123"
NOW = int(START.timestamp())  # the container's manual clock: signatures must be recent to it


def configure(client: TestClient, workspace: NewWorkspace, body: dict[str, Any]) -> str:
    response = client.post("/api/v1/delivery-reports", headers=secret(workspace), json=body)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["path"] == f"/api/v1/delivery-reports/{body['provider']}/{made['token']}"
    path: str = made["path"]
    return path


def failed_for(send: str, recipient: str) -> dict[str, Any]:
    return samples.MAILGUN_FAILED | {
        "recipient": recipient,
        "message": {"headers": {"message-id": f"{send}@mail.example.com", "to": recipient}},
    }


def test_a_signed_mailgun_failure_suppresses_the_address(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    _, send = sent_email(container, workspace.id, "alice@example.com")
    path = configure(client, workspace, {"provider": "mailgun", "signing_key": MAILGUN_KEY})
    body = samples.mailgun_event(failed_for(send, "alice@example.com"), key=MAILGUN_KEY, stamp=NOW)
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "recorded": 1,
        "suppressed": 1,
        "duplicates": 0,
        "without_send_id": 0,
        "unknown_send_ids": [],
    }
    assert suppression(container, workspace.id, "alice@example.com") == "hard_bounce"
    again = client.post(path, content=body, headers={"content-type": "application/json"})
    assert again.json()["duplicates"] == 1


def test_webhook_requests_that_fail_authentication_are_401_problems(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    _, send = sent_email(container, workspace.id, "alice@example.com")
    path = configure(client, workspace, {"provider": "mailgun", "signing_key": MAILGUN_KEY})
    wrong_key = samples.mailgun_event(
        failed_for(send, "alice@example.com"), key="key-not-the-right-one", stamp=NOW
    )
    for url, body in (
        (path, wrong_key),
        (
            path.rsplit("/", 1)[0] + "/nd_not-a-token",
            samples.mailgun_event(samples.MAILGUN_FAILED, MAILGUN_KEY, NOW),
        ),
        (
            path.replace("/mailgun/", "/sendgrid/"),
            samples.mailgun_event(samples.MAILGUN_FAILED, MAILGUN_KEY, NOW),
        ),
    ):
        response = client.post(url, content=body)
        assert response.status_code == 401, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert events_of(container, workspace.id, send) == []
    unknown = client.post(path.replace("/mailgun/", "/sparkpost/"), content=b"{}")
    assert unknown.status_code == 404
    assert "use one of ses, sendgrid, postmark, mailgun" in unknown.json()["detail"]


def test_a_verified_request_with_a_bad_body_is_a_400_naming_the_field(
    client: TestClient, workspace: NewWorkspace
) -> None:
    path = configure(client, workspace, {"provider": "mailgun", "signing_key": MAILGUN_KEY})
    body = samples.mailgun_event({"event": "failed", "severity": "permanent"}, key=MAILGUN_KEY, stamp=NOW)
    response = client.post(path, content=body)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "event-data.recipient", "message": "is required"}]
    not_json = client.post(path, content=b"{oops")
    assert not_json.status_code == 400
    assert not_json.json()["errors"][0]["field"] == "body"


def test_one_workspaces_token_never_reaches_another_workspaces_sends(
    container: Container, client: TestClient, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    _, send = sent_email(container, workspace.id, "alice@example.com")
    theirs = configure(client, other_workspace, {"provider": "mailgun", "signing_key": MAILGUN_KEY})
    body = samples.mailgun_event(failed_for(send, "alice@example.com"), key=MAILGUN_KEY, stamp=NOW)
    response = client.post(theirs, content=body)
    assert response.status_code == 200
    assert response.json()["unknown_send_ids"] == [send]
    assert suppression(container, workspace.id, "alice@example.com") is None
    assert events_of(container, workspace.id, send) == []


def test_sendgrid_postmark_and_ses_webhooks(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    _, send = sent_email(container, workspace.id, "example@test.com")
    key, public = samples.sendgrid_keys()
    path = configure(client, workspace, {"provider": "sendgrid", "public_key": public})
    # the documentation's events all carry the placeholder id "sg_event_id": real ones are unique
    events = [
        dict(e, **{"smtp-id": f"<{send}@mail.example.com>", "sg_event_id": f"event-{n}"})
        for n, e in enumerate(samples.SENDGRID_EVENTS)
    ]
    body = json.dumps(events).encode()
    response = client.post(path, content=body, headers=samples.sendgrid_headers(key, body, NOW))
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 5  # the spam report names its send by custom arg only: unknown
    assert suppression(container, workspace.id, "example@test.com") == "hard_bounce"

    _, second = sent_email(container, workspace.id, "john@example.com")
    path = configure(client, workspace, {"provider": "postmark", "basic_password": "postmark-webhook-secret"})
    complaint = samples.POSTMARK_SPAM_COMPLAINT | {"Metadata": {"nurture_send_id": second}}
    basic = "Basic " + base64.b64encode(b"nurture:postmark-webhook-secret").decode()
    response = client.post(path, json=complaint, headers={"Authorization": basic})
    assert response.status_code == 200, response.text
    assert suppression(container, workspace.id, "john@example.com") == "complaint"
    assert client.post(path, json=complaint).status_code == 401

    rsa_key, pem = samples.signing_certificate()
    _, third = sent_email(container, workspace.id, "recipient@example.com")
    path = configure(
        client, workspace, {"provider": "ses", "certificates_pem": pem, "topic_arns": [samples.TOPIC]}
    )
    confirm = samples.sns_message(rsa_key, "You have chosen to subscribe", "SubscriptionConfirmation")
    response = client.post(path, json=confirm)
    assert response.status_code == 200, response.text
    assert response.json()["subscribe_url"].startswith("https://sns.us-east-1.amazonaws.com/")
    bounce = json.loads(json.dumps(samples.SES_BOUNCE))
    bounce["mail"]["headers"][2]["value"] = f"<{third}@mail.example.com>"
    response = client.post(path, json=samples.sns_message(rsa_key, json.dumps(bounce)))
    assert response.status_code == 200, response.text
    assert suppression(container, workspace.id, "recipient@example.com") == "hard_bounce"


def test_configuration_is_checked_listed_without_secrets_and_removable(
    client: TestClient, workspace: NewWorkspace
) -> None:
    headers = secret(workspace)
    for body, field in (
        ({"signing_key": MAILGUN_KEY}, "provider"),
        ({"provider": "sparkpost"}, "provider"),
        ({"provider": "mailgun", "signing_key": "short"}, "signing_key"),
        ({"provider": "sendgrid", "public_key": "bm90IGEga2V5"}, "public_key"),
        ({"provider": "ses", "certificates_pem": "nope", "topic_arns": ["x"]}, "certificates_pem"),
    ):
        response = client.post("/api/v1/delivery-reports", headers=headers, json=body)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
    configure(client, workspace, {"provider": "mailgun", "signing_key": MAILGUN_KEY})
    listed = client.get("/api/v1/delivery-reports", headers=headers).json()["data"]
    assert [(w["provider"], w["settings"]) for w in listed] == [("mailgun", ["signing_key"])]
    assert MAILGUN_KEY not in json.dumps(listed)
    assert client.delete("/api/v1/delivery-reports/mailgun", headers=headers).status_code == 204
    assert client.delete("/api/v1/delivery-reports/mailgun", headers=headers).status_code == 404


def test_inbound_report_mail(container: Container, client: TestClient, workspace: NewWorkspace) -> None:
    _, send = sent_email(container, workspace.id, "ann@example.com")
    report = dsn(send, "ann@example.com", "5.2.2", "552 5.2.2 Mailbox full")
    headers = {**secret(workspace), "content-type": "message/rfc822"}
    response = client.post("/api/v1/bounces/inbound", content=report, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 1
    [event] = events_of(container, workspace.id, send)
    assert (event["data"]["bounce"], event["data"]["reason"]) == ("soft", "mailboxfull")
    empty = client.post("/api/v1/bounces/inbound", content=b"", headers=headers)
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["field"] == "body"
    assert client.post("/api/v1/bounces/inbound", content=report).status_code == 401
