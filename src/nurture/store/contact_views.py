"""Everything the condition language may read about one contact, fetched in one place ("fetch, then
compute"): the contact, its events, accounts, memberships, tags, stage, scores, subscriptions and
message events. Statements are built once (building one costs more than running it)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Table, and_, bindparam, select

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind, TrackedEvent
from nurture.store.accounts import account_from_row
from nurture.store.contacts import attach_identities, contact_from_row
from nurture.store.schema import (
    account_members,
    accounts,
    contact_identities,
    contact_scores,
    contact_tags,
    contacts,
    events,
    list_members,
    message_events,
    segment_memberships,
    subscriptions,
)

TRACKED_TYPES = ("track", "page", "screen")


def _mine(table: Table) -> ColumnElement[bool]:
    return and_(table.c.workspace_id == bindparam("w"), table.c.contact_id == bindparam("c"))


_CONTACT = select(contacts).where(contacts.c.workspace_id == bindparam("w"), contacts.c.id == bindparam("c"))
_IDENTITIES = (
    select(contact_identities.c.kind, contact_identities.c.value)
    .where(_mine(contact_identities))
    .order_by(contact_identities.c.created_at, contact_identities.c.value)
)
_EVENTS = (
    select(events.c.name, events.c.properties, events.c.timestamp)
    .where(_mine(events), events.c.type.in_(TRACKED_TYPES), events.c.name.is_not(None))
    .order_by(events.c.timestamp, events.c.id)
)
_ACCOUNTS = (
    select(accounts)
    .join(
        account_members,
        (account_members.c.workspace_id == accounts.c.workspace_id)
        & (account_members.c.account_id == accounts.c.id),
    )
    .where(_mine(account_members))
    .order_by(accounts.c.id)
)
_SEGMENTS = select(segment_memberships.c.segment_id).where(
    _mine(segment_memberships), segment_memberships.c.exited_at.is_(None)
)
_LISTS = select(list_members.c.list_id).where(_mine(list_members))
_TAGS = select(contact_tags.c.tag).where(_mine(contact_tags))
_SCORES = select(contact_scores.c.model_id, contact_scores.c.score).where(_mine(contact_scores))
_SUBSCRIPTIONS = select(subscriptions.c.channel, subscriptions.c.topic, subscriptions.c.status).where(
    _mine(subscriptions)
)
_MESSAGES = select(message_events).where(_mine(message_events)).order_by(message_events.c.occurred_at)
_KNOWN_MESSAGE_KINDS = {kind.value for kind in MessageEventKind}


def load_view(conn: Connection, workspace_id: str, contact_id: str) -> ContactView | None:
    """The contact's view, or None when there is no such contact."""
    key = {"w": workspace_id, "c": contact_id}
    row = conn.execute(_CONTACT, key).first()
    if row is None:
        return None
    contact = contact_from_row(row)
    attach_identities(contact, [(r.kind, r.value) for r in conn.execute(_IDENTITIES, key)])
    tracked = [
        TrackedEvent(r.name, dict(r.properties or {}), r.timestamp) for r in conn.execute(_EVENTS, key)
    ]
    consent = {
        (r.channel, r.topic or None): SubscriptionStatus(r.status) for r in conn.execute(_SUBSCRIPTIONS, key)
    }
    messages = [
        MessageEvent(MessageEventKind(r.kind), r.message_id, r.occurred_at, r.template_id, r.journey_id)
        for r in conn.execute(_MESSAGES, key)
        if r.kind in _KNOWN_MESSAGE_KINDS
    ]
    return ContactView(
        contact=contact,
        events=tracked,
        accounts=[account_from_row(r) for r in conn.execute(_ACCOUNTS, key)],
        segment_ids=frozenset(conn.execute(_SEGMENTS, key).scalars()),
        list_ids=frozenset(conn.execute(_LISTS, key).scalars()),
        tags=frozenset(conn.execute(_TAGS, key).scalars()),
        lifecycle_stage=row.lifecycle_stage,
        scores={r.model_id: r.score for r in conn.execute(_SCORES, key)},
        subscriptions=consent,
        message_events=messages,
    )
