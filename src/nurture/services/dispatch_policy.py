"""The dispatcher's first phase for one workspace's share of a batch, inside the claiming transaction:
load what the policies read for every message at once (contacts, suppressions, consent, topics,
recent marketing sends), decide each message (domain/messages/policies.py), and write the skips and
deferrals; the messages to send are handed on, `sending` under a lease."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from nurture.domain.contacts import Account, Contact
from nurture.domain.messages.outbox import OutboxMessage, Source, Status
from nurture.domain.messages.policies import MARKETING, Action, Decision, Recipient, decide
from nurture.domain.messages.settings import MessagingSettings
from nurture.domain.subscriptions import Status as Consent
from nurture.services import messaging_settings
from nurture.services.identity import address_hash
from nurture.store import contacts as contact_store
from nurture.store import dispatch as store
from nurture.store import suppressions
from nurture.store import topics as topic_store
from nurture.store.contact_views import merged_into
from nurture.store.workspaces import get_workspace


@dataclass(frozen=True)
class ToSend:
    """A message that passed the policies, with what rendering it needs."""

    message: OutboxMessage  # `attempts` counts this attempt; `contact_id` follows merges
    address: str
    contact: Contact | None  # None: a test send without a contact
    account: Account | None


@dataclass
class Decided:
    workspace_id: str
    settings: MessagingSettings
    workspace: dict[str, Any]  # the render context's `workspace`
    to_send: list[ToSend] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    deferred: int = 0


def decide_workspace(
    conn: Connection, workspace_id: str, claimed: list[OutboxMessage], now: datetime
) -> Decided:
    """Decide every claimed message of one workspace and write what that changes (in `conn`)."""
    settings = messaging_settings.load(conn, workspace_id)
    found = get_workspace(conn, workspace_id)
    workspace = {
        "id": workspace_id,
        "name": found.name if found else None,
        "postal_address": settings.postal_address,
    }
    survivors = merged_into(conn, workspace_id, {m.contact_id for m in claimed if m.contact_id})
    messages = [
        replace(m, contact_id=survivors.get(m.contact_id, m.contact_id), attempts=m.attempts + 1)
        for m in sorted(claimed, key=lambda m: (m.created_at, m.id))
    ]
    contact_ids = sorted({m.contact_id for m in messages if m.contact_id})
    marketing = [m for m in messages if m.category == MARKETING and m.source is not Source.TEST]
    marketing_ids = {m.id for m in marketing}
    cap = settings.frequency_cap
    if cap is not None:
        store.lock_contacts(conn, workspace_id, {m.contact_id for m in marketing})
    contacts = contact_store.load_contacts(conn, workspace_id, contact_ids, identities={})
    accounts = store.first_accounts(conn, workspace_id, contact_ids)
    addresses = {m.id: _address(m, contacts.get(m.contact_id)) for m in messages}
    suppressed = _suppressed(conn, workspace_id, messages, addresses)
    consents = store.consents(conn, workspace_id, [m.contact_id for m in marketing]) if marketing else {}
    topics = topic_store.defaults(conn, workspace_id) if any(m.topic for m in marketing) else {}
    topic_defaults = {key: Consent(status) for key, status in topics.items()}
    recent: dict[str, list[datetime]] = defaultdict(list)
    if cap is not None and marketing:
        since = now - timedelta(hours=cap.window_hours)
        claimed_ids = {m.id for m in messages}
        recent.update(
            store.recent_marketing(conn, workspace_id, [m.contact_id for m in marketing], since, claimed_ids)
        )
    decided = Decided(workspace_id, settings, workspace)
    lease_until = now + timedelta(seconds=settings.lease_seconds)
    for message in messages:
        contact = contacts.get(message.contact_id)
        address = addresses[message.id]
        recipient = None
        if contact is not None or message.source is Source.TEST:
            recipient = Recipient(
                address=address,
                timezone=contact.timezone if contact else None,
                suppressed=suppressed.get(message.id),
                channel_consent=_consent(consents.get((message.contact_id, message.channel, None))),
                topic_consent=_consent(consents.get((message.contact_id, message.channel, message.topic)))
                if message.topic
                else None,
                recent=recent.get(message.contact_id, ()),
            )
        decision = decide(message, recipient, topic_defaults, settings, now)
        if decision.action is Action.SEND and address is not None:
            if message.id in marketing_ids:
                recent[message.contact_id].append(now)
            decided.to_send.append(ToSend(message, address, contact, accounts.get(message.contact_id)))
            decided.changes.append(
                {
                    "workspace_id": workspace_id,
                    "id": message.id,
                    "contact_id": message.contact_id,
                    "to_address": address,
                    "attempts": message.attempts,
                    "lease_until": lease_until,
                    "reason": None,
                    "detail": None,
                }
            )
        else:
            decided.changes.append(_stopped(workspace_id, message, decision, now))
            if decision.action is Action.DEFER:
                decided.deferred += 1
            else:
                decided.skipped += 1
    return decided


def _address(message: OutboxMessage, contact: Contact | None) -> str | None:
    if message.to_address:
        return message.to_address
    if contact is None:
        return None
    return (
        contact.email if message.channel == "email" else contact.phone if message.channel == "sms" else None
    )


def _suppressed(
    conn: Connection, workspace_id: str, messages: list[OutboxMessage], addresses: dict[str, str | None]
) -> dict[str, str]:
    """Message id → suppression reason, for messages whose address is on the suppression list."""
    hashes: dict[str, dict[str, str]] = defaultdict(dict)
    for message in messages:
        address = addresses[message.id]
        if address:
            hashes[message.channel][message.id] = address_hash(address)
    out: dict[str, str] = {}
    for channel, by_message in hashes.items():
        hit = suppressions.suppressed(conn, workspace_id, channel, by_message.values())
        out.update({m: hit[h] for m, h in by_message.items() if h in hit})
    return out


def _consent(value: str | None) -> Consent | None:
    return Consent(value) if value is not None else None


def _stopped(workspace_id: str, message: OutboxMessage, decision: Decision, now: datetime) -> dict[str, Any]:
    """The row of a message a policy stopped: skipped for good, or pending until a later time (its
    attempt not counted)."""
    deferred = decision.action is Action.DEFER
    row = {
        "workspace_id": workspace_id,
        "id": message.id,
        "contact_id": message.contact_id,
        "status": Status.PENDING.value if deferred else Status.SKIPPED.value,
        "reason": decision.reason.value if decision.reason else None,
        "detail": decision.detail,
        "lease_until": None,
        "attempts": message.attempts - 1,
        "updated_at": now,
    }
    if deferred:
        row["due_at"] = decision.until or now
    return row
