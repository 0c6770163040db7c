"""Unsubscribing through a message's link: the confirmation page (GET changes nothing, since link
scanners fire GETs), the one-click POST of RFC 8058 and the page's buttons, and the mailto address.

What a link unsubscribes from: the message's topic when it has one, else the whole channel. The page
offers both; the whole channel ("all email") also suppresses the address (reason `unsubscribed`), so
nothing but a confirmed re-subscribe brings mail to it again. Every change is a consent record and an
`unsubscribed` message event (the contact's `Unsubscribed` event), once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import structlog
from sqlalchemy import Connection

from nurture.domain.contact_view import MessageEventKind
from nurture.domain.messages.consent import (
    MAILTO_STATEMENT,
    ONE_CLICK_STATEMENT,
    Proof,
    unsubscribe_statement,
)
from nurture.domain.messages.engagement import MessageEventInput
from nurture.domain.messages.links import Links, UnsubscribeLink, parse_mailto
from nurture.domain.messages.topics import Topic, effective_status
from nurture.domain.subscriptions import Status
from nurture.services import message_events
from nurture.services.clock import Clock
from nurture.services.consents import Recipient, change, recipient, unsubscribe_all
from nurture.store import subscriptions as subscription_store
from nurture.store import topics as topic_store
from nurture.store import tracking as store
from nurture.store.db import Database
from nurture.store.tracking import TrackedMessage

log = structlog.get_logger("nurture.unsubscribe")
DEFAULT_CHANNEL = "email"


class Scope(StrEnum):
    MESSAGE = "message"  # the message's topic (the whole channel when it has none)
    ALL = "all"  # the whole channel


class Via(StrEnum):
    """How the request came: the source recorded with the change."""

    ONE_CLICK = "list_unsubscribe"  # the mail program's one-click POST (RFC 8058)
    PAGE = "unsubscribe_page"  # a button on the confirmation page
    MAILTO = "list_unsubscribe_mailto"  # a mail to the List-Unsubscribe mailto address


@dataclass(frozen=True)
class UnsubscribePage:
    """What the confirmation page shows."""

    workspace_name: str
    address: str | None
    topic_label: str | None  # None: the message's link unsubscribes from all email
    message_statement: str  # the words on the first button's form
    all_statement: str
    topic_done: bool  # already unsubscribed from the topic
    all_done: bool  # already unsubscribed from all email (or erased)
    preferences_url: str | None


@dataclass(frozen=True)
class _Target:
    link: UnsubscribeLink
    recipient: Recipient
    message: TrackedMessage | None
    channel: str
    topic: Topic | None
    topic_name: str | None


class UnsubscribeService:
    def __init__(self, db: Database, clock: Clock, links: Links) -> None:
        self.db = db
        self.clock = clock
        self.links = links

    def page(self, token: str) -> UnsubscribePage:
        """The confirmation page; reading it changes nothing."""
        link = self.links.read_unsubscribe(token)
        with self.db.read() as conn:
            target = self._target(conn, link)
            return self._page(conn, target)

    def unsubscribe(self, token: str, scope: Scope, via: Via, proof: Proof) -> UnsubscribePage:
        """Unsubscribe as the link says (idempotent); returns the page as it now reads."""
        link = self.links.read_unsubscribe(token)
        with self.db.write() as conn:
            target = self._target(conn, link, lock=True)
            self._apply(conn, target, scope, via, proof)
            page = self._page(conn, target)
        return page

    def by_mail(self, recipients: Sequence[str]) -> int:
        """The inbound mail handler's entry: every `unsubscribe+…@…` address among `recipients` whose
        MAC checks out unsubscribes its message's contact (as the one-click link would). Returns how
        many did; other addresses and forged ones are ignored."""
        done = 0
        for address in recipients:
            parsed = parse_mailto(address)
            if parsed is None:
                continue
            message_id, mac = parsed
            matched = False
            with self.db.write() as conn:
                for workspace_id in store.workspaces_of_send(conn, message_id):
                    found = store.message(conn, workspace_id, message_id)
                    if found is None or not self.links.mailto_matches(workspace_id, message_id, mac):
                        continue
                    link = UnsubscribeLink(workspace_id, message_id, found.contact_id)
                    target = self._target(conn, link, lock=True)
                    self._apply(conn, target, Scope.MESSAGE, Via.MAILTO, Proof(text=MAILTO_STATEMENT))
                    matched = True
            if matched:
                done += 1
            else:
                log.info("mailto unsubscribe matched no message", address=address)
        return done

    def _target(self, conn: Connection, link: UnsubscribeLink, *, lock: bool = False) -> _Target:
        person = recipient(conn, link.workspace_id, link.contact_id, lock=lock)
        message = store.message(conn, link.workspace_id, link.message_id)
        channel = message.channel if message is not None else DEFAULT_CHANNEL
        topic_name = message.topic if message is not None else None
        topic = topic_store.get(conn, link.workspace_id, channel, topic_name) if topic_name else None
        return _Target(link, person, message, channel, topic, topic_name)

    def _page(self, conn: Connection, target: _Target) -> UnsubscribePage:
        person = target.recipient
        label = target.topic.label if target.topic else target.topic_name
        topic_done = all_done = person.contact_id is None
        if person.contact_id is not None:
            whole = subscription_store.get(conn, person.workspace_id, person.contact_id, target.channel, None)
            all_done = whole is not None and whole.status is Status.UNSUBSCRIBED
            topic_done = all_done
            if target.topic_name and not all_done:
                chosen = subscription_store.get(
                    conn, person.workspace_id, person.contact_id, target.channel, target.topic_name
                )
                if target.topic is not None:
                    topic_done = effective_status(target.topic, chosen) is Status.UNSUBSCRIBED
                else:
                    topic_done = chosen is not None and chosen.status is Status.UNSUBSCRIBED
        preferences = (
            self.links.preferences_url(person.workspace_id, person.contact_id) if person.contact_id else None
        )
        return UnsubscribePage(
            workspace_name=person.workspace_name,
            address=person.email,
            topic_label=label,
            message_statement=unsubscribe_statement(person.workspace_name, person.email, label),
            all_statement=unsubscribe_statement(person.workspace_name, person.email, None),
            topic_done=topic_done,
            all_done=all_done,
            preferences_url=preferences,
        )

    def _apply(self, conn: Connection, target: _Target, scope: Scope, via: Via, proof: Proof) -> None:
        person = target.recipient
        if person.contact_id is None:  # erased: its addresses are suppressed already
            return
        now = self.clock.now()
        label = target.topic.label if target.topic else target.topic_name
        whole = scope is Scope.ALL or not target.topic_name
        text = {
            Via.ONE_CLICK: ONE_CLICK_STATEMENT,
            Via.MAILTO: MAILTO_STATEMENT,
            Via.PAGE: unsubscribe_statement(person.workspace_name, person.email, None if whole else label),
        }[via]
        proof = Proof(proof.ip, proof.user_agent, text)
        message_id = target.message.id if target.message else None
        if whole:
            addresses = [a for a in (person.email, target.message and target.message.to_address) if a]
            changed = unsubscribe_all(
                conn,
                person.workspace_id,
                person.contact_id,
                target.channel,
                addresses,
                via.value,
                proof,
                now,
                message_id=message_id,
            )
        else:
            changed = change(
                conn,
                person.workspace_id,
                person.contact_id,
                target.channel,
                target.topic_name,
                Status.UNSUBSCRIBED,
                via.value,
                proof,
                now,
                message_id=message_id,
            )
        if changed and target.message is not None:
            data = {"scope": "all" if whole else "topic", "via": via.value}
            if not whole:
                data["topic"] = target.topic_name or ""
            event = MessageEventInput(
                replace(target.message.ref(), contact_id=person.contact_id),
                MessageEventKind.UNSUBSCRIBED,
                now,
                data,
                dedupe_key=f"unsubscribe:{data['scope']}",
            )
            message_events.record(conn, person.workspace_id, [event], now)
