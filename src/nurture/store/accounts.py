"""SQL for accounts (companies) and which contacts belong to them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, or_, select, update

from nurture.domain.contacts import Account
from nurture.store.schema import account_members, accounts
from nurture.store.sql import chunks, contains_pattern, insert_ignore

ACCOUNT_COLUMNS = ("group_id", "name", "domain", "attributes", "created_at", "updated_at")


def account_from_row(row: Any) -> Account:
    m = row._mapping
    return Account(
        id=m["id"],
        group_id=m["group_id"],
        name=m["name"],
        domain=m["domain"],
        attributes=dict(m["attributes"] or {}),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def account_row(workspace_id: str, account: Account) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "id": account.id,
        **{n: getattr(account, n) for n in ACCOUNT_COLUMNS},
    }


def by_group_ids(conn: Connection, workspace_id: str, group_ids: Iterable[str]) -> dict[str, Account]:
    found: dict[str, Account] = {}
    for part in chunks(sorted(set(group_ids))):
        rows = conn.execute(
            select(accounts).where(accounts.c.workspace_id == workspace_id, accounts.c.group_id.in_(part))
        )
        found.update({r.group_id: account_from_row(r) for r in rows})
    return found


def get(conn: Connection, workspace_id: str, account_id: str) -> Account | None:
    row = conn.execute(
        select(accounts).where(accounts.c.workspace_id == workspace_id, accounts.c.id == account_id)
    ).first()
    return account_from_row(row) if row else None


def insert_accounts(conn: Connection, workspace_id: str, new: Sequence[Account]) -> None:
    if new:
        conn.execute(accounts.insert(), [account_row(workspace_id, a) for a in new])


_update_account = (
    update(accounts)
    .where(accounts.c.workspace_id == bindparam("w_id"), accounts.c.id == bindparam("a_id"))
    .values({n: bindparam(n) for n in ACCOUNT_COLUMNS})
)


def update_accounts(conn: Connection, workspace_id: str, changed: Sequence[Account]) -> None:
    if changed:
        conn.execute(
            _update_account,
            [
                {"w_id": workspace_id, "a_id": a.id, **{n: getattr(a, n) for n in ACCOUNT_COLUMNS}}
                for a in changed
            ],
        )


def add_members(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert_ignore(conn, account_members), list(rows))


def member_ids(conn: Connection, workspace_id: str, account_id: str) -> list[str]:
    return list(
        conn.execute(
            select(account_members.c.contact_id)
            .where(account_members.c.workspace_id == workspace_id, account_members.c.account_id == account_id)
            .order_by(account_members.c.contact_id)
        ).scalars()
    )


def accounts_of(conn: Connection, workspace_id: str, contact_id: str) -> list[Account]:
    rows = conn.execute(
        select(accounts)
        .join(
            account_members,
            (account_members.c.workspace_id == accounts.c.workspace_id)
            & (account_members.c.account_id == accounts.c.id),
        )
        .where(account_members.c.workspace_id == workspace_id, account_members.c.contact_id == contact_id)
        .order_by(accounts.c.id)
    )
    return [account_from_row(r) for r in rows]


def list_accounts(
    conn: Connection,
    workspace_id: str,
    *,
    group_id: str | None,
    domain: str | None,
    search: str | None,
    after: str | None,
    limit: int,
) -> list[Account]:
    query = select(accounts).where(accounts.c.workspace_id == workspace_id)
    if group_id is not None:
        query = query.where(accounts.c.group_id == group_id)
    if domain is not None:
        query = query.where(accounts.c.domain == domain)
    if search:
        pattern = contains_pattern(search)
        query = query.where(
            or_(
                func.lower(accounts.c.name).like(pattern, escape="\\"),
                func.lower(accounts.c.domain).like(pattern, escape="\\"),
            )
        )
    if after is not None:
        query = query.where(accounts.c.id > after)
    return [account_from_row(r) for r in conn.execute(query.order_by(accounts.c.id).limit(limit))]


def delete_account(conn: Connection, workspace_id: str, account_id: str) -> None:
    conn.execute(
        delete(account_members).where(
            account_members.c.workspace_id == workspace_id, account_members.c.account_id == account_id
        )
    )
    conn.execute(delete(accounts).where(accounts.c.workspace_id == workspace_id, accounts.c.id == account_id))
