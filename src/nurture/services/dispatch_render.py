"""The dispatcher's second phase: turn each message that passed the policies into what its channel
sends — the template version rendered for the contact (compiled once per process, TemplateCache), the
sender resolved, tracking's links and headers added. A message that cannot be built fails with the
reason; nothing half-built is sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.errors import Invalid, NotFound
from nurture.domain.messages.delivery import OutgoingEmail, OutgoingSms, SenderConfig
from nurture.domain.messages.outbox import OutboxMessage, Source
from nurture.domain.messages.policies import Reason
from nurture.domain.messages.senders import Sender
from nurture.domain.templates.context import account_data, contact_data, message_context
from nurture.domain.templates.model import Content, TemplateKind
from nurture.domain.templates.render import CompiledTemplate, RenderedMessage
from nurture.services.alerts import CONTEXT_KEY as ALERT_KEY
from nurture.services.dispatch_policy import Decided, ToSend
from nurture.services.templates import TemplateCache
from nurture.services.transports import MessageLinks
from nurture.store import senders as sender_store
from nurture.store import templates as template_store
from nurture.store.db import Database

TEST_PREFIX = "[Test] "
SMS_SENDER = "sms"  # the SenderConfig id SMS goes out under: the workspace's SMS provider


@dataclass(frozen=True)
class Prepared:
    """One message ready for its transport, or why it cannot be sent."""

    item: ToSend
    template_version: int | None = None
    sender: SenderConfig | None = None
    email: OutgoingEmail | None = None
    sms: OutgoingSms | None = None
    failure: tuple[Reason, str] | None = None

    @property
    def subject(self) -> str | None:
        return self.email.subject if self.email else None


@dataclass(frozen=True)
class _Template:
    version: int
    kind: TemplateKind
    content: Content
    compiled: CompiledTemplate


class Renderer:
    def __init__(self, db: Database, cache: TemplateCache, links: MessageLinks, smtp_url: str | None) -> None:
        self.db = db
        self.cache = cache
        self.links = links
        self.smtp_url = smtp_url

    def prepare(self, decided: Decided, now: datetime) -> list[Prepared]:
        workspace_id = decided.workspace_id
        with self.db.read() as conn:
            templates = self._templates(conn, workspace_id, decided.to_send)
            named = {i.message.sender_id for i in decided.to_send if i.message.sender_id}
            senders = sender_store.by_ids(conn, workspace_id, named)
            default = sender_store.default(conn, workspace_id)
        out = []
        for item in decided.to_send:
            message = item.message
            key = (message.template_id or "", message.template_version)
            template = templates.get(key)
            alert = message.context.get(ALERT_KEY) if message.template_id is None else None
            if isinstance(alert, Mapping) and message.channel == "email":
                out.append(self._alert(item, alert, default))
                continue
            if not isinstance(template, _Template):
                why = template or "the message has no template"
                out.append(Prepared(item, failure=(Reason.RENDER_ERROR, why)))
                continue
            try:
                rendered = template.compiled.render(self._context(decided, item, now))
            except Invalid as err:
                detail = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in err.errors)
                out.append(Prepared(item, template.version, failure=(Reason.RENDER_ERROR, detail)))
                continue
            if message.channel == "sms":
                sms = OutgoingSms(message.id, item.address, rendered.text)
                out.append(Prepared(item, template.version, SenderConfig(SMS_SENDER, None), sms=sms))
                continue
            sender = senders.get(message.sender_id) if message.sender_id else default
            if message.sender_id and sender is None:
                failure = (Reason.NO_SENDER, f"sender {message.sender_id} no longer exists")
                out.append(Prepared(item, template.version, failure=failure))
                continue
            out.append(self._email(item, template, rendered, sender))
        return out

    def _alert(self, item: ToSend, alert: Mapping[str, Any], sender: Sender | None) -> Prepared:
        """An internal alert (services/alerts.py): finished text, sent as the workspace's sender."""
        if sender is None:
            return Prepared(item, failure=(Reason.NO_SENDER, "internal alerts go out as the default sender"))
        email = OutgoingEmail(
            message_id=item.message.id,
            from_email=sender.from_email,
            from_name=sender.from_name,
            to=item.address,
            subject=str(alert.get("subject") or ""),
            html=None,
            text=str(alert.get("text") or ""),
            reply_to=sender.reply_to,
        )
        return Prepared(item, None, sender.config(self.smtp_url), email=email)

    def _templates(
        self, conn: Connection, workspace_id: str, items: list[ToSend]
    ) -> dict[tuple[str, int | None], _Template | str]:
        """(template id, version asked for) → the compiled version, or why there is none."""
        out: dict[tuple[str, int | None], _Template | str] = {}
        for item in items:
            message = item.message
            key = (message.template_id or "", message.template_version)
            if key in out or not message.template_id:
                continue
            version = message.template_version
            if version is None:
                current = template_store.get_template(conn, workspace_id, message.template_id)
                if current is None:
                    out[key] = f"template {message.template_id} no longer exists"
                    continue
                version = current.version
            try:
                kind, content = self.cache.content(conn, workspace_id, message.template_id, version)
                compiled, _layout = self.cache.compiled(conn, workspace_id, message.template_id, version)
            except (NotFound, Invalid) as err:
                out[key] = err.detail
                continue
            if kind.value != message.channel:
                out[key] = (
                    f"template {message.template_id} is an {kind.value} template, not {message.channel}"
                )
                continue
            out[key] = _Template(version, kind, content, compiled)
        return out

    def _context(self, decided: Decided, item: ToSend, now: datetime) -> dict[str, Any]:
        message = item.message
        saved: Mapping[str, Any] = message.context
        return message_context(
            now=now,
            contact=contact_data(item.contact, item.contact.lifecycle_stage) if item.contact else None,
            account=account_data(item.account) if item.account else None,
            event=saved.get("event"),
            run=saved.get("run"),
            data=saved.get("data"),
            workspace=decided.workspace,
            message={"id": message.id, "channel": message.channel, **self.links.context(message)},
        )

    def _email(
        self,
        item: ToSend,
        template: _Template,
        rendered: RenderedMessage,
        sender: Sender | None,
    ) -> Prepared:
        message: OutboxMessage = item.message
        content = template.content
        from_email = content.from_email or (sender.from_email if sender else None)
        if from_email is None:
            failure = (Reason.NO_SENDER, "no sender is configured and the template names no from_email")
            return Prepared(item, template.version, failure=failure)
        config = sender.config(self.smtp_url) if sender else SenderConfig("server", self.smtp_url)
        subject = rendered.subject or ""
        if message.source is Source.TEST:
            subject = TEST_PREFIX + subject
        email = OutgoingEmail(
            message_id=message.id,
            from_email=from_email,
            from_name=rendered.from_name or (sender.from_name if sender else None),
            to=item.address,
            subject=subject,
            html=self.links.rewrite_html(rendered.html, message) if rendered.html is not None else None,
            text=rendered.text,
            reply_to=content.reply_to or (sender.reply_to if sender else None),
            headers=self.links.headers(message, from_email),
        )
        return Prepared(item, template.version, config, email=email)
