"""Helpers shared by the delivery-report tests: a contact with a sent email (an outbox row), a DSN
about it, and the rows the reports leave behind."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.messages.outbox import Source, send_id
from nurture.services.contacts import ContactInput
from nurture.services.identity import address_hash
from nurture.store.schema import activities, contacts, message_events, messages, suppressions


def sent_email(container: Container, workspace_id: str, email: str, key: str = "1") -> tuple[str, str]:
    """A contact with `email` and a sent outbox row to it; returns (contact id, send id)."""
    with container.db.read() as conn:
        contact_id = conn.execute(
            select(contacts.c.id).where(contacts.c.workspace_id == workspace_id, contacts.c.email == email)
        ).scalar()
    if contact_id is None:
        contact_id = container.contacts.create(workspace_id, ContactInput(fields={"email": email})).id
    now: datetime = container.clock.now()
    message_id = send_id(workspace_id, Source.API, f"{email}:{key}")
    with container.db.write() as conn:
        conn.execute(
            messages.insert().values(
                workspace_id=workspace_id,
                id=message_id,
                contact_id=contact_id,
                channel="email",
                category="marketing",
                source="api",
                source_key=f"{email}:{key}",
                context={},
                to_address=email,
                status="sent",
                attempts=1,
                due_at=now,
                created_at=now,
                sent_at=now,
                updated_at=now,
            )
        )
    return contact_id, message_id


def dsn(send: str, recipient: str, status: str, diagnostic: str, action: str = "failed") -> bytes:
    """A Postfix-style delivery status notification about the mail with Message-ID <send@…>."""
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "To: bounces@mail.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: news@mail.example.com\r\nTo: {recipient}\r\nMessage-ID: <{send}@mail.example.com>\r\n"
        "Subject: Our news\r\n\r\n--B--\r\n"
    ).encode()


def suppression(container: Container, workspace_id: str, email: str) -> str | None:
    with container.db.read() as conn:
        return conn.execute(
            select(suppressions.c.reason).where(
                suppressions.c.workspace_id == workspace_id, suppressions.c.value_hash == address_hash(email)
            )
        ).scalar()


def events_of(container: Container, workspace_id: str, message_id: str) -> list[dict[str, Any]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(message_events.c.kind, message_events.c.data, message_events.c.contact_id).where(
                message_events.c.workspace_id == workspace_id, message_events.c.message_id == message_id
            )
        )
        return [{"kind": r.kind, "data": r.data, "contact_id": r.contact_id} for r in rows]


def activities_of(container: Container, workspace_id: str, contact_id: str) -> list[dict[str, Any]]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(activities.c.kind, activities.c.data, activities.c.subject_id)
            .where(activities.c.workspace_id == workspace_id, activities.c.contact_id == contact_id)
            .order_by(activities.c.id)
        )
        return [{"kind": r.kind, "data": r.data, "subject_id": r.subject_id} for r in rows]
