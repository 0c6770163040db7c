"""The links the dispatcher puts in messages: `MessageLinks` is its one seam to them.

    headers(message, sender)  List-Unsubscribe (https and mailto) and List-Unsubscribe-Post (RFC 8058)
                              on marketing email; nothing on transactional mail or other channels
    rewrite_html(html, message)  links through the click redirect (UTM-tagged when the workspace asks),
                              the open pixel before </body>, per the workspace's tracking settings
    context(message)          unsubscribe_url, preferences_url (and confirm_url, topic_label for a
                              double opt-in confirmation), for the `message` part of the render context:
                              templates write {{ message.unsubscribe_url }}

The token logic is pure (domain/messages/links.py, rewrite.py); this class only reads each workspace's
tracking settings, through a short per-process cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection

from nurture.domain.errors import Invalid
from nurture.domain.messages.link_settings import LinkSettings, check_tracking, utm_params
from nurture.domain.messages.links import Links, derive_key
from nurture.domain.messages.rewrite import add_pixel, rewrite_links, tag_url, trackable
from nurture.store import tracking as store
from nurture.store.db import Database

log = structlog.get_logger("nurture.links")
SETTINGS_SECONDS = 30.0
ONE_CLICK = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


class LinkedMessage(Protocol):
    """What the links need to know about an outbox message (the dispatcher's claimed row)."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def id(self) -> str: ...  # the send id
    @property
    def contact_id(self) -> str: ...
    @property
    def channel(self) -> str: ...  # email | sms
    @property
    def category(self) -> str: ...  # marketing | transactional
    @property
    def template_id(self) -> str | None: ...
    @property
    def context(self) -> Mapping[str, Any]: ...  # the row's context (utm_campaign, double_opt_in)


def load_settings(conn: Connection, workspace_id: str) -> LinkSettings:
    """The workspace's tracking settings (defaults when it has none, or a document that no longer
    checks), with its template names when UTM tagging needs them."""
    document = store.settings_document(conn, workspace_id)
    try:
        settings = check_tracking(document.get("tracking"))
    except Invalid as err:
        log.warning("tracking settings ignored", workspace_id=workspace_id, error=err.detail)
        settings = LinkSettings()
    if not settings.utm.enabled:
        return settings
    return LinkSettings(
        settings.opens, settings.clicks, settings.utm, store.template_names(conn, workspace_id)
    )


class LinkSettingsCache:
    """Each workspace's tracking settings, read at most once per 30 s per process: a change reaches
    messages dispatched half a minute later at the latest."""

    def __init__(self, db: Database, seconds: float = SETTINGS_SECONDS) -> None:
        self.db = db
        self.seconds = seconds
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, LinkSettings]] = {}

    def __call__(self, workspace_id: str) -> LinkSettings:
        with self._lock:
            held = self._held.get(workspace_id)
        if held is not None and time.monotonic() - held[0] < self.seconds:
            return held[1]
        with self.db.read() as conn:
            settings = load_settings(conn, workspace_id)
        with self._lock:
            self._held[workspace_id] = (time.monotonic(), settings)
        return settings


class MessageLinks:
    """The dispatcher's seam to tracking and unsubscribe links (see the module's docstring)."""

    def __init__(
        self,
        public_url: str,
        secret_key: str,
        settings: Callable[[str], LinkSettings] | None = None,
    ) -> None:
        self.links = Links(public_url, derive_key(secret_key))
        self._settings = settings or (lambda _workspace_id: LinkSettings())

    def headers(self, message: LinkedMessage, from_email: str) -> tuple[tuple[str, str], ...]:
        if message.channel != "email" or message.category != "marketing" or not message.contact_id:
            return ()  # a test send to a bare address has no contact to unsubscribe
        targets = [f"<{self.links.unsubscribe_url(message.workspace_id, message.id, message.contact_id)}>"]
        domain = from_email.rpartition("@")[2].strip()
        if domain:
            targets.append(f"<mailto:{self.links.mailto(message.workspace_id, message.id, domain)}>")
        return (("List-Unsubscribe", ", ".join(targets)), ONE_CLICK)

    def rewrite_html(self, html: str, message: LinkedMessage) -> str:
        settings = self._settings(message.workspace_id)
        campaign = message.context.get("utm_campaign")
        if not isinstance(campaign, str):
            campaign = settings.template_names.get(message.template_id or "")
        params = utm_params(settings, campaign)

        def link(index: int, url: str) -> str | None:
            if not trackable(url) or self.links.is_own(url):
                return None
            target = tag_url(url, params)
            if settings.clicks:
                return self.links.click_url(message.workspace_id, message.id, index, target)
            return target if target != url else None

        if settings.clicks or params:
            html = rewrite_links(html, link)
        if settings.opens:
            html = add_pixel(html, self.links.open_url(message.workspace_id, message.id))
        return html

    def context(self, message: LinkedMessage) -> dict[str, Any]:
        if not message.contact_id:
            return {}  # a test send to a bare address: no contact, no personal links
        out: dict[str, Any] = {
            "unsubscribe_url": self.links.unsubscribe_url(
                message.workspace_id, message.id, message.contact_id
            ),
            "preferences_url": self.links.preferences_url(message.workspace_id, message.contact_id),
        }
        confirmation = message.context.get("double_opt_in")
        if isinstance(confirmation, Mapping):
            out["confirm_url"] = self.links.confirm_url(message.workspace_id, message.id)
            out["topic_label"] = confirmation.get("label")
        return out
