"""Capture: the transport used when no SMTP server (or SMS provider) is configured. Messages are built
exactly as they would be sent and stored in `captured_mail`, where `nurture mail list` / `mail show`
read them, so a fresh install sends its journeys' mail somewhere a person can look at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from nurture.domain.errors import NotFound
from nurture.domain.messages.delivery import DeliveryResult, Outcome, OutgoingEmail, OutgoingSms, SenderConfig
from nurture.services.clock import Clock
from nurture.store import captured_mail as store
from nurture.store.captured_mail import CapturedMail
from nurture.store.db import Database
from nurture.store.ids import new_id

SMS_FROM = "sms"  # `mail_from` of a captured text message; `raw` is its text
Build = Callable[[OutgoingEmail, datetime], bytes]


def stdlib_message(email: OutgoingEmail, date: datetime) -> bytes:
    """The message's bytes, built with the standard library (multipart/alternative when it has HTML).

    The email channel's fast builder replaces this where it is installed; both give the same headers.
    """
    message = EmailMessage()
    domain = email.from_email.rpartition("@")[2]
    message["Message-ID"] = f"<{email.message_id}@{domain}>"
    message["Date"] = format_datetime(date)
    local, _, host = email.from_email.rpartition("@")
    message["From"] = Address(display_name=email.from_name or "", username=local, domain=host)
    message["To"] = email.to
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    for name, value in email.headers:
        message[name] = value
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message.as_bytes(policy=SMTP)


class CaptureEmail:
    """An `EmailTransport` that stores each built message for one workspace instead of sending it."""

    def __init__(self, db: Database, clock: Clock, workspace_id: str, build: Build = stdlib_message) -> None:
        self.db = db
        self.clock = clock
        self.workspace_id = workspace_id
        self.build = build

    def send_many(self, sender: SenderConfig, emails: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
        now = self.clock.now()
        rows = [
            {
                "workspace_id": self.workspace_id,
                "id": new_id(),
                "message_id": email.message_id,
                "mail_from": email.from_email,
                "rcpt_to": email.to,
                "subject": email.subject,
                "raw": self.build(email, now).decode("utf-8", "replace"),
                "captured_at": now,
            }
            for email in emails
        ]
        with self.db.write() as conn:
            store.insert(conn, rows)
        return [
            DeliveryResult(Outcome.ACCEPTED, 250, detail="captured", provider_id=str(r["id"])) for r in rows
        ]

    def close(self) -> None:
        pass


class CaptureSms:
    """An `SmsTransport` that stores each text message (`mail_from` "sms", `raw` the text)."""

    def __init__(self, db: Database, clock: Clock, workspace_id: str) -> None:
        self.db = db
        self.clock = clock
        self.workspace_id = workspace_id

    def send_many(self, sender: SenderConfig, messages: Sequence[OutgoingSms]) -> list[DeliveryResult]:
        now = self.clock.now()
        rows = [
            {
                "workspace_id": self.workspace_id,
                "id": new_id(),
                "message_id": sms.message_id,
                "mail_from": SMS_FROM,
                "rcpt_to": sms.to,
                "subject": None,
                "raw": sms.text,
                "captured_at": now,
            }
            for sms in messages
        ]
        with self.db.write() as conn:
            store.insert(conn, rows)
        return [DeliveryResult(Outcome.ACCEPTED, detail="captured", provider_id=str(r["id"])) for r in rows]

    def close(self) -> None:
        pass


class CapturedMailService:
    """Reading captured messages (`nurture mail list`, `nurture mail show`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def newest(self, workspace_id: str | None, limit: int = 50) -> list[CapturedMail]:
        with self.db.read() as conn:
            return store.newest(conn, workspace_id, limit)

    def get(self, workspace_id: str | None, key: str) -> CapturedMail:
        """A captured message by its id, or by the outbox message id it was sent as."""
        with self.db.read() as conn:
            found = store.find(conn, workspace_id, key)
        if found is None:
            raise NotFound(f"no captured message {key} (see `nurture mail list`)")
        return found
