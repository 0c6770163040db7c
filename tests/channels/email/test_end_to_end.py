"""The whole email path with real peers: an outbox row → the dispatcher → the SMTP transport → a real
aiosmtpd server on loopback. The received bytes parse as multipart/alternative with the compliance
headers, DKIM verifies against the test key, and the one-click unsubscribe and the click redirect
work over HTTP from the links the mail carries."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from urllib.parse import urlsplit

import dkim
from fastapi.testclient import TestClient

from nurture.bootstrap import Container
from nurture.domain.messages.delivery import DkimKey
from nurture.services.workspaces import NewWorkspace
from tests.channels.email.smtp_server import SmtpServer
from tests.services.messaging import contact, enqueue, sender, template


def test_a_marketing_mail_arrives_signed_with_one_click_unsubscribe_and_tracked_links(
    container: Container,
    client: TestClient,
    workspace: NewWorkspace,
    key: DkimKey,
    dns: Callable[..., bytes | None],
) -> None:
    container.messaging.replace(workspace.id, {"postal_address": "Acme Inc., 1 Main Street"})
    with SmtpServer() as server:
        sender(
            container,
            workspace.id,
            from_email="news@shop.example",
            smtp_url=server.url(),
            dkim_domain=key.domain,
            dkim_selector=key.selector,
            dkim_key=key.private_key.decode(),
        )
        ann = contact(container, workspace.id, "ann", email="ann@example.com", first_name="Ann")
        promo = template(
            container,
            workspace.id,
            html='<p>Hi {{ contact.first_name }}, <a href="https://shop.example/sale">see the sale</a></p>',
        )
        enqueue(container, workspace.id, ann, promo, "campaign:1")
        stats = container.dispatcher.run_once()
        assert stats.sent == 1
        [received] = server.recorder.received
    assert received.rcpt_tos == ["ann@example.com"]
    assert dkim.verify(received.data, dnsfunc=dns)
    parsed = email.message_from_bytes(received.data, policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (value.strip(" <>") for value in parsed["List-Unsubscribe"].split(","))
    assert mailto.startswith("mailto:unsubscribe+")
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "Acme Inc., 1 Main Street" in html

    click = re.search(r'href="([^"]+/t/c/[^"]+)"', html)
    assert click is not None
    redirected = client.get(urlsplit(click.group(1)).path, follow_redirects=False)
    assert (redirected.status_code, redirected.headers["location"]) == (302, "https://shop.example/sale")

    unsubscribe = urlsplit(https).path
    assert client.get(unsubscribe).status_code == 200  # a scanner's GET changes nothing
    assert container.subscriptions.of_contact(workspace.id, ann) == []
    done = client.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    assert [(s.channel, s.status.value) for s in container.subscriptions.of_contact(workspace.id, ann)] == [
        ("email", "unsubscribed")
    ]
