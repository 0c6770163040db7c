"""SMS: the workspace's provider settings (the `sms` key of the messaging settings document), what a
transport needs to send, and the rules for what comes back (opt-out keywords, delivery statuses).

Providers are Twilio or any service with Twilio's REST API (`{base}/2010-04-01/Accounts/{sid}/Messages.json`);
the base URL, account and token are per workspace, or the server's `NURTURE_SMS_URL`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nurture.domain.conditions.parsing import field_errors
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.errors import Invalid
from nurture.domain.profile import normalize_phone

TWILIO_BASE_URL = "https://api.twilio.com"
_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SmsSettings(BaseModel):
    """The `sms` key of `messaging_settings.data`. Every field may be left out to use the server's
    `NURTURE_SMS_URL` / `NURTURE_SMS_FROM`; `inbound_token` is made by nurture (the secret part of
    the inbound and status callback URLs)."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["twilio"] = "twilio"
    base_url: str | None = Field(
        default=None, description="Twilio-compatible API root, e.g. https://api.twilio.com"
    )
    account_sid: str | None = Field(default=None, description="Account SID (HTTP Basic user name)")
    auth_token: str | None = Field(
        default=None, description="Auth token: HTTP Basic password and signing key"
    )
    from_number: str | None = Field(default=None, description="Sending number, E.164")
    messaging_service_sid: str | None = Field(default=None, description="Send through a Messaging Service")
    inbound_token: str | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
            raise ValueError(
                "must be an http(s) URL without credentials or query, e.g. https://api.twilio.com"
            )
        return value.rstrip("/")

    @field_validator("account_sid", "messaging_service_sid")
    @classmethod
    def _sid(cls, value: str | None) -> str | None:
        if value is not None and not _SID.fullmatch(value):
            raise ValueError("must be 1 to 64 letters, digits, '_' or '-'")
        return value

    @field_validator("auth_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and not 1 <= len(value) <= 200:
            raise ValueError("must be 1 to 200 characters")
        return value

    @field_validator("from_number")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


@dataclass(frozen=True)
class SmsSenderConfig:
    """How one workspace's SMS leave: what the transport needs, resolved from settings."""

    base_url: str
    account_sid: str
    auth_token: str
    from_number: str | None
    messaging_service_sid: str | None = None
    # Where the provider reports delivery (`?message_id=` is added per message); None: not asked.
    status_callback: str | None = None


def parse_sms_url(url: str) -> SmsSettings:
    """`NURTURE_SMS_URL`: `https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com` (any Twilio-compatible root)."""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not parts.username
        or not parts.password
    ):
        raise ValueError("NURTURE_SMS_URL must look like https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    base = urlunsplit((parts.scheme, host, parts.path, "", ""))
    return SmsSettings(base_url=base, account_sid=unquote(parts.username), auth_token=unquote(parts.password))


def effective(
    workspace: SmsSettings | None, server: SmsSettings | None, status_callback: str | None = None
) -> SmsSenderConfig | None:
    """The workspace's settings over the server's, field by field; None when no account, token or
    sender (number or messaging service) is known."""
    mine = workspace or SmsSettings()
    default = server or SmsSettings()
    sid = mine.account_sid or default.account_sid
    token = mine.auth_token or default.auth_token
    number = mine.from_number or default.from_number
    service = mine.messaging_service_sid or default.messaging_service_sid
    if not (sid and token and (number or service)):
        return None
    base = mine.base_url or default.base_url or TWILIO_BASE_URL
    return SmsSenderConfig(base, sid, token, number, service, status_callback)


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


# Twilio's default opt-out, opt-in and help keywords (matched as the whole message, any case).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword(body: str) -> Keyword | None:
    """The keyword an inbound message is, or None for any other text. Surrounding spaces and a
    trailing full stop or exclamation mark are ignored ("Stop." opts out)."""
    word = body.strip().rstrip(".!").strip().upper()
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


def status_event(message_status: str) -> MessageEventKind | None:
    """The message event a provider's delivery status becomes (`delivered`; `undelivered` and
    `failed` are bounces); None for the in-between ones (queued, sending, sent)."""
    if message_status == "delivered":
        return MessageEventKind.DELIVERED
    if message_status in ("undelivered", "failed"):
        return MessageEventKind.BOUNCED
    return None


def inbound_token(workspace_id: str, secret: str) -> str:
    """The path part of a workspace's inbound and status URLs."""
    return f"{workspace_id}.{secret}"


def split_inbound_token(token: str) -> tuple[str, str] | None:
    workspace_id, dot, secret = token.partition(".")
    return (workspace_id, secret) if dot and workspace_id and secret else None


def parse_settings(data: Any, prefix: str = "") -> SmsSettings:
    """Validate a settings document; errors name their field."""
    try:
        return SmsSettings.model_validate(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc, data, prefix)) from None
