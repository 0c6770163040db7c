"""SQL for outbound webhooks: endpoints, the delivery log (which is also the retry queue), and the
publisher's cursor over activities.

Claims on PostgreSQL use `FOR UPDATE SKIP LOCKED`, so several workers take different deliveries; on
SQLite the claiming transaction holds the database. A claim moves `next_attempt_at` forward by a lease
and commits at once, so nothing is locked while the HTTP calls run; a worker that dies leaves its
deliveries due again when the lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select, tuple_, update

from nurture.domain.webhooks.endpoints import Delivery, DeliveryStatus, Endpoint, Format
from nurture.store.schema import webhook_cursors, webhook_deliveries, webhook_endpoints
from nurture.store.sql import chunks, execute_many, insert_ignore

e = webhook_endpoints
d = webhook_deliveries
c = webhook_cursors

_RETRYING = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)


# endpoints


def _endpoint(row: Row[Any]) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        secret=row.secret,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def insert_endpoint(conn: Connection, workspace_id: str, values: dict[str, Any]) -> None:
    conn.execute(e.insert().values(workspace_id=workspace_id, **values))


def get_endpoint(conn: Connection, workspace_id: str, endpoint_id: str) -> Endpoint | None:
    row = conn.execute(select(e).where(e.c.workspace_id == workspace_id, e.c.id == endpoint_id)).first()
    return _endpoint(row) if row else None


def endpoints(conn: Connection, workspace_id: str, *, enabled_only: bool = False) -> list[Endpoint]:
    query = select(e).where(e.c.workspace_id == workspace_id)
    if enabled_only:
        query = query.where(e.c.enabled.is_(True))
    return [_endpoint(row) for row in conn.execute(query.order_by(e.c.id))]


def endpoints_by_id(conn: Connection, workspace_id: str, ids: Sequence[str]) -> dict[str, Endpoint]:
    if not ids:
        return {}
    rows = conn.execute(select(e).where(e.c.workspace_id == workspace_id, e.c.id.in_(sorted(set(ids)))))
    return {row.id: _endpoint(row) for row in rows}


def count_endpoints(conn: Connection, workspace_id: str) -> int:
    return int(conn.scalar(select(func.count()).select_from(e).where(e.c.workspace_id == workspace_id)) or 0)


def update_endpoint(conn: Connection, workspace_id: str, endpoint_id: str, values: dict[str, Any]) -> bool:
    result = conn.execute(
        update(e).where(e.c.workspace_id == workspace_id, e.c.id == endpoint_id).values(**values)
    )
    return result.rowcount > 0


def delete_endpoint(conn: Connection, workspace_id: str, endpoint_id: str) -> bool:
    """Delete the endpoint and its delivery log."""
    conn.execute(delete(d).where(d.c.workspace_id == workspace_id, d.c.endpoint_id == endpoint_id))
    result = conn.execute(delete(e).where(e.c.workspace_id == workspace_id, e.c.id == endpoint_id))
    return result.rowcount > 0


def workspaces_with_endpoints(conn: Connection) -> list[str]:
    """Workspaces with at least one enabled endpoint: those whose activities are published."""
    query = select(e.c.workspace_id).where(e.c.enabled.is_(True)).distinct()
    return sorted(conn.execute(query).scalars())


# deliveries


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        workspace_id=row.workspace_id,
        id=row.id,
        endpoint_id=row.endpoint_id,
        url=row.url,
        format=Format(row.format),
        event_id=row.event_id,
        event_type=row.event_type,
        payload=row.payload,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        retry_until=row.retry_until,
        last_attempt_at=row.last_attempt_at,
        response_code=row.response_code,
        response_body=row.response_body,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def insert_deliveries(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert deliveries; one an endpoint already has for the same event is skipped. Returns rows written."""
    return execute_many(conn, insert_ignore(conn, d), rows)


def any_due(conn: Connection, now: datetime) -> bool:
    """A cheap read before taking the write lock."""
    return conn.execute(select(d.c.id).where(d.c.next_attempt_at <= now).limit(1)).first() is not None


_lease = (
    update(d)
    .where(d.c.workspace_id == bindparam("w"), d.c.id == bindparam("i"))
    .values(next_attempt_at=bindparam("until"))
)


def claim_due(conn: Connection, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
    """Up to `limit` due deliveries (across workspaces, earliest first) no other worker holds; their
    `next_attempt_at` becomes `lease_until`, so they are due again only if this worker never reports."""
    query = (
        select(d)
        .where(d.c.next_attempt_at <= now, d.c.status.in_(_RETRYING))
        .order_by(d.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = [_delivery(row) for row in conn.execute(query)]
    execute_many(conn, _lease, [{"w": x.workspace_id, "i": x.id, "until": lease_until} for x in claimed])
    return claimed


def record_attempt(conn: Connection, delivery: Delivery, values: dict[str, Any]) -> bool:
    """Store an attempt's outcome, unless another worker has reported on this delivery since it was
    claimed (its lease ran out and it was claimed again): then this report is dropped."""
    result = conn.execute(
        update(d)
        .where(
            d.c.workspace_id == delivery.workspace_id,
            d.c.id == delivery.id,
            d.c.attempts == delivery.attempts,
            d.c.status.in_(_RETRYING),
        )
        .values(**values)
    )
    return result.rowcount > 0


def get_delivery(conn: Connection, workspace_id: str, delivery_id: str) -> Delivery | None:
    row = conn.execute(select(d).where(d.c.workspace_id == workspace_id, d.c.id == delivery_id)).first()
    return _delivery(row) if row else None


def deliveries(
    conn: Connection,
    workspace_id: str,
    *,
    endpoint_id: str | None = None,
    status: DeliveryStatus | None = None,
    before: str | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """The delivery log, newest first, before the cursor `before` (a delivery id)."""
    query = select(d).where(d.c.workspace_id == workspace_id)
    if endpoint_id is not None:
        query = query.where(d.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(d.c.status == status.value)
    if before is not None:
        query = query.where(d.c.id < before)
    return [_delivery(row) for row in conn.execute(query.order_by(d.c.id.desc()).limit(limit))]


def update_delivery(conn: Connection, workspace_id: str, delivery_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(d).where(d.c.workspace_id == workspace_id, d.c.id == delivery_id).values(**values))


def kill_pending(conn: Connection, workspace_id: str, endpoint_id: str, reason: str, now: datetime) -> int:
    """Dead-letter every delivery still waiting for an endpoint (it was disabled)."""
    result = conn.execute(
        update(d)
        .where(d.c.workspace_id == workspace_id, d.c.endpoint_id == endpoint_id, d.c.status.in_(_RETRYING))
        .values(status=DeliveryStatus.DEAD.value, next_attempt_at=None, error=reason, updated_at=now)
    )
    return int(result.rowcount)


def prune_finished(conn: Connection, before: datetime, limit: int) -> int:
    """Delete up to `limit` deliveries that finished (delivered or dead) before `before`."""
    finished = (DeliveryStatus.DELIVERED.value, DeliveryStatus.DEAD.value)
    oldest = (
        select(d.c.workspace_id, d.c.id)
        .where(d.c.updated_at < before, d.c.status.in_(finished))
        .order_by(d.c.updated_at)
        .limit(limit)
    )
    result = conn.execute(delete(d).where(tuple_(d.c.workspace_id, d.c.id).in_(oldest)))
    return int(result.rowcount)


# the activity publisher's cursor


def lock_cursor(conn: Connection, workspace_id: str) -> Row[Any] | None:
    """The workspace's cursor, locked for this transaction; None when another worker holds it or
    there is none yet."""
    query = select(c).where(c.c.workspace_id == workspace_id).with_for_update(skip_locked=True)
    return conn.execute(query).first()


def put_cursor(conn: Connection, workspace_id: str, values: dict[str, Any]) -> None:
    if conn.execute(update(c).where(c.c.workspace_id == workspace_id).values(**values)).rowcount == 0:
        conn.execute(insert_ignore(conn, c).values(workspace_id=workspace_id, **values))


def read_cursor(conn: Connection, workspace_id: str) -> Row[Any] | None:
    return conn.execute(select(c).where(c.c.workspace_id == workspace_id)).first()


def existing_events(
    conn: Connection, workspace_id: str, endpoint_ids: Sequence[str], event_ids: Sequence[str]
) -> set[tuple[str, str]]:
    """Which (endpoint, event) pairs already have a delivery."""
    found: set[tuple[str, str]] = set()
    if not endpoint_ids:
        return found
    for part in chunks(sorted(set(event_ids)), 400):
        rows = conn.execute(
            select(d.c.endpoint_id, d.c.event_id).where(
                d.c.workspace_id == workspace_id,
                d.c.endpoint_id.in_(sorted(set(endpoint_ids))),
                d.c.event_id.in_(part),
            )
        )
        found.update((endpoint_id, event_id) for endpoint_id, event_id in rows)
    return found
