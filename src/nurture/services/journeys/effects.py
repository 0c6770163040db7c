"""Carrying out a step's commands in the worker's transaction: messages into the outbox, contact
updates through their one write path each, score changes, enrolments into other journeys.

A command that cannot be carried out (a template that does not exist, a stage the workspace does not
have) raises `EffectFailed`; the engine rolls back that run's effects and marks the run failed with
the reason. It never blocks other runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.alerts import AlertTargets, check_alert
from nurture.domain.audiences import check_tag
from nurture.domain.errors import NotFound, NurtureError
from nurture.domain.journeys.definition import Journey
from nurture.domain.journeys.entry import HappeningKind
from nurture.domain.journeys.runs import (
    AddScore,
    Command,
    EnrollIn,
    NotifyTeam,
    RunState,
    SendMessage,
    UpdateProfile,
)
from nurture.domain.messages.consent import Proof
from nurture.domain.messages.outbox import Source
from nurture.domain.profile import parse_traits
from nurture.domain.scoring import model_from_stored
from nurture.domain.subscriptions import Status, check_topic
from nurture.domain.templates.context import contact_data
from nurture.domain.templates.render import environments
from nurture.domain.webhooks.events import JOURNEY_SEND, WebhookEvent
from nurture.services import alerts, consents, lifecycle, outbox
from nurture.services.identity import IdentityGraph
from nurture.services.journeys.inbox import JOURNEYS_CHANNEL
from nurture.services.lists import add_contacts, remove_contacts, require_list
from nurture.services.scoring import grant_manual
from nurture.services.tags import tag_contact, untag_contact
from nurture.services.webhooks import delivery_row
from nurture.store import contacts as contact_store
from nurture.store import journeys as store
from nurture.store import owners as owner_store
from nurture.store import scoring as scoring_store
from nurture.store import webhooks as webhook_store
from nurture.store.ids import new_id
from nurture.store.templates import find_template
from nurture.store.wakeups import notify

_ENVS = environments({})


class EffectFailed(Exception):
    """A command of a step could not be carried out; `reason` goes into the run's trace."""

    def __init__(self, node: str, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.reason = reason


class Effects:
    """One run's step's commands. Sends are checked at once and collected (`messages`) for the batch
    to enqueue in one statement; the other commands write at once (the engine puts them behind a
    savepoint, see `writes`)."""

    def __init__(
        self,
        conn: Connection,
        workspace_id: str,
        journey_id: str,
        journey: Journey,
        now: datetime,
        templates: dict[str, tuple[str, str, str] | None] | None = None,
    ) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.journey_id = journey_id
        self.journey = journey
        self.now = now
        self.templates = templates if templates is not None else {}  # name or id → found, per batch
        self.messages: list[outbox.NewMessage] = []

    @staticmethod
    def writes(commands: Sequence[Command]) -> bool:
        """Whether carrying out the commands writes anything besides outbox rows."""
        return any(
            isinstance(c, UpdateProfile | AddScore | EnrollIn | NotifyTeam)
            or (isinstance(c, SendMessage) and c.channel == "webhook")
            for c in commands
        )

    def apply(self, run: RunState, commands: Sequence[Command]) -> None:
        for command in commands:
            if isinstance(command, SendMessage):
                self._send(run, command)
            elif isinstance(command, UpdateProfile):
                self._update(run, command)
            elif isinstance(command, AddScore):
                self._score(run, command)
            elif isinstance(command, EnrollIn):
                self._enroll(run, command)
            elif isinstance(command, NotifyTeam):
                self._notify(run, command)

    def _post(self, run: RunState, command: SendMessage) -> None:
        """A send on the webhook channel: one signed delivery to the node's endpoint, retried and
        logged like every webhook; its `webhook-id` is the send id, so a retried step posts once."""
        assert command.endpoint_id is not None  # the document requires it for webhook sends
        endpoint = webhook_store.get_endpoint(self.conn, self.workspace_id, command.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            raise EffectFailed(
                command.node, f"webhook endpoint {command.endpoint_id!r} is missing or disabled"
            )
        payload = {
            "journey_id": self.journey_id,
            "journey": self.journey.name,
            "node": command.node,
            "run_id": run.run_id,
            "contact_id": run.contact_id,
            "event": run.context.get("event"),
            "run": _public(run.context),
        }
        event = WebhookEvent(command.send_id, JOURNEY_SEND, self.now, payload)
        webhook_store.insert_deliveries(
            self.conn, [delivery_row(self.workspace_id, event, self.now, endpoint_id=endpoint.id)]
        )

    def _template(self, name: str) -> tuple[str, str, str] | None:
        if name not in self.templates:
            self.templates[name] = find_template(self.conn, self.workspace_id, name)
        return self.templates[name]

    def _send(self, run: RunState, command: SendMessage) -> None:
        if command.channel == "webhook":
            self._post(run, command)
            return
        assert command.template is not None  # the document requires it for email and SMS
        found = self._template(command.template)
        if found is None:
            raise EffectFailed(command.node, f"template {command.template!r} not found")
        template_id, kind, category = found
        if kind != command.channel:
            raise EffectFailed(
                command.node, f"template {command.template!r} is for {kind}, not {command.channel}"
            )
        context: dict[str, Any] = {
            "run": {"id": run.run_id, "journey": self.journey.name, **_public(run.context)}
        }
        if "event" in run.context:
            context["event"] = run.context["event"]
        self.messages.append(
            outbox.NewMessage(
                contact_id=run.contact_id,
                channel=command.channel,
                category=category if category == "transactional" else self.journey.category.value,
                source=Source.JOURNEY,
                source_key=command.source_key,
                template_id=template_id,
                topic=command.topic,
                sender_id=command.sender_id,
                journey_id=self.journey_id,
                node_id=command.node,
                context=context,
                send_id=command.send_id,  # the step derived it from the same source key
            )
        )

    def _update(self, run: RunState, command: UpdateProfile) -> None:
        contact_id, node = run.contact_id, command.node
        try:
            changes = {**command.set, **dict.fromkeys(command.unset)}
            if changes:
                graph = IdentityGraph(self.conn, self.workspace_id, self.now)
                contact = graph.load([contact_id]).get(contact_id)
                if contact is None:
                    raise NotFound(f"contact {contact_id} not found")
                graph.apply(contact, parse_traits(changes, path="set"))
                graph.flush()
            source = f"journey:{self.journey_id}"
            for tag in command.add_tags:
                tag_contact(self.conn, self.workspace_id, contact_id, check_tag(tag), self.now, source)
            for tag in command.remove_tags:
                untag_contact(self.conn, self.workspace_id, contact_id, check_tag(tag), self.now, source)
            for list_id in command.add_to_lists:
                require_list(self.conn, self.workspace_id, list_id)
                add_contacts(self.conn, self.workspace_id, list_id, [contact_id], self.now, source)
            for list_id in command.remove_from_lists:
                require_list(self.conn, self.workspace_id, list_id)
                remove_contacts(self.conn, self.workspace_id, list_id, [contact_id], self.now, source)
            if command.lifecycle_stage is not None:
                reason = {"source": "journey", "journey_id": self.journey_id, "node": node}
                lifecycle.change_stage(
                    self.conn, self.workspace_id, contact_id, command.lifecycle_stage, self.now, reason
                )
            if command.unsubscribe:
                contact_store.lock(self.conn, self.workspace_id, contact_id)
            for topic in command.unsubscribe:
                unsubscribed, proof = Status.UNSUBSCRIBED, Proof(text=f"journey {self.journey.name}")
                consents.change(
                    self.conn, self.workspace_id, contact_id, "email", check_topic(topic), unsubscribed,
                    "journey", proof, self.now,
                )  # fmt: skip
        except NurtureError as err:
            raise EffectFailed(node, f"update contact: {err}") from None

    def _score(self, run: RunState, command: AddScore) -> None:
        row = scoring_store.get_model(self.conn, self.workspace_id, command.model_id)
        if row is None:
            raise EffectFailed(command.node, f"scoring model {command.model_id!r} not found")
        model = model_from_stored(row.name, row.definition)
        scoring_store.lock_contact(self.conn, self.workspace_id, run.contact_id)
        reason = command.reason or f"journey {self.journey.name}"
        grant_manual(
            self.conn,
            self.workspace_id,
            run.contact_id,
            command.model_id,
            model,
            command.points,
            reason,
            self.now,
            dedupe_key=f"journey:{command.key}",
        )

    def _enroll(self, run: RunState, command: EnrollIn) -> None:
        target = store.find_journey(self.conn, self.workspace_id, command.journey)
        if target is None:
            raise EffectFailed(command.node, f"journey {command.journey!r} not found")
        enroll_rows(
            self.conn, self.workspace_id, target.id, [run.contact_id], self.now, f"journey:{self.journey_id}"
        )

    def _notify(self, run: RunState, command: NotifyTeam) -> None:
        """An internal alert about the contact: to its owner, fixed addresses and Slack. The message
        is Liquid with the contact and the run's context."""
        contact = contact_store.load_contacts(self.conn, self.workspace_id, [run.contact_id]).get(
            run.contact_id
        )
        emails = list(command.emails)
        if command.owner and contact is not None and contact.owner_id:
            owner = owner_store.get(self.conn, self.workspace_id, contact.owner_id)
            if owner is not None:
                emails.append(owner.email)
        if not emails and not command.slack_url:
            return  # the contact has no owner and nobody else is named: nothing to tell anyone
        try:
            data = contact_data(contact) if contact is not None else {}
            text = str(_ENVS.parse("message", command.message).render(contact=data, run=run.context))
            alert = check_alert(
                f"{self.journey.name}: {text}"[:200],
                text,
                run.contact_id,
                None,
                {"Journey": self.journey.name},
            )
        except NurtureError as err:
            raise EffectFailed(command.node, f"notify: {err}") from None
        targets = AlertTargets(
            slack_webhook_urls=(command.slack_url,) if command.slack_url else (), emails=tuple(emails)
        )
        alerts.notify(self.conn, self.workspace_id, alert, targets, self.now)


def enroll_rows(
    conn: Connection,
    workspace_id: str,
    journey_id: str,
    contact_ids: Sequence[str],
    now: datetime,
    source: str,
) -> None:
    """Ask the journey worker to enrol contacts into a journey (it checks entry rules as for any trigger)."""
    notify(conn, JOURNEYS_CHANNEL)
    store.enqueue(
        conn,
        [
            {
                "workspace_id": workspace_id,
                "id": new_id(),
                "contact_id": contact_id,
                "kind": HappeningKind.ENROLL.value,
                "name": journey_id,
                "event_id": None,
                "data": {"source": source},
                "created_at": now,
            }
            for contact_id in contact_ids
        ],
    )


def _public(context: dict[str, Any]) -> dict[str, Any]:
    """What of the run's context a template sees besides the trigger event: webhook answers."""
    return {k: v for k, v in context.items() if k != "event"}
