"""SQL for the consent ledger (`consent_records`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from nurture.domain.messages.consent import ConsentRecord
from nurture.domain.subscriptions import Status
from nurture.store.schema import consent_records


def insert(conn: Connection, workspace_id: str, record: ConsentRecord) -> None:
    conn.execute(
        consent_records.insert().values(
            workspace_id=workspace_id,
            id=record.id,
            contact_id=record.contact_id,
            channel=record.channel,
            topic=record.topic,
            status=record.status.value,
            source=record.source,
            ip=record.ip,
            user_agent=record.user_agent,
            text=record.text,
            text_hash=record.text_hash,
            message_id=record.message_id,
            occurred_at=record.occurred_at,
        )
    )


def _record(row: Any) -> ConsentRecord:
    return ConsentRecord(
        row.id,
        row.contact_id,
        row.channel,
        row.topic,
        Status(row.status),
        row.source,
        row.ip,
        row.user_agent,
        row.text,
        row.text_hash,
        row.message_id,
        row.occurred_at,
    )


def of_contact(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[ConsentRecord]:
    """The contact's records, oldest first (ids are ULIDs), after the id `after`."""
    query = select(consent_records).where(
        consent_records.c.workspace_id == workspace_id, consent_records.c.contact_id == contact_id
    )
    if after is not None:
        query = query.where(consent_records.c.id > after)
    query = query.order_by(consent_records.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [_record(r) for r in conn.execute(query)]
