"""SQL for subscription topics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from nurture.domain.messages.topics import Topic, TopicFields
from nurture.domain.subscriptions import Status
from nurture.store.schema import topics
from nurture.store.sql import insert_ignore


def _topic(row: Any) -> Topic:
    return Topic(
        row.channel,
        row.name,
        row.label,
        row.description,
        Status(row.default_status),
        bool(row.double_opt_in),
        row.created_at,
    )


def list_topics(conn: Connection, workspace_id: str, channel: str | None = None) -> list[Topic]:
    query = select(topics).where(topics.c.workspace_id == workspace_id)
    if channel is not None:
        query = query.where(topics.c.channel == channel)
    return [_topic(r) for r in conn.execute(query.order_by(topics.c.channel, topics.c.name))]


def get(conn: Connection, workspace_id: str, channel: str, name: str) -> Topic | None:
    row = conn.execute(
        select(topics).where(
            topics.c.workspace_id == workspace_id, topics.c.channel == channel, topics.c.name == name
        )
    ).first()
    return _topic(row) if row else None


def insert(conn: Connection, workspace_id: str, topic: Topic) -> None:
    conn.execute(
        topics.insert().values(
            workspace_id=workspace_id,
            channel=topic.channel,
            name=topic.name,
            label=topic.label,
            description=topic.description,
            default_status=topic.default_status.value,
            double_opt_in=topic.double_opt_in,
            created_at=topic.created_at,
        )
    )


def change(conn: Connection, workspace_id: str, channel: str, name: str, fields: TopicFields) -> bool:
    done = conn.execute(
        update(topics)
        .where(topics.c.workspace_id == workspace_id, topics.c.channel == channel, topics.c.name == name)
        .values(
            label=fields.label,
            description=fields.description,
            default_status=fields.default_status.value,
            double_opt_in=fields.double_opt_in,
        )
    )
    return bool(done.rowcount)


def remove(conn: Connection, workspace_id: str, channel: str, name: str) -> bool:
    done = conn.execute(
        delete(topics).where(
            topics.c.workspace_id == workspace_id, topics.c.channel == channel, topics.c.name == name
        )
    )
    return bool(done.rowcount)


def defaults(conn: Connection, workspace_id: str) -> dict[tuple[str, str], str]:
    """(channel, topic name) → the status a contact without a row has (subscribed: opt-out topic)."""
    rows = conn.execute(
        select(topics.c.channel, topics.c.name, topics.c.default_status).where(
            topics.c.workspace_id == workspace_id
        )
    )
    return {(channel, name): status for channel, name, status in rows}


def add(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert topics; one that exists already is left as it is."""
    if rows:
        conn.execute(insert_ignore(conn, topics), list(rows))
