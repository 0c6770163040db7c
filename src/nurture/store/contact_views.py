"""Everything the condition language may read about one contact, fetched in one place ("fetch, then
compute"): the contact, its events, accounts, memberships, tags, stage, scores, subscriptions and
message events."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Table, and_, select

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind, TrackedEvent
from nurture.store.accounts import accounts_of
from nurture.store.contacts import load_contacts
from nurture.store.schema import (
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


def load_view(conn: Connection, workspace_id: str, contact_id: str) -> ContactView | None:
    """The contact's view, or None when there is no such contact."""
    found = load_contacts(conn, workspace_id, [contact_id])
    contact = found.get(contact_id)
    if contact is None:
        return None

    def mine(table: Table) -> ColumnElement[bool]:
        return and_(table.c.workspace_id == workspace_id, table.c.contact_id == contact_id)

    tracked = [
        TrackedEvent(r.name, dict(r.properties or {}), r.timestamp)
        for r in conn.execute(
            select(events.c.name, events.c.properties, events.c.timestamp)
            .where(mine(events), events.c.type.in_(TRACKED_TYPES), events.c.name.is_not(None))
            .order_by(events.c.timestamp, events.c.id)
        )
    ]
    stage = conn.execute(
        select(contacts.c.lifecycle_stage).where(
            contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id
        )
    ).scalar()
    segments = conn.execute(
        select(segment_memberships.c.segment_id).where(
            mine(segment_memberships), segment_memberships.c.exited_at.is_(None)
        )
    ).scalars()
    lists = conn.execute(select(list_members.c.list_id).where(mine(list_members))).scalars()
    tags = conn.execute(select(contact_tags.c.tag).where(mine(contact_tags))).scalars()
    scores = {
        r.model_id: r.score
        for r in conn.execute(
            select(contact_scores.c.model_id, contact_scores.c.score).where(mine(contact_scores))
        )
    }
    consent = {
        (r.channel, r.topic or None): SubscriptionStatus(r.status)
        for r in conn.execute(
            select(subscriptions.c.channel, subscriptions.c.topic, subscriptions.c.status).where(
                mine(subscriptions)
            )
        )
    }
    known = {kind.value for kind in MessageEventKind}
    messages = [
        MessageEvent(MessageEventKind(r.kind), r.message_id, r.occurred_at, r.template_id, r.journey_id)
        for r in conn.execute(
            select(message_events).where(mine(message_events)).order_by(message_events.c.occurred_at)
        )
        if r.kind in known
    ]
    return ContactView(
        contact=contact,
        events=tracked,
        accounts=accounts_of(conn, workspace_id, contact_id),
        segment_ids=frozenset(segments),
        list_ids=frozenset(lists),
        tags=frozenset(tags),
        lifecycle_stage=stage,
        scores=scores,
        subscriptions=consent,
        message_events=messages,
    )
