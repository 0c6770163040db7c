"""The channels a running server uses: SMTP (or capture when no SMTP URL applies) for email, the
workspace's Twilio-compatible provider (or capture when it has none) for SMS. The composition root
hands these factories to the dispatcher."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from nurture.channels.email.mime import build_message
from nurture.channels.email.smtp import SmtpTransport
from nurture.channels.sms.twilio import TwilioSms
from nurture.domain.messages.delivery import DeliveryResult, OutgoingEmail, OutgoingSms, SenderConfig
from nurture.domain.messages.sms import SmsSenderConfig


def fast_build(email: OutgoingEmail, date: datetime) -> bytes:
    """Captured mail is built exactly as SMTP would send it (unsigned: no key is needed to read it)."""
    return build_message(email, date=date, dkim=None)


class WorkspaceSms:
    """The shared Twilio client bound to one workspace's provider settings."""

    def __init__(self, client: TwilioSms, config: SmsSenderConfig) -> None:
        self.client = client
        self.config = config

    def send_many(self, sender: SenderConfig, messages: Sequence[OutgoingSms]) -> list[DeliveryResult]:
        return self.client.send_many(self.config, messages)

    def close(self) -> None:
        """The client is shared by every workspace and closed with the server."""


def smtp_factory(now: Callable[[], datetime]) -> Callable[[SenderConfig], SmtpTransport]:
    def make(sender: SenderConfig) -> SmtpTransport:
        return SmtpTransport(default_url=sender.smtp_url, now=now)

    return make
