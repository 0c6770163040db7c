"""The preference page a message's signed link leads to: the workspace's email topics with the
contact's status, saved through `consents.change` (source `preference_page`), and "unsubscribe from
everything".

Forms carry a MAC over the page's token and the time the page was made (no cookies): a form is good
for 24 hours. Only what the person changed is written: a topic whose box they left as it was shown
keeps its status. The link proves the person reads the address, so ticking a double opt-in topic
subscribes at once, and ticking any topic after "unsubscribe from all" subscribes the channel again
and lifts its `unsubscribed` suppression.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection

from nurture.domain.errors import Invalid
from nurture.domain.messages.consent import Proof, preferences_statement, topic_choice
from nurture.domain.messages.links import Links, Purpose
from nurture.domain.messages.topics import Topic, effective_status
from nurture.domain.subscriptions import Status
from nurture.services.clock import Clock
from nurture.services.consents import Recipient, change, recipient, resubscribe_channel, unsubscribe_all
from nurture.store import subscriptions as subscription_store
from nurture.store import topics as topic_store
from nurture.store.db import Database

CHANNEL = "email"
SOURCE = "preference_page"
UNSUBSCRIBE_ALL_TEXT = "Unsubscribe from all email"


class Action(StrEnum):
    SAVE = "save"
    UNSUBSCRIBE_ALL = "unsubscribe_all"


@dataclass(frozen=True)
class Choice:
    topic: Topic
    status: Status  # as the contact has it (pending: waiting for a confirmation click)
    shown: bool  # the box as the page shows it: ticked when mail of the topic would reach them


@dataclass(frozen=True)
class PreferencePage:
    workspace_name: str
    address: str | None
    statement: str
    choices: list[Choice]
    all_unsubscribed: bool
    erased: bool
    form: str  # the form's MAC, good for 24 hours


class PreferenceService:
    def __init__(self, db: Database, clock: Clock, links: Links) -> None:
        self.db = db
        self.clock = clock
        self.links = links

    def page(self, token: str) -> PreferencePage:
        link = self.links.read_preferences(token)
        with self.db.read() as conn:
            person = recipient(conn, link.workspace_id, link.contact_id)
            return self._page(conn, token, person)

    def save(
        self, token: str, form: str, action: str, ticked: Collection[str], proof: Proof
    ) -> PreferencePage:
        """Apply the form: the topics ticked (by name), or unsubscribe from all email."""
        link = self.links.read_preferences(token)
        now = self.clock.now()
        self.links.check_form_token(Purpose.PREFERENCES, token, form, now)
        try:
            wanted = Action(action)
        except ValueError:
            raise Invalid.one("action", "must be save or unsubscribe_all") from None
        with self.db.write() as conn:
            person = recipient(conn, link.workspace_id, link.contact_id, lock=True)
            before = self._page(conn, token, person)
            known = {c.topic.name for c in before.choices}
            unknown = sorted(set(ticked) - known)
            if unknown:
                raise Invalid.one("topic", f"no email topic {unknown[0]!r} in this workspace")
            if person.contact_id is not None:
                self._apply(conn, person, before, wanted, set(ticked), proof)
            return self._page(conn, token, person)

    def _apply(
        self,
        conn: Connection,
        person: Recipient,
        before: PreferencePage,
        action: Action,
        ticked: set[str],
        proof: Proof,
    ) -> None:
        assert person.contact_id is not None
        now = self.clock.now()
        addresses = [person.email] if person.email else []
        if action is Action.UNSUBSCRIBE_ALL:
            text = f"{before.statement}\n{UNSUBSCRIBE_ALL_TEXT}"
            unsubscribe_all(
                conn,
                person.workspace_id,
                person.contact_id,
                CHANNEL,
                addresses,
                SOURCE,
                Proof(proof.ip, proof.user_agent, text),
                now,
            )
            return
        # After "unsubscribe from all", ticking a topic makes the channel live again: then every topic
        # is set as the boxes say, or an opt-out topic left unticked would start sending again.
        resuming = before.all_unsubscribed and bool(ticked)
        for choice in before.choices:
            on = choice.topic.name in ticked
            was = choice.status is Status.SUBSCRIBED if resuming else choice.shown
            if on == was:
                continue
            status = Status.SUBSCRIBED if on else Status.UNSUBSCRIBED
            text = f"{before.statement}\n{topic_choice(choice.topic.label, choice.topic.description, status)}"
            change(
                conn,
                person.workspace_id,
                person.contact_id,
                CHANNEL,
                choice.topic.name,
                status,
                SOURCE,
                Proof(proof.ip, proof.user_agent, text),
                now,
            )
        if resuming:
            text = f"{before.statement}\nSubscribe again to the email ticked above"
            resubscribe_channel(
                conn,
                person.workspace_id,
                person.contact_id,
                CHANNEL,
                addresses,
                SOURCE,
                Proof(proof.ip, proof.user_agent, text),
                now,
            )

    def _page(self, conn: Connection, token: str, person: Recipient) -> PreferencePage:
        topics = topic_store.list_topics(conn, person.workspace_id, CHANNEL)
        statuses = (
            {
                s.topic: s
                for s in subscription_store.of_contact(conn, person.workspace_id, person.contact_id)
                if s.channel == CHANNEL
            }
            if person.contact_id
            else {}
        )
        whole = statuses.get(None)
        all_off = person.contact_id is None or (whole is not None and whole.status is Status.UNSUBSCRIBED)
        choices = []
        for topic in topics:
            status = effective_status(topic, statuses.get(topic.name))
            choices.append(Choice(topic, status, not all_off and status is Status.SUBSCRIBED))
        return PreferencePage(
            workspace_name=person.workspace_name,
            address=person.email,
            statement=preferences_statement(person.workspace_name, person.email),
            choices=choices,
            all_unsubscribed=all_off,
            erased=person.contact_id is None,
            form=self.links.form_token(Purpose.PREFERENCES, token, self.clock.now()),
        )
