"""SMS through the API: provider settings, the inbound STOP / START webhook changing SMS consent, the
delivery status callback, and Twilio signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.messages.outbox import Source
from nurture.services import outbox
from nurture.services.identity import address_hash
from nurture.services.workspaces import NewWorkspace
from nurture.store import suppressions as suppression_store
from nurture.store.schema import message_events, suppressions
from tests.api.admin import problem
from tests.conftest import ingest, secret

SETTINGS = "/api/v1/sms/settings"
TOKEN = "AUTHTOKEN-1234"
ANN = "+14155550101"


def twilio_signature(token: str, url: str, form: dict[str, str]) -> str:
    """As Twilio signs: HMAC-SHA1 of the URL and the sorted parameters, base64 (written out here
    independently of the code under test)."""
    data = url + "".join(key + form[key] for key in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def urls(client: TestClient, workspace: NewWorkspace) -> dict[str, str]:
    body = {"account_sid": "AC0123", "auth_token": TOKEN, "from_number": "+1 415 555 0100"}
    response = client.put(SETTINGS, headers=secret(workspace), json=body)
    assert response.status_code == 200, response.text
    made: dict[str, str] = response.json()
    return made


def post_callback(client: TestClient, url: str, form: dict[str, str], token: str | None = TOKEN) -> Any:
    local = url.replace("http://127.0.0.1:8000", "http://testserver")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if token is not None:
        headers["x-twilio-signature"] = twilio_signature(token, local, form)
    return client.post(local, content=urlencode(form), headers=headers)


def inbound(body: str, sender: str = ANN) -> dict[str, str]:
    return {
        "MessageSid": "SM" + "0" * 32,
        "AccountSid": "AC0123",
        "From": sender,
        "To": "+14155550100",
        "Body": body,
        "NumMedia": "0",
    }


def sms_status(container: Container, workspace_id: str, contact_id: str) -> str | None:
    subs = container.subscriptions.of_contact(workspace_id, contact_id)
    return next((s.status.value for s in subs if s.channel == "sms" and s.topic is None), None)


def suppressed(container: Container, workspace_id: str, phone: str) -> list[str]:
    with container.db.read() as conn:
        return list(
            conn.execute(
                select(suppressions.c.reason).where(
                    suppressions.c.workspace_id == workspace_id,
                    suppressions.c.channel == "sms",
                    suppressions.c.value_hash == address_hash(phone),
                )
            ).scalars()
        )


def people(container: Container, workspace_id: str) -> list[str]:
    ingest(
        container,
        workspace_id,
        {"type": "identify", "userId": "ann", "traits": {"phone": ANN}},
        {"type": "identify", "userId": "ann-work", "traits": {"phone": "+1 (415) 555-0101"}},
        {"type": "identify", "userId": "bob", "traits": {"phone": "+14155550102"}},
    )
    return [container.contacts.list(workspace_id, user_id=u).items[0].id for u in ("ann", "ann-work", "bob")]


def test_settings_hide_the_token_and_give_the_callback_urls(
    client: TestClient, workspace: NewWorkspace
) -> None:
    before = client.get(SETTINGS, headers=secret(workspace)).json()
    assert (before["configured"], before["inbound_url"], before["auth_token_set"]) == (False, None, False)
    saved = client.put(
        SETTINGS,
        headers=secret(workspace),
        json={"account_sid": "AC1", "auth_token": "t0k", "from_number": "+44 20 7946 0958"},
    ).json()
    assert saved["from_number"] == "+442079460958"
    assert (saved["configured"], saved["auth_token_set"]) == (True, True)
    assert "t0k" not in str(saved)
    assert saved["inbound_url"].startswith(f"http://testserver/api/v1/sms/inbound/{workspace.id}.")
    token = saved["inbound_url"].rsplit("/", 1)[1]
    assert saved["status_callback_url"] == f"http://testserver/api/v1/sms/status/{token}"
    # leaving the token out keeps it; the callback secret never changes
    again = client.put(
        SETTINGS, headers=secret(workspace), json={"account_sid": "AC2", "from_number": "+442079460958"}
    )
    assert (again.json()["auth_token_set"], again.json()["inbound_url"]) == (True, saved["inbound_url"])
    assert client.get(SETTINGS, headers=secret(workspace)).json() == again.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_number": "0301234"}, "from_number"),
        ({"from_number": 4915112345}, "from_number"),
        ({"base_url": "ftp://sms.example.com"}, "base_url"),
        ({"base_url": "https://AC1:tok@api.twilio.com"}, "base_url"),
        ({"account_sid": "AC 1"}, "account_sid"),
        ({"auth_token": ""}, "auth_token"),
        ({"messaging_service_sid": "MG/1"}, "messaging_service_sid"),
        ({"provider": "twilio"}, "provider"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    client: TestClient, workspace: NewWorkspace, body: dict[str, Any], field: str
) -> None:
    assert problem(client.put(SETTINGS, headers=secret(workspace), json=body)) == [field]
    assert client.get(SETTINGS, headers=secret(workspace)).json()["inbound_url"] is None


def test_stop_unsubscribes_every_contact_with_the_number_and_start_undoes_it(
    container: Container, client: TestClient, workspace: NewWorkspace, urls: dict[str, str]
) -> None:
    ann, ann_work, bob = people(container, workspace.id)
    container.subscriptions.set(workspace.id, ann, "sms", None, "subscribed")

    stopped = post_callback(client, urls["inbound_url"], inbound("Stop"))

    assert stopped.status_code == 200, stopped.text
    assert stopped.headers["content-type"].startswith("text/xml")
    assert "<Response>" in stopped.text
    assert [sms_status(container, workspace.id, c) for c in (ann, ann_work, bob)] == [
        "unsubscribed",
        "unsubscribed",
        None,
    ]
    assert suppressed(container, workspace.id, ANN) == ["unsubscribed"]
    feed = container.activities.of_contact(workspace.id, ann, kinds=["subscription_changed"]).items
    assert feed[-1].data | {"from": None} == {
        "channel": "sms",
        "topic": None,
        "from": None,
        "to": "unsubscribed",
        "source": "sms_keyword",
    }

    assert post_callback(client, urls["inbound_url"], inbound("HELP")).status_code == 200
    assert sms_status(container, workspace.id, ann) == "unsubscribed"

    assert post_callback(client, urls["inbound_url"], inbound("start")).status_code == 200
    assert [sms_status(container, workspace.id, c) for c in (ann, ann_work, bob)] == [
        "subscribed",
        "subscribed",
        None,
    ]
    assert suppressed(container, workspace.id, ANN) == []


def test_stop_from_an_unknown_number_still_suppresses_it_and_start_keeps_other_reasons(
    container: Container, client: TestClient, workspace: NewWorkspace, urls: dict[str, str]
) -> None:
    stranger = "+14155550199"
    assert post_callback(client, urls["inbound_url"], inbound("UNSUBSCRIBE", stranger)).status_code == 200
    assert suppressed(container, workspace.id, stranger) == ["unsubscribed"]
    erased = "+14155550198"
    with container.db.write() as conn:
        suppression_store.add(
            conn, workspace.id, "sms", address_hash(erased), "erased", container.clock.now()
        )
    assert post_callback(client, urls["inbound_url"], inbound("START", erased)).status_code == 200
    assert suppressed(container, workspace.id, erased) == ["erased"]


def test_twilios_advanced_opt_out_type_wins_over_the_text(
    container: Container, client: TestClient, workspace: NewWorkspace, urls: dict[str, str]
) -> None:
    ann = people(container, workspace.id)[0]
    form = {**inbound("ARRET"), "OptOutType": "STOP"}  # a custom keyword configured at Twilio
    assert post_callback(client, urls["inbound_url"], form).status_code == 200
    assert sms_status(container, workspace.id, ann) == "unsubscribed"


def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    container: Container, client: TestClient, workspace: NewWorkspace, urls: dict[str, str]
) -> None:
    ann = people(container, workspace.id)[0]
    for token in ("wrong-token", None):
        response = post_callback(client, urls["inbound_url"], inbound("STOP"), token=token)
        assert problem(response, 403) == []
    # signed for other parameters than those sent
    url = urls["inbound_url"].replace("http://127.0.0.1:8000", "http://testserver")
    forged = client.post(
        url,
        data=inbound("STOP"),
        headers={"x-twilio-signature": twilio_signature(TOKEN, url, inbound("HELP"))},
    )
    assert problem(forged, 403) == []
    assert sms_status(container, workspace.id, ann) is None
    assert suppressed(container, workspace.id, ANN) == []


def test_a_callback_url_with_a_wrong_secret_or_workspace_is_not_found(
    container: Container,
    client: TestClient,
    workspace: NewWorkspace,
    other_workspace: NewWorkspace,
    urls: dict[str, str],
) -> None:
    people(container, workspace.id)
    token = urls["inbound_url"].rsplit("/", 1)[1]
    _, secret_part = token.split(".")
    for bad in (
        f"{workspace.id}.x{secret_part}",
        f"{other_workspace.id}.{secret_part}",
        secret_part,
        "a.b.c",
    ):
        url = f"http://testserver/api/v1/sms/inbound/{bad}"
        assert problem(post_callback(client, url, inbound("STOP")), 404) == []
    assert suppressed(container, workspace.id, ANN) == []


def test_inbound_bad_input_names_the_field(
    container: Container, client: TestClient, workspace: NewWorkspace, urls: dict[str, str]
) -> None:
    assert problem(post_callback(client, urls["inbound_url"], inbound("STOP", "555-0101"))) == ["From"]
    form = inbound("STOP")
    del form["From"]
    assert problem(post_callback(client, urls["inbound_url"], form)) == ["From"]


def test_without_an_auth_token_the_url_secret_alone_admits_callbacks(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    saved = client.put(SETTINGS, headers=secret(workspace), json={"from_number": "+14155550100"}).json()
    ann = people(container, workspace.id)[0]
    assert post_callback(client, saved["inbound_url"], inbound("stop"), token=None).status_code == 200
    assert sms_status(container, workspace.id, ann) == "unsubscribed"


def _message(container: Container, workspace_id: str, contact_id: str) -> str:
    with container.db.write() as conn:
        wanted = outbox.NewMessage(contact_id, "sms", "marketing", Source.TEST, "t1", template_id="tpl")
        return outbox.enqueue(conn, workspace_id, [wanted], container.clock.now()).ids[0]


def _events(container: Container, workspace_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(message_events.c.message_id, message_events.c.kind, message_events.c.data)
            .where(message_events.c.workspace_id == workspace_id)
            .order_by(message_events.c.kind)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_delivery_reports_become_message_events_once(
    container: Container, client: TestClient, workspace: NewWorkspace, urls: dict[str, str]
) -> None:
    ann = people(container, workspace.id)[0]
    message_id = _message(container, workspace.id, ann)
    status_url = f"{urls['status_callback_url']}?message_id={message_id}"
    report = {"MessageSid": "SM1", "AccountSid": "AC0123", "To": ANN}

    for status in ("queued", "sent", "delivered", "delivered"):
        response = post_callback(client, status_url, {**report, "MessageStatus": status})
        assert response.status_code == 204, response.text
    failed = {**report, "MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_callback(client, status_url, failed).status_code == 204

    assert _events(container, workspace.id) == [
        (
            message_id,
            "bounced",
            {"provider": "twilio", "status": "undelivered", "provider_id": "SM2", "error_code": "30003"},
        ),
        (message_id, "delivered", {"provider": "twilio", "status": "delivered", "provider_id": "SM1"}),
    ]
    names = [
        e.name
        for e in container.contacts.events(workspace.id, ann, cursor=None).items
        if e.name and e.name.startswith("SMS")
    ]
    assert sorted(names) == ["SMS Delivered", "SMS Undelivered"]


def test_delivery_report_bad_input(
    container: Container, client: TestClient, workspace: NewWorkspace, urls: dict[str, str]
) -> None:
    report = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    assert problem(post_callback(client, urls["status_callback_url"], report)) == ["message_id"]
    unknown = f"{urls['status_callback_url']}?message_id=nosuchmessage"
    assert problem(post_callback(client, unknown, report), 404) == []
    ann = people(container, workspace.id)[0]
    known = f"{urls['status_callback_url']}?message_id={_message(container, workspace.id, ann)}"
    assert problem(post_callback(client, known, {"MessageSid": "SM1"})) == ["MessageStatus"]
    assert problem(post_callback(client, known, report, token="bad"), 403) == []
    assert _events(container, workspace.id) == []
