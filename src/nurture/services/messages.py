"""Messages through the API: transactional sends with an idempotency key, test sends of a template,
and reading messages with what happened to them. Every send is an outbox row written in the request's
transaction; the dispatcher is woken right after the commit."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.contacts import IdentityKind, Page
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.domain.messages.outbox import Message, Source, Status, send_id
from nurture.domain.messages.transactional import SendRequest
from nurture.domain.profile import TraitUpdate, normalize_email, normalize_phone
from nurture.domain.templates.model import Template
from nurture.services import outbox
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.services.identity import IdentityGraph
from nurture.services.paging import decode_time_cursor, encode_time_cursor
from nurture.store import contacts as contact_store
from nurture.store import message_events as event_store
from nurture.store import messages as store
from nurture.store import templates as template_store
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.sql import lock_keys

MAX_PAGE = 500
SEND_IDS = re.compile(r"[a-z2-7]{26}")


@dataclass(frozen=True)
class MessageEvent:
    kind: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Sent:
    message: Message
    created: bool  # False: the idempotency key named a message made before


class MessageService:
    def __init__(self, db: Database, clock: Clock, on_enqueued: Callable[[], None] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.on_enqueued = on_enqueued

    def send(self, workspace_id: str, key: str, request: SendRequest) -> Sent:
        """Queue a message for the named contact (an address that finds no one becomes a new contact).
        The same key again returns the message it made; with a different request it is a Conflict."""
        message_id = send_id(workspace_id, Source.API, key)
        fingerprint = request.fingerprint()
        now = self.clock.now()
        with self.db.write() as conn:
            earlier = store.get(conn, workspace_id, message_id)
            if earlier is not None:
                return Sent(_same(earlier, fingerprint, key), created=False)
            template = _template(conn, workspace_id, request.template_id, "template_id")
            channel = request.channel or template.kind.value
            if channel != template.kind.value:
                raise Invalid.one("channel", f"template {template.id} is an {template.kind.value} template")
            contact_id = self._contact(conn, workspace_id, request, now)
            wanted = outbox.NewMessage(
                contact_id=contact_id,
                channel=channel,
                category=template.category.value,
                source=Source.API,
                source_key=key,
                template_id=template.id,
                topic=request.topic,
                context={"data": request.data, "request_sha256": fingerprint},
            )
            written = outbox.enqueue(conn, workspace_id, [wanted], now)
            message = store.get(conn, workspace_id, message_id)
            assert message is not None
            if not written.new:  # a request with the same key committed meanwhile
                return Sent(_same(message, fingerprint, key), created=False)
        self._enqueued()
        return Sent(message, created=True)

    def test_send(self, workspace_id: str, template_id: str, to: str, contact_id: str | None) -> Message:
        """Send the template's current version to `to` (rendered for `contact_id` when given), subject
        prefixed "[Test] ". It obeys the suppression list, and nothing else holds it back."""
        now = self.clock.now()
        with self.db.write() as conn:
            template = _template(conn, workspace_id, template_id, None)
            try:
                address = normalize_phone(to) if template.kind.value == "sms" else normalize_email(to)
            except ValueError as err:
                raise Invalid.one("to", str(err)) from None
            contact = ""
            if contact_id is not None:
                try:
                    contact = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
                except NotFound as err:
                    raise Invalid.one("contact_id", err.detail) from None
            wanted = outbox.NewMessage(
                contact_id=contact,
                channel=template.kind.value,
                category=template.category.value,
                source=Source.TEST,
                source_key=new_id(),
                template_id=template.id,
                to_address=address,
            )
            [message_id] = outbox.enqueue(conn, workspace_id, [wanted], now).ids
            message = store.get(conn, workspace_id, message_id)
        assert message is not None
        self._enqueued()
        return message

    def get(self, workspace_id: str, message_id: str) -> tuple[Message, builtins.list[MessageEvent]]:
        with self.db.read() as conn:
            message = store.get(conn, workspace_id, message_id)
            if message is None:
                raise NotFound(f"no message {message_id} in this workspace")
            events = [MessageEvent(*e) for e in event_store.of_message(conn, workspace_id, message_id)]
        return message, events

    def list(
        self,
        workspace_id: str,
        *,
        contact_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[Message]:
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
        if status is not None and status not in {s.value for s in Status}:
            raise Invalid.one("status", f"must be one of {', '.join(s.value for s in Status)}")
        after = decode_time_cursor(cursor, SEND_IDS)
        with self.db.read() as conn:
            if contact_id is not None:
                contact_id = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
            found = store.list_messages(
                conn, workspace_id, contact_id=contact_id, status=status, after=after, limit=limit + 1
            )
        items = found[:limit]
        more = len(found) > limit
        return Page(items, encode_time_cursor(items[-1].created_at, items[-1].id) if more else None)

    def _contact(self, conn: Connection, workspace_id: str, request: SendRequest, now: datetime) -> str:
        field = f"contact.{request.contact_kind}"
        if request.contact_kind == "id":
            try:
                return existing_contact(conn, workspace_id, request.contact_value, follow_merges=True)
            except NotFound as err:
                raise Invalid.one(field, err.detail) from None
        kind = IdentityKind(request.contact_kind)
        lock_keys(conn, [f"{workspace_id}:{kind.value}:{request.contact_value}"])
        owners, _ = contact_store.find_owners(conn, workspace_id, [(kind, request.contact_value)])
        found = owners.get((kind, request.contact_value))
        if found is not None:
            return found
        if kind is not IdentityKind.EMAIL:
            raise Invalid.one(field, f"no contact has user_id {request.contact_value!r}; name it by email")
        graph = IdentityGraph(conn, workspace_id, now)
        contact = graph.create()
        graph.apply(contact, TraitUpdate(core={"email": request.contact_value}))
        graph.flush()
        return contact.id

    def _enqueued(self) -> None:
        if self.on_enqueued is not None:
            self.on_enqueued()


def _template(conn: Connection, workspace_id: str, template_id: str, field: str | None) -> Template:
    found = template_store.get_template(conn, workspace_id, template_id)
    if found is None:
        message = f"no template {template_id} in this workspace"
        raise Invalid.one(field, message) if field else NotFound(message)
    return found


def _same(message: Message, fingerprint: str, key: str) -> Message:
    if message.context.get("request_sha256") != fingerprint:
        raise Conflict(
            f"Idempotency-Key {key!r} was used for a different request (message {message.id}); "
            "use a new key for a new message"
        )
    return message
