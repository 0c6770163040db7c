"""Load what conditions read about a batch of contacts, once, into `ContactView`s ("fetch, then compute").

Given the references of the conditions about to be evaluated, only the parts they read are loaded:
events only of the names they mention, lists, tags, scores and subscriptions only when asked for.
One query per part for the whole batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.conditions.references import References
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind, TrackedEvent
from nurture.domain.contacts import Account
from nurture.store.contacts import contact_from_row
from nurture.store.schema import (
    account_members,
    accounts,
    contact_merges,
    contact_scores,
    contact_tags,
    contacts,
    events,
    list_members,
    message_events,
    segment_memberships,
    subscriptions,
)
from nurture.store.sql import in_chunks, one_of

TRACK = "track"


@dataclass
class _Parts:
    events: dict[str, list[TrackedEvent]] = field(default_factory=lambda: defaultdict(list))
    accounts: dict[str, list[Account]] = field(default_factory=lambda: defaultdict(list))
    segments: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    lists: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    tags: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    scores: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    subscriptions: dict[str, dict[tuple[str, str | None], SubscriptionStatus]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    messages: dict[str, list[MessageEvent]] = field(default_factory=lambda: defaultdict(list))


def load_views(
    conn: Connection, workspace_id: str, contact_ids: Iterable[str], refs: References | None = None
) -> dict[str, ContactView]:
    """Views of the contacts that exist (merged-away and erased ids are left out). `refs` says what
    the conditions to evaluate read; None loads everything. Current segment memberships are always
    loaded: the caller compares them with the new answers."""
    ids = sorted(set(contact_ids))
    found: dict[str, Any] = {}
    query = select(contacts).where(
        contacts.c.workspace_id == workspace_id, one_of(conn.dialect.name, contacts.c.id, "ids")
    )
    for part in in_chunks(conn, ids):
        found.update({row.id: row for row in conn.execute(query, {"ids": part})})
    present = sorted(found)
    if not present:
        return {}
    parts = _Parts()
    for part in in_chunks(conn, present):
        _load_part(conn, workspace_id, part, refs, parts)
    return {
        contact_id: ContactView(
            contact=contact_from_row(row),
            events=sorted(parts.events[contact_id], key=lambda e: e.timestamp),
            accounts=parts.accounts[contact_id],
            segment_ids=frozenset(parts.segments[contact_id]),
            list_ids=frozenset(parts.lists[contact_id]),
            tags=frozenset(parts.tags[contact_id]),
            lifecycle_stage=row.lifecycle_stage,
            scores=parts.scores[contact_id],
            subscriptions=parts.subscriptions[contact_id],
            message_events=sorted(parts.messages[contact_id], key=lambda e: e.timestamp),
        )
        for contact_id, row in found.items()
    }


def _load_part(
    conn: Connection, workspace_id: str, ids: Sequence[str], refs: References | None, parts: _Parts
) -> None:
    m = segment_memberships
    rows = conn.execute(
        select(m.c.contact_id, m.c.segment_id).where(
            m.c.workspace_id == workspace_id,
            one_of(conn.dialect.name, m.c.contact_id, "ids"),
            m.c.exited_at.is_(None),
        ),
        {"ids": list(ids)},
    )
    for contact_id, segment_id in rows:
        parts.segments[contact_id].add(segment_id)
    if refs is None or refs.event_names:
        _events(conn, workspace_id, ids, None if refs is None else sorted(refs.event_names), parts)
    if refs is None or refs.account_fields:
        _accounts(conn, workspace_id, ids, parts)
    if refs is None or refs.list_ids:
        only = None if refs is None else refs.list_ids
        for contact_id, list_id in _pairs(conn, workspace_id, ids, list_members.c.list_id, only):
            parts.lists[contact_id].add(list_id)
    if refs is None or refs.tags:
        for contact_id, tag in _pairs(
            conn, workspace_id, ids, contact_tags.c.tag, None if refs is None else refs.tags
        ):
            parts.tags[contact_id].add(tag)
    if refs is None or refs.score_models:
        s = contact_scores
        query = select(s.c.contact_id, s.c.model_id, s.c.score).where(
            s.c.workspace_id == workspace_id, one_of(conn.dialect.name, s.c.contact_id, "ids")
        )
        if refs is not None:
            query = query.where(s.c.model_id.in_(sorted(refs.score_models)))
        for row in conn.execute(query, {"ids": list(ids)}):
            parts.scores[row.contact_id][row.model_id] = row.score
    if refs is None or refs.subscription_channels:
        _subscriptions(conn, workspace_id, ids, refs, parts)
    if refs is None or refs.message_events:
        _messages(conn, workspace_id, ids, parts)


def _pairs(
    conn: Connection, workspace_id: str, ids: Sequence[str], column: Any, only: set[str] | None
) -> list[tuple[str, str]]:
    """(contact id, value of `column`) of a per-contact table, limited to the values in `only`."""
    table = column.table
    query = select(table.c.contact_id, column).where(
        table.c.workspace_id == workspace_id, one_of(conn.dialect.name, table.c.contact_id, "ids")
    )
    if only is not None:
        query = query.where(column.in_(sorted(only)))
    return [(str(c), str(v)) for c, v in conn.execute(query, {"ids": list(ids)})]


def _events(
    conn: Connection, workspace_id: str, ids: Sequence[str], names: list[str] | None, parts: _Parts
) -> None:
    # conditions read tracked events only (a page view or a group call is not an "event" there)
    query = select(events.c.contact_id, events.c.name, events.c.properties, events.c.timestamp).where(
        events.c.workspace_id == workspace_id,
        one_of(conn.dialect.name, events.c.contact_id, "ids"),
        events.c.type == TRACK,
    )
    if names is not None:
        query = query.where(events.c.name.in_(names))
    for contact_id, name, properties, timestamp in conn.execute(query, {"ids": list(ids)}):
        parts.events[contact_id].append(TrackedEvent(name, properties or {}, timestamp))


def _accounts(conn: Connection, workspace_id: str, ids: Sequence[str], parts: _Parts) -> None:
    query = (
        select(account_members.c.contact_id, accounts)
        .join(
            accounts,
            (accounts.c.workspace_id == account_members.c.workspace_id)
            & (accounts.c.id == account_members.c.account_id),
        )
        .where(
            account_members.c.workspace_id == workspace_id,
            one_of(conn.dialect.name, account_members.c.contact_id, "ids"),
        )
    )
    for row in conn.execute(query, {"ids": list(ids)}):
        parts.accounts[row.contact_id].append(
            Account(
                id=row.id,
                group_id=row.group_id,
                name=row.name,
                domain=row.domain,
                attributes=dict(row.attributes or {}),
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )


def _subscriptions(
    conn: Connection, workspace_id: str, ids: Sequence[str], refs: References | None, parts: _Parts
) -> None:
    s = subscriptions
    query = select(s.c.contact_id, s.c.channel, s.c.topic, s.c.status).where(
        s.c.workspace_id == workspace_id, one_of(conn.dialect.name, s.c.contact_id, "ids")
    )
    if refs is not None:
        query = query.where(s.c.channel.in_(sorted(refs.subscription_channels)))
    for contact_id, channel, topic, status in conn.execute(query, {"ids": list(ids)}):
        parts.subscriptions[contact_id][(channel, topic or None)] = SubscriptionStatus(status)


def _messages(conn: Connection, workspace_id: str, ids: Sequence[str], parts: _Parts) -> None:
    e = message_events
    kinds = [k.value for k in MessageEventKind]
    query = select(
        e.c.contact_id, e.c.kind, e.c.message_id, e.c.occurred_at, e.c.template_id, e.c.journey_id
    ).where(
        e.c.workspace_id == workspace_id,
        one_of(conn.dialect.name, e.c.contact_id, "ids"),
        e.c.kind.in_(kinds),
    )
    for contact_id, kind, message_id, occurred_at, template_id, journey_id in conn.execute(
        query, {"ids": list(ids)}
    ):
        parts.messages[contact_id].append(
            MessageEvent(MessageEventKind(kind), message_id, occurred_at, template_id, journey_id)
        )


def merged_into(conn: Connection, workspace_id: str, contact_ids: Iterable[str]) -> dict[str, str]:
    """Merged-away id → the contact it now lives under, for those of `contact_ids` that were merged."""
    out: dict[str, str] = {}
    for part in in_chunks(conn, sorted(set(contact_ids))):
        rows = conn.execute(
            select(contact_merges.c.merged_id, contact_merges.c.into_id).where(
                contact_merges.c.workspace_id == workspace_id, contact_merges.c.merged_id.in_(part)
            )
        )
        out.update((str(merged), str(into)) for merged, into in rows)
    return out


def contact_ids_after(conn: Connection, workspace_id: str, after: str | None, limit: int) -> list[str]:
    """A page of the workspace's contact ids in id order, for walks over every contact."""
    query = select(contacts.c.id).where(contacts.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(contacts.c.id > after)
    return list(conn.execute(query.order_by(contacts.c.id).limit(limit)).scalars())


def load_view(conn: Connection, workspace_id: str, contact_id: str) -> ContactView | None:
    """One contact's whole view (everything any condition may read), or None when there is no such
    contact (merged away or erased)."""
    return load_views(conn, workspace_id, [contact_id]).get(contact_id)
