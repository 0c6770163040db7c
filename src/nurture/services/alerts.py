"""Internal alerts: tell the team something (a lead is ready, a big account signed up) in Slack and by
email, in the caller's transaction, so an alert goes out if and only if what caused it commits.

Slack alerts are rows of the webhook delivery log (format `slack`, posted by the webhook worker with the
same retries and dead-lettering as webhooks). Email alerts are outbox messages: transactional, from
the `system` source, with the address fixed at enqueue (`to_address`) and the finished text in their
context under `alert` (`{"subject", "text"}`), so the dispatcher sends them without a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.alerts import (
    Alert,
    AlertTargets,
    check_alert,
    check_targets,
    email_subject,
    email_text,
    slack_body,
)
from nurture.domain.errors import Invalid, NotFound
from nurture.domain.messages.outbox import Source
from nurture.domain.webhooks.endpoints import Format
from nurture.domain.webhooks.events import ALERT, WebhookEvent
from nurture.services import outbox
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.services.webhooks import delivery_row
from nurture.store import webhooks as webhook_store
from nurture.store.db import Database
from nurture.store.ids import new_id

CONTEXT_KEY = "alert"


@dataclass(frozen=True)
class AlertSent:
    id: str
    deliveries: list[str]  # webhook delivery ids (Slack)
    messages: list[str]  # outbox send ids (email)


def notify(
    conn: Connection, workspace_id: str, alert: Alert, targets: AlertTargets, now: datetime
) -> AlertSent:
    """Queue the alert for every target, in the caller's transaction."""
    alert_id = new_id()
    event = WebhookEvent(f"alert_{alert_id}", ALERT, now, {})
    rows = [
        delivery_row(workspace_id, event, now, url=url, format=Format.SLACK, body=slack_body(alert))
        for url in targets.slack_webhook_urls
    ]
    if rows:
        webhook_store.insert_deliveries(conn, rows)
    messages = (
        enqueue_email_alerts(conn, workspace_id, alert_id, alert, targets.emails, now)
        if targets.emails
        else []
    )
    return AlertSent(alert_id, [row["id"] for row in rows], messages)


def enqueue_email_alerts(
    conn: Connection,
    workspace_id: str,
    alert_id: str,
    alert: Alert,
    addresses: tuple[str, ...],
    now: datetime,
) -> list[str]:
    """Email alerts into the outbox. Outbox messages belong to a contact, so an email alert must name
    the contact it is about; the dispatcher sends `context.alert` to `to_address` (see the module doc)."""
    if alert.contact_id is None:
        raise Invalid.one("contact_id", "an email alert must name the contact it is about")
    content = {"subject": email_subject(alert), "text": email_text(alert)}
    wanted = [
        outbox.NewMessage(
            contact_id=alert.contact_id,
            channel="email",
            category="transactional",
            source=Source.SYSTEM,
            source_key=f"alert:{alert_id}:{address}",
            context={CONTEXT_KEY: content},
            to_address=address,
        )
        for address in addresses
    ]
    return outbox.enqueue(conn, workspace_id, wanted, now).ids


class AlertService:
    """Alerts sent through the admin API (and to try out a Slack webhook URL)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def send(self, workspace_id: str, body: Mapping[str, Any]) -> AlertSent:
        alert = check_alert(
            body.get("title"),
            body.get("text") or "",
            body.get("contact_id"),
            body.get("link"),
            body.get("fields"),
        )
        targets = check_targets(body.get("slack_webhook_urls"), body.get("emails"))
        now = self.clock.now()
        with self.db.write() as conn:
            if alert.contact_id is not None:
                try:
                    contact_id = existing_contact(conn, workspace_id, alert.contact_id, follow_merges=True)
                except NotFound as exc:
                    raise Invalid.one("contact_id", exc.detail) from None
                alert = Alert(alert.title, alert.text, contact_id, alert.link, alert.fields)
            return notify(conn, workspace_id, alert, targets, now)
