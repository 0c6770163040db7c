"""SQL for assignment rules, routing settings, a contact's owner, and the account facts rules read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from nurture.domain.routing import AccountFacts, RoutingRule
from nurture.store.accounts import account_from_row
from nurture.store.schema import account_members, accounts, contacts, routing_rules, routing_settings
from nurture.store.sql import insert


def _rule(row: Any) -> RoutingRule:
    return RoutingRule(
        row.id,
        row.name,
        row.position,
        dict(row.definition),
        row.last_owner_id,
        row.created_at,
        row.updated_at,
    )


def insert_rule(conn: Connection, workspace_id: str, rule: RoutingRule) -> None:
    conn.execute(
        routing_rules.insert().values(
            workspace_id=workspace_id,
            id=rule.id,
            name=rule.name,
            position=rule.position,
            definition=rule.definition,
            last_owner_id=rule.last_owner_id,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
        )
    )


def get_rule(conn: Connection, workspace_id: str, rule_id: str, *, lock: bool = False) -> RoutingRule | None:
    """One rule; with `lock`, its row stays locked to this transaction (round-robin state)."""
    query = select(routing_rules).where(
        routing_rules.c.workspace_id == workspace_id, routing_rules.c.id == rule_id
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    return _rule(row) if row else None


def rule_by_name(conn: Connection, workspace_id: str, name: str) -> str | None:
    found: str | None = conn.execute(
        select(routing_rules.c.id).where(
            routing_rules.c.workspace_id == workspace_id, routing_rules.c.name == name
        )
    ).scalar()
    return found


def rules(conn: Connection, workspace_id: str) -> list[RoutingRule]:
    """The workspace's rules in the order they are tried."""
    rows = conn.execute(
        select(routing_rules)
        .where(routing_rules.c.workspace_id == workspace_id)
        .order_by(routing_rules.c.position, routing_rules.c.id)
    )
    return [_rule(r) for r in rows]


def next_position(conn: Connection, workspace_id: str) -> int:
    top = conn.execute(
        select(func.max(routing_rules.c.position)).where(routing_rules.c.workspace_id == workspace_id)
    ).scalar()
    return int(top) + 1 if top is not None else 1


def change_rule(
    conn: Connection,
    workspace_id: str,
    rule_id: str,
    *,
    name: str,
    position: int,
    definition: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        update(routing_rules)
        .where(routing_rules.c.workspace_id == workspace_id, routing_rules.c.id == rule_id)
        .values(name=name, position=position, definition=definition, updated_at=now)
    )


def rotate(conn: Connection, workspace_id: str, rule_id: str, owner_id: str) -> None:
    conn.execute(
        update(routing_rules)
        .where(routing_rules.c.workspace_id == workspace_id, routing_rules.c.id == rule_id)
        .values(last_owner_id=owner_id)
    )


def delete_rule(conn: Connection, workspace_id: str, rule_id: str) -> None:
    conn.execute(
        delete(routing_rules).where(
            routing_rules.c.workspace_id == workspace_id, routing_rules.c.id == rule_id
        )
    )


def rules_naming(conn: Connection, workspace_id: str, owner_id: str) -> list[str]:
    """Names of the rules whose definition names `owner_id` (read in Python: definitions are small)."""
    return [r.name for r in rules(conn, workspace_id) if owner_id in _owner_ids(r.definition)]


def _owner_ids(definition: dict[str, Any]) -> set[str]:
    named = set(definition.get("owner_ids") or ())
    named.update((definition.get("owners") or {}).values())
    if definition.get("fallback_owner_id"):
        named.add(definition["fallback_owner_id"])
    return named


def assign_at_stages(conn: Connection, workspace_id: str) -> list[str] | None:
    """The stages configured for automatic assignment; None when never configured."""
    found = conn.execute(
        select(routing_settings.c.assign_at_stages).where(routing_settings.c.workspace_id == workspace_id)
    ).scalar()
    return None if found is None else list(found)


def set_assign_at_stages(conn: Connection, workspace_id: str, stages: Sequence[str], now: datetime) -> None:
    values = {"assign_at_stages": list(stages), "updated_at": now}
    conn.execute(
        insert(conn, routing_settings)
        .values(workspace_id=workspace_id, **values)
        .on_conflict_do_update(index_elements=["workspace_id"], set_=values)
    )


def owner_of(conn: Connection, workspace_id: str, contact_id: str) -> tuple[bool, str | None]:
    """(whether the contact exists, its owner), with the contact's row locked until commit."""
    row = conn.execute(
        select(contacts.c.owner_id)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        .with_for_update()
    ).first()
    return (False, None) if row is None else (True, row.owner_id)


def set_owner(
    conn: Connection, workspace_id: str, contact_id: str, owner_id: str | None, now: datetime
) -> None:
    """The owner column alone: ingest writes never touch it (see store.contacts.CONTACT_COLUMNS)."""
    conn.execute(
        update(contacts)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        .values(owner_id=owner_id, updated_at=now)
    )


def _facts(
    conn: Connection, workspace_id: str, account_rows: Sequence[Any], contact_id: str
) -> list[AccountFacts]:
    if not account_rows:
        return []
    ids = [r.id for r in account_rows]
    owned = conn.execute(
        select(account_members.c.account_id, contacts.c.owner_id)
        .join(
            contacts,
            (contacts.c.workspace_id == account_members.c.workspace_id)
            & (contacts.c.id == account_members.c.contact_id),
        )
        .where(
            account_members.c.workspace_id == workspace_id,
            account_members.c.account_id.in_(ids),
            account_members.c.contact_id != contact_id,
            contacts.c.owner_id.is_not(None),
        )
    ).all()
    counts: dict[str, Counter[str]] = {i: Counter() for i in ids}
    for account_id, owner_id in owned:
        counts[account_id][owner_id] += 1
    return [AccountFacts(account_from_row(r), dict(counts[r.id])) for r in account_rows]


def accounts_of(conn: Connection, workspace_id: str, contact_id: str) -> list[AccountFacts]:
    """The contact's accounts, each with the owners of its other contacts."""
    rows = conn.execute(
        select(accounts)
        .join(
            account_members,
            (account_members.c.workspace_id == accounts.c.workspace_id)
            & (account_members.c.account_id == accounts.c.id),
        )
        .where(accounts.c.workspace_id == workspace_id, account_members.c.contact_id == contact_id)
        .order_by(accounts.c.id)
    ).all()
    return _facts(conn, workspace_id, rows, contact_id)


def accounts_by_domain(
    conn: Connection, workspace_id: str, domain: str, contact_id: str
) -> list[AccountFacts]:
    """Accounts whose company domain is `domain`, each with the owners of its contacts."""
    rows = conn.execute(
        select(accounts)
        .where(accounts.c.workspace_id == workspace_id, accounts.c.domain == domain)
        .order_by(accounts.c.id)
    ).all()
    return _facts(conn, workspace_id, rows, contact_id)
