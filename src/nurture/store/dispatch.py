"""SQL for the dispatcher: claiming due outbox rows under a lease, finding expired leases, the facts
its policies read for a batch of contacts, and writing what became of each message.

Claims lock their rows until the claiming transaction ends; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets
several dispatchers claim different rows at once. SQLite has one writer (`BEGIN IMMEDIATE`), which
already excludes everyone else for the whole transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, tuple_, update

from nurture.domain.contacts import Account
from nurture.domain.messages.outbox import OutboxMessage, Source, Status
from nurture.store.accounts import account_from_row
from nurture.store.schema import account_members, accounts, messages, subscriptions
from nurture.store.sql import PerDialect, in_chunks, lock_keys, one_of, update_many

m = messages
_ROW = (
    m.c.workspace_id,
    m.c.id,
    m.c.contact_id,
    m.c.channel,
    m.c.category,
    m.c.topic,
    m.c.template_id,
    m.c.template_version,
    m.c.sender_id,
    m.c.source,
    m.c.source_key,
    m.c.journey_id,
    m.c.node_id,
    m.c.campaign_id,
    m.c.context,
    m.c.to_address,
    m.c.attempts,
    m.c.created_at,
)


def _message(row: Any) -> OutboxMessage:
    values = list(row)
    values[9] = Source(values[9])
    values[14] = dict(values[14] or {})
    return OutboxMessage(*values)


def has_work(conn: Connection, now: datetime) -> bool:
    """Whether a message is due or a lease has expired (a cheap read before taking the write lock)."""
    due = select(m.c.id).where(m.c.status == Status.PENDING.value, m.c.due_at <= now).limit(1)
    if conn.execute(due).first() is not None:
        return True
    expired = select(m.c.id).where(m.c.status == Status.SENDING.value, m.c.lease_until < now).limit(1)
    return conn.execute(expired).first() is not None


def claim(conn: Connection, now: datetime, limit: int, lease_until: datetime) -> list[OutboxMessage]:
    """Up to `limit` due pending messages no other transaction holds, earliest due first, now
    `sending` under a lease until `lease_until`."""
    due = (
        select(m.c.workspace_id, m.c.id)
        .where(m.c.status == Status.PENDING.value, m.c.due_at <= now)
        .order_by(m.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(m)
        .where(tuple_(m.c.workspace_id, m.c.id).in_(due))
        .values(status=Status.SENDING.value, lease_until=lease_until, updated_at=now)
        .returning(*_ROW)
    )
    return sorted((_message(row) for row in conn.execute(statement)), key=lambda x: (x.workspace_id, x.id))


def expired(conn: Connection, now: datetime, limit: int) -> list[tuple[str, str, str]]:
    """(workspace, id, category) of `sending` messages whose lease ended before `now`, locked."""
    query = (
        select(m.c.workspace_id, m.c.id, m.c.category)
        .where(m.c.status == Status.SENDING.value, m.c.lease_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(str(w), str(i), str(c)) for w, i, c in conn.execute(query)]


def update_messages(conn: Connection, changes: Sequence[Mapping[str, Any]]) -> None:
    """Write each change (`workspace_id`, `id` and the columns to set), grouped by the columns given;
    one statement per group on PostgreSQL. A message changed twice with the same columns takes the
    later change, as two UPDATEs in a row would leave it."""
    groups: dict[tuple[str, ...], dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for change in changes:
        columns = tuple(sorted(k for k in change if k not in ("workspace_id", "id")))
        key = (change["workspace_id"], change["id"])
        groups[columns][key] = {"workspace_id": key[0], "id": key[1], **{c: change[c] for c in columns}}
    for rows in groups.values():
        update_many(conn, m, ("workspace_id", "id"), list(rows.values()))


def lock_contacts(conn: Connection, workspace_id: str, contact_ids: Iterable[str]) -> None:
    """Serialise dispatchers deciding for the same contacts (PostgreSQL), so two of them cannot both
    let a message through a frequency cap that has room for one."""
    lock_keys(conn, (f"{workspace_id}:dispatch:{c}" for c in contact_ids))


_subscriptions = PerDialect(
    lambda dialect: select(
        subscriptions.c.contact_id, subscriptions.c.channel, subscriptions.c.topic, subscriptions.c.status
    ).where(
        subscriptions.c.workspace_id == bindparam("workspace_id"),
        one_of(dialect, subscriptions.c.contact_id, "ids"),
    )
)


def consents(
    conn: Connection, workspace_id: str, contact_ids: Sequence[str]
) -> dict[tuple[str, str, str | None], str]:
    """(contact, channel, topic or None for the whole channel) → status, for every row of the contacts."""
    found: dict[tuple[str, str, str | None], str] = {}
    for part in in_chunks(conn, sorted(set(contact_ids))):
        for contact_id, channel, topic, status in conn.execute(
            _subscriptions(conn), {"workspace_id": workspace_id, "ids": part}
        ):
            found[(contact_id, channel, topic or None)] = status
    return found


def recent_marketing(
    conn: Connection,
    workspace_id: str,
    contact_ids: Sequence[str],
    since: datetime,
    excluding: set[str],
) -> dict[str, list[datetime]]:
    """When marketing messages (not test sends) went to each contact after `since`, and those another
    dispatcher is sending now (counted at the time they were handed over), other than `excluding`."""
    found: dict[str, list[datetime]] = defaultdict(list)
    for part in in_chunks(conn, sorted(set(contact_ids))):
        rows = conn.execute(
            select(m.c.id, m.c.contact_id, func.coalesce(m.c.sent_at, m.c.updated_at)).where(
                m.c.workspace_id == workspace_id,
                m.c.contact_id.in_(part),
                m.c.category == "marketing",
                m.c.source != Source.TEST.value,
                or_(m.c.sent_at > since, and_(m.c.status == Status.SENDING.value, m.c.sent_at.is_(None))),
            )
        )
        for message_id, contact_id, at in rows:
            if message_id not in excluding:
                found[contact_id].append(at)
    return found


def first_accounts(conn: Connection, workspace_id: str, contact_ids: Sequence[str]) -> dict[str, Account]:
    """Each contact's first account (the one it joined first), for the render context."""
    found: dict[str, Account] = {}
    for part in in_chunks(conn, sorted(set(contact_ids))):
        rows = conn.execute(
            select(account_members.c.contact_id, accounts)
            .join(
                accounts,
                and_(
                    accounts.c.workspace_id == account_members.c.workspace_id,
                    accounts.c.id == account_members.c.account_id,
                ),
            )
            .where(account_members.c.workspace_id == workspace_id, account_members.c.contact_id.in_(part))
            .order_by(account_members.c.created_at.desc(), account_members.c.account_id.desc())
        )
        for row in rows:
            found[row.contact_id] = account_from_row(row)  # the earliest comes last and stays
    return found
