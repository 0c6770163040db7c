"""Consent changes, with their proof in the ledger, in the caller's transaction; the ledger and
subscriptions as the API reads and sets them.

`change` is the one path for them: the status through `subscriptions.set_status` (activity, queued
audience change) and a `consent_records` row. Unsubscribing from all of a channel also puts the
contact's addresses on the suppression list (reason `unsubscribed`); a later subscribe the person
confirms themselves (preference page, double opt-in) lifts that suppression and no other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.contacts import Page
from nurture.domain.errors import Invalid, NotFound
from nurture.domain.messages.consent import ConsentRecord, Proof, text_hash
from nurture.domain.messages.links import BadLink
from nurture.domain.subscriptions import (
    Status,
    Subscription,
    check_channel,
    check_source,
    check_status,
    check_topic,
)
from nurture.services.audience_refs import existing_contact
from nurture.services.clock import Clock
from nurture.services.identity import address_hash
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.services.subscriptions import set_status
from nurture.store import consents as store
from nurture.store import contacts as contact_store
from nurture.store import subscriptions as subscription_store
from nurture.store import suppressions
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.workspaces import get_workspace

UNSUBSCRIBED_REASON = "unsubscribed"
MAX_PAGE = 500


def change(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    channel: str,
    topic: str | None,
    status: Status,
    source: str,
    proof: Proof,
    now: datetime,
    *,
    message_id: str | None = None,
) -> bool:
    """Set the status and record the proof; the contact must be locked by the caller. Returns whether
    anything changed (the status it has already records nothing)."""
    current = subscription_store.get(conn, workspace_id, contact_id, channel, topic)
    if current is not None and current.status is status:
        return False
    set_status(conn, workspace_id, contact_id, channel, topic, status, source, now)
    kept = proof.clipped()
    record = ConsentRecord(
        new_id(),
        contact_id,
        channel,
        topic,
        status,
        source,
        kept.ip,
        kept.user_agent,
        kept.text,
        text_hash(kept.text),
        message_id,
        now,
    )
    store.insert(conn, workspace_id, record)
    return True


def unsubscribe_all(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    channel: str,
    addresses: Iterable[str],
    source: str,
    proof: Proof,
    now: datetime,
    *,
    message_id: str | None = None,
) -> bool:
    """The whole channel unsubscribed, and the addresses suppressed (reason `unsubscribed`)."""
    changed = change(
        conn,
        workspace_id,
        contact_id,
        channel,
        None,
        Status.UNSUBSCRIBED,
        source,
        proof,
        now,
        message_id=message_id,
    )
    for address in sorted({a.strip().lower() for a in addresses if a and a.strip()}):
        suppressions.add(conn, workspace_id, channel, address_hash(address), UNSUBSCRIBED_REASON, now)
    return changed


def resubscribe_channel(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    channel: str,
    addresses: Iterable[str],
    source: str,
    proof: Proof,
    now: datetime,
    *,
    message_id: str | None = None,
) -> bool:
    """Undo an unsubscribe from the whole channel, for a person who proved they hold the address
    (a signed link sent to it): the channel subscribed again, its `unsubscribed` suppressions lifted.
    A channel that was not unsubscribed is left as it is."""
    current = subscription_store.get(conn, workspace_id, contact_id, channel, None)
    if current is None or current.status is not Status.UNSUBSCRIBED:
        return False
    change(
        conn,
        workspace_id,
        contact_id,
        channel,
        None,
        Status.SUBSCRIBED,
        source,
        proof,
        now,
        message_id=message_id,
    )
    for address in sorted({a.strip().lower() for a in addresses if a and a.strip()}):
        suppressions.remove(conn, workspace_id, channel, address_hash(address), UNSUBSCRIBED_REASON)
    return True


@dataclass(frozen=True)
class Recipient:
    """Whom a signed link speaks for: the workspace's name, and the contact (its merge survivor) with
    its address; `contact_id` None when the contact has been erased since the link was made."""

    workspace_id: str
    workspace_name: str
    contact_id: str | None
    email: str | None


def recipient(conn: Connection, workspace_id: str, contact_id: str, *, lock: bool = False) -> Recipient:
    """The link's recipient; a workspace that no longer exists makes the link unknown (404)."""
    workspace = get_workspace(conn, workspace_id)
    if workspace is None:
        raise BadLink
    try:
        found = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
    except NotFound:
        return Recipient(workspace_id, workspace.name, None, None)
    if lock:
        contact_store.lock(conn, workspace_id, found)
    contact = contact_store.load_contacts(conn, workspace_id, [found]).get(found)
    return Recipient(workspace_id, workspace.name, found, contact.email if contact else None)


class SubscriptionService:
    """Subscriptions as the admin API reads and sets them; a change set here is in the ledger too,
    with its source (`api` unless told) and no proof of a person's own."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def of_contact(self, workspace_id: str, contact_id: str) -> list[Subscription]:
        with self.db.read() as conn:
            found = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
            return subscription_store.of_contact(conn, workspace_id, found)

    def set(
        self, workspace_id: str, contact_id: str, channel: Any, topic: Any, status: Any, source: Any = "api"
    ) -> Subscription:
        checked = (check_channel(channel), check_topic(topic), check_status(status), check_source(source))
        now = self.clock.now()
        with self.db.write() as conn:
            if not contact_store.lock(conn, workspace_id, contact_id):
                raise NotFound(f"no contact {contact_id} in this workspace")
            change(conn, workspace_id, contact_id, *checked, Proof(), now)
            found = subscription_store.get(conn, workspace_id, contact_id, checked[0], checked[1])
            assert found is not None  # just set, or already so
            return found


class ConsentLedger:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def of_contact(
        self, workspace_id: str, contact_id: str, *, after: str | None = None, limit: int = 100
    ) -> Page[ConsentRecord]:
        """The contact's consent records, oldest first; `after` is the cursor of the previous page."""
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
        with self.db.read() as conn:
            found = existing_contact(conn, workspace_id, contact_id, follow_merges=True)
            records = store.of_contact(
                conn, workspace_id, found, after=decode_id_cursor(after), limit=limit + 1
            )
        items = records[:limit]
        return Page(items, encode_id_cursor(items[-1].id) if len(records) > limit else None)
