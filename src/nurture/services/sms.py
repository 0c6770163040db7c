"""SMS: the workspace's provider settings, the sender config the dispatcher hands the transport, and
what the provider calls back with: inbound messages (STOP / START change SMS consent) and delivery
statuses (recorded as message events).

The callback URLs are `/api/v1/sms/inbound/{token}` and `/api/v1/sms/status/{token}`, where the token
is `<workspace id>.<random secret>` made when the settings are first saved. When an auth token is
configured, every callback must carry a valid `X-Twilio-Signature` too.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.channels.sms.twilio import valid_signature
from nurture.domain.errors import Forbidden, Invalid, NotFound
from nurture.domain.messages.engagement import MessageEventInput
from nurture.domain.messages.sms import (
    Keyword,
    SmsSenderConfig,
    SmsSettings,
    effective,
    inbound_token,
    keyword,
    parse_settings,
    split_inbound_token,
    status_event,
)
from nurture.domain.profile import normalize_phone
from nurture.domain.subscriptions import Status
from nurture.services import message_events
from nurture.services.clock import Clock
from nurture.services.identity import address_hash
from nurture.services.subscriptions import set_status
from nurture.store import contacts as contact_store
from nurture.store import messages as message_store
from nurture.store import messaging_settings as settings_store
from nurture.store import subscriptions as subscription_store
from nurture.store import suppressions
from nurture.store.db import Database

SETTINGS_KEY = "sms"
SOURCE = "sms_keyword"
INBOUND_PATH = "/api/v1/sms/inbound/"
STATUS_PATH = "/api/v1/sms/status/"
Params = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class SmsSettingsView:
    settings: SmsSettings  # auth_token and inbound_token are never shown
    configured: bool  # with the server's defaults, can this workspace send SMS?
    inbound_url: str | None
    status_callback_url: str | None


@dataclass(frozen=True)
class InboundResult:
    keyword: Keyword | None
    contacts: list[str]  # whose SMS consent changed


def workspace_settings(conn: Connection, workspace_id: str) -> SmsSettings | None:
    data = (settings_store.get(conn, workspace_id) or {}).get(SETTINGS_KEY)
    return SmsSettings.model_validate(data) if data is not None else None


class SmsService:
    def __init__(self, db: Database, clock: Clock, server: SmsSettings | None, public_url: str) -> None:
        self.db = db
        self.clock = clock
        self.server = server
        self.public_url = public_url.rstrip("/")

    # settings

    def settings(self, workspace_id: str) -> SmsSettingsView:
        with self.db.read() as conn:
            return self._view(workspace_id, workspace_settings(conn, workspace_id))

    def put_settings(self, workspace_id: str, given: Mapping[str, Any]) -> SmsSettingsView:
        """Replace the settings with `given`; an `auth_token` left out keeps the stored one. The first
        save makes the callback URLs' secret."""
        with self.db.write() as conn:
            current = workspace_settings(conn, workspace_id) or SmsSettings()
            data = {"auth_token": current.auth_token, **given, "inbound_token": current.inbound_token}
            checked = parse_settings({k: v for k, v in data.items() if k != "inbound_token"})
            checked = checked.model_copy(
                update={"inbound_token": current.inbound_token or secrets.token_urlsafe(24)}
            )
            settings_store.put_key(
                conn, workspace_id, SETTINGS_KEY, checked.model_dump(exclude_none=True), self.clock.now()
            )
        return self._view(workspace_id, checked)

    def sender_config(self, conn: Connection, workspace_id: str) -> SmsSenderConfig | None:
        """What the transport needs to send this workspace's SMS (None: no provider configured), with
        delivery reports asked for at the status callback URL."""
        mine = workspace_settings(conn, workspace_id)
        return effective(mine, self.server, self._url(STATUS_PATH, workspace_id, mine))

    def _view(self, workspace_id: str, mine: SmsSettings | None) -> SmsSettingsView:
        shown = (mine or SmsSettings()).model_copy(update={"inbound_token": None})
        return SmsSettingsView(
            settings=shown,
            configured=effective(mine, self.server) is not None,
            inbound_url=self._url(INBOUND_PATH, workspace_id, mine),
            status_callback_url=self._url(STATUS_PATH, workspace_id, mine),
        )

    def _url(self, path: str, workspace_id: str, mine: SmsSettings | None) -> str | None:
        if mine is None or not mine.inbound_token:
            return None
        return f"{self.public_url}{path}{inbound_token(workspace_id, mine.inbound_token)}"

    # callbacks

    def inbound(
        self, token: str, urls: Sequence[str], params: Params, signature: str | None
    ) -> InboundResult:
        """An inbound SMS: STOP-like keywords unsubscribe every contact with the sender's number from
        SMS and suppress the number; START-like ones subscribe them again and lift that suppression;
        HELP and any other text change nothing (the provider answers HELP itself)."""
        now = self.clock.now()
        with self.db.write() as conn:
            workspace_id = self._authenticate(conn, token, urls, params, signature)
            phone = _phone(params)
            said = _keyword(params)
            if said not in (Keyword.STOP, Keyword.START):
                return InboundResult(said, [])
            status = Status.UNSUBSCRIBED if said is Keyword.STOP else Status.SUBSCRIBED
            changed = []
            for contact_id in contact_store.ids_with_phone(conn, workspace_id, phone):
                if not contact_store.lock(conn, workspace_id, contact_id):
                    continue
                prior = subscription_store.get(conn, workspace_id, contact_id, "sms", None)
                set_status(conn, workspace_id, contact_id, "sms", None, status, SOURCE, now)
                if prior is None or prior.status is not status:
                    changed.append(contact_id)
            if said is Keyword.STOP:
                suppressions.add(conn, workspace_id, "sms", address_hash(phone), "unsubscribed", now)
            else:
                suppressions.remove(conn, workspace_id, "sms", address_hash(phone), "unsubscribed")
            return InboundResult(said, changed)

    def delivery_status(
        self, token: str, urls: Sequence[str], message_id: str | None, params: Params, signature: str | None
    ) -> bool:
        """A delivery report for a message sent with a status callback: `delivered` records a
        delivered event, `undelivered` / `failed` a bounce (with the provider's error code). Reports
        of in-between states are accepted and ignored. Returns whether an event was recorded."""
        now = self.clock.now()
        with self.db.write() as conn:
            workspace_id = self._authenticate(conn, token, urls, params, signature)
            if not message_id:
                raise Invalid.one("message_id", "is required in the query string (the callback URL sets it)")
            reported = _one(params, "MessageStatus")
            sid = _one(params, "MessageSid", required=False) or _one(params, "SmsSid", required=False)
            kind = status_event(reported or "")
            if kind is None:
                return False
            ref = message_store.ref(conn, workspace_id, message_id)
            if ref is None:
                raise NotFound(f"no message {message_id} in this workspace")
            data = {"provider": "twilio", "status": reported, "provider_id": sid}
            error_code = _one(params, "ErrorCode", required=False)
            if error_code:
                data["error_code"] = error_code
            happening = MessageEventInput(
                ref, kind, now, {k: v for k, v in data.items() if v}, dedupe_key=f"twilio:{sid}:{reported}"
            )
            return record_status(conn, workspace_id, happening, now)

    def _authenticate(
        self, conn: Connection, token: str, urls: Sequence[str], params: Params, signature: str | None
    ) -> str:
        """The workspace a callback URL names, after checking its secret and, when an auth token is
        configured, the provider's signature."""
        parts = split_inbound_token(token)
        mine = workspace_settings(conn, parts[0]) if parts else None
        if parts is None or mine is None or not mine.inbound_token:
            raise NotFound("no such SMS callback URL")
        if not hmac.compare_digest(parts[1].encode(), mine.inbound_token.encode()):
            raise NotFound("no such SMS callback URL")
        auth_token = mine.auth_token or (self.server.auth_token if self.server else None)
        if auth_token and not any(valid_signature(auth_token, url, params, signature or "") for url in urls):
            raise Forbidden("the X-Twilio-Signature header does not sign this request")
        return parts[0]


def record_status(conn: Connection, workspace_id: str, happening: MessageEventInput, now: datetime) -> bool:
    """Where a delivery report is written: the one recorder of message events."""
    return message_events.record(conn, workspace_id, [happening], now) > 0


def _one(params: Params, name: str, *, required: bool = True) -> str | None:
    values = params.get(name) or []
    if not values or not values[0].strip():
        if required:
            raise Invalid.one(name, "is required")
        return None
    return values[0]


def _keyword(params: Params) -> Keyword | None:
    """Twilio's Advanced Opt-Out says which keyword list matched (`OptOutType`, custom keywords
    included); otherwise the body is matched against the default keywords."""
    opt_out = (_one(params, "OptOutType", required=False) or "").lower()
    if opt_out in {k.value for k in Keyword}:
        return Keyword(opt_out)
    return keyword(_one(params, "Body", required=False) or "")


def _phone(params: Params) -> str:
    value = _one(params, "From") or ""
    try:
        return normalize_phone(value)
    except ValueError as exc:
        raise Invalid.one("From", str(exc)) from None
