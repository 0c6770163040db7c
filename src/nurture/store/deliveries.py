"""SQL for applying delivery reports: the sends they name, soft-bounce counts, and the per-workspace
delivery webhook configuration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from nurture.store.ids import new_id
from nurture.store.schema import delivery_webhooks, messages, soft_bounces
from nurture.store.sql import chunks
from nurture.store.sql import insert as dialect_insert


@dataclass(frozen=True)
class Send:
    """An outbox row as far as a delivery report needs it."""

    id: str
    contact_id: str
    channel: str
    template_id: str | None
    journey_id: str | None
    to_address: str | None


@dataclass(frozen=True)
class WebhookConfig:
    workspace_id: str
    provider: str
    config: dict[str, Any]
    created_at: datetime


def sends(conn: Connection, workspace_id: str, ids: Iterable[str]) -> dict[str, Send]:
    found: dict[str, Send] = {}
    columns = (
        messages.c.id,
        messages.c.contact_id,
        messages.c.channel,
        messages.c.template_id,
        messages.c.journey_id,
        messages.c.to_address,
    )
    for part in chunks(sorted(set(ids))):
        rows = conn.execute(
            select(*columns).where(messages.c.workspace_id == workspace_id, messages.c.id.in_(part))
        )
        found.update({row.id: Send(*row) for row in rows})
    return found


def add_soft_bounce(
    conn: Connection, workspace_id: str, value_hash: str, message_id: str, occurred_at: datetime
) -> None:
    conn.execute(
        insert(soft_bounces).values(
            workspace_id=workspace_id,
            id=new_id(),
            value_hash=value_hash,
            message_id=message_id,
            occurred_at=occurred_at,
        )
    )


def count_soft_bounces(conn: Connection, workspace_id: str, value_hash: str, since: datetime) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                soft_bounces.c.workspace_id == workspace_id,
                soft_bounces.c.value_hash == value_hash,
                soft_bounces.c.occurred_at >= since,
            )
        ).scalar_one()
    )


def put_webhook(
    conn: Connection, workspace_id: str, provider: str, token_hash: str, config: dict[str, Any], now: datetime
) -> None:
    """Configure (or reconfigure, with a new token) one provider's webhook for a workspace."""
    values = {"token_hash": token_hash, "config": config, "created_at": now}
    statement = dialect_insert(conn, delivery_webhooks).values(
        workspace_id=workspace_id, provider=provider, **values
    )
    conn.execute(statement.on_conflict_do_update(index_elements=["workspace_id", "provider"], set_=values))


def webhook_by_token(conn: Connection, provider: str, token_hash: str) -> WebhookConfig | None:
    """The configuration a secret path token names; the token is the workspace's credential here."""
    row = conn.execute(
        select(delivery_webhooks).where(
            delivery_webhooks.c.token_hash == token_hash, delivery_webhooks.c.provider == provider
        )
    ).first()
    return WebhookConfig(row.workspace_id, row.provider, row.config, row.created_at) if row else None


def webhooks(conn: Connection, workspace_id: str) -> list[WebhookConfig]:
    rows = conn.execute(
        select(delivery_webhooks)
        .where(delivery_webhooks.c.workspace_id == workspace_id)
        .order_by(delivery_webhooks.c.provider)
    )
    return [WebhookConfig(r.workspace_id, r.provider, r.config, r.created_at) for r in rows]


def delete_webhook(conn: Connection, workspace_id: str, provider: str) -> bool:
    result = conn.execute(
        delete(delivery_webhooks).where(
            delivery_webhooks.c.workspace_id == workspace_id, delivery_webhooks.c.provider == provider
        )
    )
    return bool(result.rowcount)
