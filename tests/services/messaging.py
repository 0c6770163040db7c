"""Shared helpers for dispatch tests: contacts, templates and outbox rows made through the services,
and a scripted transport that answers per recipient (the one fake of a provider these tests share)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nurture.bootstrap import Container
from nurture.domain.messages.delivery import (
    DeliveryResult,
    Outcome,
    OutgoingEmail,
    OutgoingSms,
    SenderConfig,
)
from nurture.domain.messages.outbox import Message, Source
from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services import outbox
from nurture.services.dispatch import Dispatcher
from nurture.services.templates import TemplateInput
from nurture.services.transports import Channels
from tests.conftest import ingest

ACCEPTED = DeliveryResult(Outcome.ACCEPTED, 250, provider_id="provider-1")


class Scripted:
    """A transport for both channels: records every message it is given and answers from `answers`
    (recipient → result, or a list of results used one per attempt), else ACCEPTED."""

    def __init__(self, answers: dict[str, DeliveryResult | list[DeliveryResult]] | None = None) -> None:
        self.answers = answers or {}
        self.sent: list[OutgoingEmail | OutgoingSms] = []
        self.senders: list[SenderConfig] = []
        self.lock = threading.Lock()

    def send_many(
        self, sender: SenderConfig, emails: Sequence[OutgoingEmail | OutgoingSms]
    ) -> list[DeliveryResult]:
        with self.lock:
            self.sent.extend(emails)
            self.senders.append(sender)
            return [self._answer(e.to) for e in emails]

    def _answer(self, to: str) -> DeliveryResult:
        answer = self.answers.get(to, ACCEPTED)
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer

    def close(self) -> None:
        pass

    def to(self) -> list[str]:
        return [e.to for e in self.sent]


class KilledAfterAccepting(Scripted):
    """The provider accepts the batch, then the dispatcher's process dies before it records anything
    (the exception stands for the kill: nothing after the hand-over runs)."""

    def send_many(
        self, sender: SenderConfig, emails: Sequence[OutgoingEmail | OutgoingSms]
    ) -> list[DeliveryResult]:
        super().send_many(sender, emails)
        raise SystemExit("killed after the provider accepted")


def dispatcher(container: Container, transport: Scripted, **options: Any) -> Dispatcher:
    """A dispatcher on the container's database and clock that sends through `transport`."""
    channels = Channels(email=lambda _ws, _s: transport, sms=lambda _ws, _s: transport)  # type: ignore[arg-type,return-value]
    return Dispatcher(container.db, container.clock, container.templates.cache, channels, **options)


def contact(container: Container, workspace_id: str, user: str, **traits: Any) -> str:
    ingest(container, workspace_id, {"type": "identify", "userId": user, "traits": traits})
    return container.contacts.list(workspace_id, user_id=user).items[0].id


def template(
    container: Container,
    workspace_id: str,
    *,
    kind: TemplateKind = TemplateKind.EMAIL,
    category: Category = Category.MARKETING,
    subject: str = "Hi {{ contact.first_name | default: 'there' }}",
    html: str = "<p>Hello {{ contact.first_name }} {{ data.order }}</p>",
    text: str | None = None,
    name: str = "Welcome",
    from_email: str | None = None,
) -> str:
    if kind is TemplateKind.SMS:
        content = Content(text=text or "Hi {{ contact.first_name }}")
    else:
        if category is Category.MARKETING and "postal_address" not in html:
            html += "<p>{{ workspace.postal_address }}</p>"  # CAN-SPAM: marketing mail shows it
        content = Content(
            subject=subject, body_format=BodyFormat.HTML, body=html, text=text, from_email=from_email
        )
    return container.templates.create(workspace_id, TemplateInput(name, kind, category, content)).id


def sender(container: Container, workspace_id: str, **fields: Any) -> str:
    data = {"name": "Main", "from_name": "Acme", "from_email": "news@acme.example.com", **fields}
    return container.senders.create(workspace_id, data).id


def enqueue(
    container: Container,
    workspace_id: str,
    contact_id: str,
    template_id: str,
    key: str,
    *,
    category: str = "marketing",
    channel: str = "email",
    topic: str | None = None,
    due_at: datetime | None = None,
    context: dict[str, Any] | None = None,
) -> str:
    wanted = outbox.NewMessage(
        contact_id=contact_id,
        channel=channel,
        category=category,
        source=Source.JOURNEY,
        source_key=key,
        template_id=template_id,
        topic=topic,
        context=context or {},
        due_at=due_at,
    )
    with container.db.write() as conn:
        [message_id] = outbox.enqueue(conn, workspace_id, [wanted], container.clock.now()).ids
    return message_id


def message(container: Container, workspace_id: str, message_id: str) -> Message:
    return container.messages.get(workspace_id, message_id)[0]


def status(container: Container, workspace_id: str, message_id: str) -> tuple[str, str | None]:
    found = message(container, workspace_id, message_id)
    return found.status, found.reason
