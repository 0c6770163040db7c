"""Subscribing with consent, and double opt-in.

`subscribe` is what a signup form's backend calls (POST /api/v1/contacts/{id}/subscriptions) with the
words the person was shown, their IP and user agent. A topic without double opt-in is subscribed at
once; a double opt-in topic becomes `pending` and a confirmation email is queued (transactional,
source `system`, template "Double opt-in confirmation", made on first use: no promotional content);
its link leads to a page whose button confirms (`subscribed`, source `double_opt_in`). Each step is a
consent record.

A confirmation is queued at most once per contact, topic and day (its send id derives from them), so a
form submitted again, by the person or by someone abusing it, sends no second mail that day. A contact
who unsubscribed from all email stays so: only their own confirmation click or preference page
subscribes the channel again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from nurture.domain.errors import Invalid, NotFound
from nurture.domain.messages.consent import Proof, confirm_statement
from nurture.domain.messages.links import BadLink, Links, Purpose
from nurture.domain.messages.outbox import Source
from nurture.domain.messages.topics import Topic, effective_status
from nurture.domain.subscriptions import Status, check_channel, check_source, check_topic
from nurture.domain.templates.model import BodyFormat, Category, Content, Template, TemplateKind
from nurture.services import outbox
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.services.consents import Recipient, change, recipient, resubscribe_channel
from nurture.store import contacts as contact_store
from nurture.store import subscriptions as subscription_store
from nurture.store import templates as template_store
from nurture.store import topics as topic_store
from nurture.store import tracking as message_store
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.sql import lock_keys

TEMPLATE_NAME = "Double opt-in confirmation"
CONFIRM_SOURCE = "double_opt_in"
TEMPLATE = Content(
    subject="Please confirm your subscription",
    body_format=BodyFormat.HTML,
    body=(
        "<p>Hello{% if contact.first_name %} {{ contact.first_name }}{% endif %},</p>\n"
        "<p>Please confirm that you want to receive "
        "{% if message.topic_label %}“{{ message.topic_label }}” emails{% else %}email{% endif %} "
        "from {{ workspace.name }}.</p>\n"
        '<p><a href="{{ message.confirm_url }}">Yes, subscribe me</a></p>\n'
        "<p>If you did not ask for this, ignore this email: you will not be subscribed.</p>\n"
        "<p>{{ workspace.postal_address }}</p>\n"
    ),
)


@dataclass(frozen=True)
class Subscribed:
    status: Status  # subscribed, or pending until the confirmation link is clicked
    confirmation_id: str | None  # the queued confirmation's send id, when one was asked for
    all_unsubscribed: bool = False  # the contact unsubscribed from all of the channel: nothing arrives


class ConfirmState(StrEnum):
    WAITING = "waiting"  # pending: the button confirms
    CONFIRMED = "confirmed"  # subscribed already
    WITHDRAWN = "withdrawn"  # unsubscribed since, or erased: the link no longer subscribes


@dataclass(frozen=True)
class ConfirmPage:
    workspace_name: str
    address: str | None
    topic_label: str | None
    statement: str
    state: ConfirmState
    form: str


@dataclass(frozen=True)
class _Confirmation:
    person: Recipient
    message_id: str
    channel: str
    topic: str | None
    label: str | None


class DoubleOptIn:
    def __init__(self, db: Database, clock: Clock, links: Links) -> None:
        self.db = db
        self.clock = clock
        self.links = links

    def subscribe(
        self, workspace_id: str, contact_id: str, channel: Any, topic: Any, source: Any, proof: Proof
    ) -> Subscribed:
        checked_channel, checked_topic, checked_source = (
            check_channel(channel),
            check_topic(topic),
            check_source(source),
        )
        now = self.clock.now()
        with self.db.write() as conn:
            contact_id = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
            if not contact_store.lock(conn, workspace_id, contact_id):
                raise NotFound(f"no contact {contact_id} in this workspace")
            found = None
            if checked_topic is not None:
                found = topic_store.get(conn, workspace_id, checked_channel, checked_topic)
                if found is None:
                    raise Invalid.one(
                        "topic", f"no {checked_channel} topic {checked_topic!r}; create it at /api/v1/topics"
                    )
            whole = subscription_store.get(conn, workspace_id, contact_id, checked_channel, None)
            all_off = whole is not None and whole.status is Status.UNSUBSCRIBED
            if checked_topic is None and all_off:  # only the person can undo "unsubscribe from all"
                return Subscribed(Status.UNSUBSCRIBED, None, all_unsubscribed=True)
            chosen = subscription_store.get(conn, workspace_id, contact_id, checked_channel, checked_topic)
            if chosen is not None and chosen.status is Status.SUBSCRIBED:
                return Subscribed(Status.SUBSCRIBED, None, all_off)
            if found is None or not found.double_opt_in:
                change(
                    conn,
                    workspace_id,
                    contact_id,
                    checked_channel,
                    checked_topic,
                    Status.SUBSCRIBED,
                    checked_source,
                    proof,
                    now,
                )
                return Subscribed(Status.SUBSCRIBED, None, all_off)
            asked = self._ask(conn, workspace_id, contact_id, found, checked_source, proof, now)
            return Subscribed(Status.PENDING, asked, all_off)

    def _ask(
        self,
        conn: Connection,
        workspace_id: str,
        contact_id: str,
        topic: Topic,
        source: str,
        proof: Proof,
        now: datetime,
    ) -> str:
        contact = contact_store.load_contacts(conn, workspace_id, [contact_id]).get(contact_id)
        if topic.channel != "email" or contact is None or not contact.email:
            raise Invalid.one(
                "topic", "a double opt-in topic needs an email topic and a contact with an email"
            )
        change(conn, workspace_id, contact_id, topic.channel, topic.name, Status.PENDING, source, proof, now)
        template_id = _confirmation_template(conn, workspace_id, now)
        key = f"double_opt_in:{contact_id}:{topic.channel}:{topic.name}:{now.date().isoformat()}"
        wanted = outbox.NewMessage(
            contact_id,
            "email",
            Category.TRANSACTIONAL.value,
            Source.SYSTEM,
            key,
            template_id=template_id,
            context={"double_opt_in": {"channel": topic.channel, "topic": topic.name, "label": topic.label}},
        )
        return outbox.enqueue(conn, workspace_id, [wanted], now).ids[0]

    def page(self, token: str) -> ConfirmPage:
        link = self.links.read_confirm(token)
        with self.db.read() as conn:
            return self._page(conn, token, self._confirmation(conn, link.workspace_id, link.message_id))

    def confirm(self, token: str, form: str, proof: Proof) -> ConfirmPage:
        """The button: a pending subscription becomes subscribed (and a channel unsubscribed from all
        is subscribed again); anything else is left alone and the page says so."""
        link = self.links.read_confirm(token)
        now = self.clock.now()
        self.links.check_form_token(Purpose.CONFIRM, token, form, now)
        with self.db.write() as conn:
            found = self._confirmation(conn, link.workspace_id, link.message_id, lock=True)
            page = self._page(conn, token, found)
            person = found.person
            if page.state is ConfirmState.WAITING and person.contact_id is not None:
                shown = Proof(proof.ip, proof.user_agent, page.statement)
                change(
                    conn,
                    person.workspace_id,
                    person.contact_id,
                    found.channel,
                    found.topic,
                    Status.SUBSCRIBED,
                    CONFIRM_SOURCE,
                    shown,
                    now,
                    message_id=found.message_id,
                )
                resubscribe_channel(
                    conn,
                    person.workspace_id,
                    person.contact_id,
                    found.channel,
                    [person.email] if person.email else [],
                    CONFIRM_SOURCE,
                    shown,
                    now,
                    message_id=found.message_id,
                )
                page = self._page(conn, token, found)
        return page

    def _confirmation(
        self, conn: Connection, workspace_id: str, message_id: str, *, lock: bool = False
    ) -> _Confirmation:
        message = message_store.message(conn, workspace_id, message_id)
        asked = message.context.get("double_opt_in") if message is not None else None
        if message is None or not isinstance(asked, dict):
            raise BadLink
        person = recipient(conn, workspace_id, message.contact_id, lock=lock)
        return _Confirmation(
            person, message_id, str(asked.get("channel")), asked.get("topic"), asked.get("label")
        )

    def _page(self, conn: Connection, token: str, found: _Confirmation) -> ConfirmPage:
        person = found.person
        state = ConfirmState.WITHDRAWN
        if person.contact_id is not None:
            chosen = subscription_store.get(
                conn, person.workspace_id, person.contact_id, found.channel, found.topic
            )
            topic = (
                topic_store.get(conn, person.workspace_id, found.channel, found.topic)
                if found.topic
                else None
            )
            status = effective_status(topic, chosen) if topic else (chosen.status if chosen else None)
            if status is Status.PENDING:
                state = ConfirmState.WAITING
            elif status is Status.SUBSCRIBED:
                state = ConfirmState.CONFIRMED
        return ConfirmPage(
            workspace_name=person.workspace_name,
            address=person.email,
            topic_label=found.label,
            statement=confirm_statement(person.workspace_name, person.email, found.label),
            state=state,
            form=self.links.form_token(Purpose.CONFIRM, token, self.clock.now()),
        )


def _confirmation_template(conn: Connection, workspace_id: str, now: datetime) -> str:
    """The workspace's "Double opt-in confirmation" template, made the first time one is needed (an
    operator may edit it; renamed or deleted, a new one is made)."""
    lock_keys(conn, [f"template:{workspace_id}:{TEMPLATE_NAME}"])
    found = template_store.live_template_named(conn, workspace_id, TEMPLATE_NAME)
    if found is not None:
        return found
    template = Template(
        new_id(), TEMPLATE_NAME, TemplateKind.EMAIL, Category.TRANSACTIONAL, 1, TEMPLATE, now, now
    )
    template_store.insert_template(conn, workspace_id, template)
    return template.id
