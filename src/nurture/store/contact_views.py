"""Loading one contact's `ContactView` (everything a condition may read), with one query per kind."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind, TrackedEvent
from nurture.domain.contacts import Contact
from nurture.store import accounts as account_store
from nurture.store import subscriptions as subscription_store
from nurture.store import tags as tag_store
from nurture.store.schema import contact_scores, events, list_members, message_events, segment_memberships


def load_view(conn: Connection, workspace_id: str, contact: Contact, now: datetime) -> ContactView:
    """The contact as of `now`: its events and message events up to `now`, accounts, current
    segments and lists, tags, stage, scores and subscriptions."""
    w, c = workspace_id, contact.id
    tracked = [
        TrackedEvent(r.name or "", dict(r.properties or {}), r.timestamp)
        for r in conn.execute(
            select(events.c.name, events.c.properties, events.c.timestamp)
            .where(events.c.workspace_id == w, events.c.contact_id == c, events.c.timestamp <= now)
            .order_by(events.c.timestamp, events.c.id)
        )
    ]
    messages = [
        MessageEvent(MessageEventKind(r.kind), r.message_id, r.occurred_at, r.template_id, r.journey_id)
        for r in conn.execute(
            select(message_events)
            .where(
                message_events.c.workspace_id == w,
                message_events.c.contact_id == c,
                message_events.c.occurred_at <= now,
                message_events.c.kind.in_([k.value for k in MessageEventKind]),
            )
            .order_by(message_events.c.occurred_at)
        )
    ]
    segments = conn.execute(
        select(segment_memberships.c.segment_id).where(
            segment_memberships.c.workspace_id == w,
            segment_memberships.c.contact_id == c,
            segment_memberships.c.exited_at.is_(None),
        )
    ).scalars()
    listed = conn.execute(
        select(list_members.c.list_id).where(list_members.c.workspace_id == w, list_members.c.contact_id == c)
    ).scalars()
    scores = conn.execute(
        select(contact_scores.c.model_id, contact_scores.c.score).where(
            contact_scores.c.workspace_id == w, contact_scores.c.contact_id == c
        )
    ).all()
    return ContactView(
        contact=contact,
        events=tracked,
        accounts=account_store.accounts_of(conn, w, c),
        segment_ids=frozenset(segments),
        list_ids=frozenset(listed),
        tags=frozenset(tag_store.tags_of(conn, w, [c]).get(c, [])),
        lifecycle_stage=contact.lifecycle_stage,
        scores={model: float(score) for model, score in scores},
        subscriptions={
            (s.channel, s.topic): SubscriptionStatus(s.status.value)
            for s in subscription_store.of_contact(conn, w, c)
        },
        message_events=messages,
    )
