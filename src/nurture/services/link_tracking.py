"""The open pixel and the click redirect: each hit becomes an `opened` / `clicked` message event (and
the contact's `Email Opened` / `Email Link Clicked`), flagged when a machine made it.

A click always leads on to its URL once the token checks out, even if recording fails or the outbox
row is gone: the MAC alone proves the message contained that URL, and a person's click must never end
on an error page because of bookkeeping. A hit for a contact erased since is not recorded.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from nurture.domain.contact_view import MessageEventKind
from nurture.domain.errors import NotFound
from nurture.domain.messages.engagement import MessageEventInput
from nurture.domain.messages.links import Links
from nurture.domain.messages.machine import Hit, Visit, machine_reason
from nurture.services import message_events
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.store import tracking as store
from nurture.store.db import Database

log = structlog.get_logger("nurture.links")
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_AGENT = 256
_KINDS = {Hit.OPEN: MessageEventKind.OPENED, Hit.CLICK: MessageEventKind.CLICKED}


class LinkTracking:
    def __init__(self, db: Database, clock: Clock, links: Links) -> None:
        self.db = db
        self.clock = clock
        self.links = links

    def opened(self, token: str, visit: Visit) -> None:
        """Record an open; a token this server did not make is NotFound."""
        link = self.links.read_open(token)
        self._record(link.workspace_id, link.message_id, Hit.OPEN, visit, {})

    def clicked(self, token: str, visit: Visit) -> str:
        """Record a click and return where it leads; a token this server did not make is NotFound."""
        link = self.links.read_click(token)
        try:
            self._record(
                link.workspace_id, link.message_id, Hit.CLICK, visit, {"url": link.url, "link": link.index}
            )
        except Exception:  # the person still gets where they were going
            log.exception("click not recorded", workspace_id=link.workspace_id, message_id=link.message_id)
        return link.url

    def _record(
        self, workspace_id: str, message_id: str, hit: Hit, visit: Visit, data: dict[str, Any]
    ) -> None:
        now = self.clock.now()
        with self.db.write() as conn:
            found = store.message(conn, workspace_id, message_id)
            if found is None:
                log.info(
                    "tracking link of an unknown message", workspace_id=workspace_id, message_id=message_id
                )
                return
            try:
                contact_id = existing_contact(conn, workspace_id, found.contact_id, follow_merges=True)
            except NotFound:
                return
            ref = replace(found.ref(), contact_id=contact_id)  # a merged contact's survivor
            event = MessageEventInput(
                ref, _KINDS[hit], now, {**data, **_visit_data(hit, visit, now, found.sent_at)}
            )
            message_events.record(conn, workspace_id, [event], now)


def _visit_data(hit: Hit, visit: Visit, at: datetime, sent_at: datetime | None) -> dict[str, Any]:
    reason = machine_reason(hit, visit, at, sent_at)
    out: dict[str, Any] = {"machine": reason is not None}
    if reason is not None:
        out["machine_reason"] = reason
    if visit.user_agent:
        out["user_agent"] = visit.user_agent[:MAX_AGENT]
    return out
