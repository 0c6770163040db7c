"""Assigning contacts to sales owners: the one write path for `contacts.owner_id`.

- `assign_owner(conn, workspace_id, contact_id, now, reason, force=False)` runs the workspace's rules
  in order and stores the first owner one yields. A contact that has an owner keeps it unless `force`.
- `assign_on_stage(conn, workspace_id, contact_id, stage, now)` does the same when `stage` is one the
  workspace assigns at (routing settings; default `mql`). `services.lifecycle.change_stage` calls it
  on every stage change, so scoring thresholds, the API and journeys all route the same way.
- `change_owner(...)` sets an owner by hand (API).

Every change records OWNER_ASSIGNED (data: from, to, rule, and the reason) and queues a `profile`
change named `owner_id`, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.errors import Invalid, NotFound
from nurture.domain.routing import (
    MANUAL,
    RoundRobin,
    RoutingFacts,
    Territory,
    applies,
    email_domain,
    parse_rule,
    pick,
)
from nurture.store import activities
from nurture.store import contacts as contact_store
from nurture.store import owners as owner_store
from nurture.store import routing as store
from nurture.store.contact_views import load_view

DEFAULT_ASSIGN_AT_STAGES: tuple[str, ...] = ("mql",)


@dataclass(frozen=True)
class Assignment:
    """The contact's owner after routing; `changed` when this call set it, by rule `rule_id`."""

    owner_id: str | None
    changed: bool
    rule_id: str | None = None
    rule_name: str | None = None


def assign_at_stages(conn: Connection, workspace_id: str) -> tuple[str, ...]:
    configured = store.assign_at_stages(conn, workspace_id)
    return DEFAULT_ASSIGN_AT_STAGES if configured is None else tuple(configured)


def assign_on_stage(
    conn: Connection, workspace_id: str, contact_id: str, stage: str | None, now: datetime
) -> str | None:
    """Route the contact if `stage` is one the workspace assigns at; returns its owner (None when the
    stage does not route or no rule yields one)."""
    if stage is None or stage not in assign_at_stages(conn, workspace_id):
        return None
    return assign_owner(conn, workspace_id, contact_id, now, {"trigger": "lifecycle_stage", "stage": stage})


def assign_owner(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    now: datetime,
    reason: dict[str, Any],
    *,
    force: bool = False,
) -> str | None:
    """Run the rules for the contact and store the owner; returns its owner afterwards (unchanged when
    it had one and not `force`, or when no rule yields an owner)."""
    return route(conn, workspace_id, contact_id, now, reason, force=force).owner_id


def route(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    now: datetime,
    reason: dict[str, Any],
    *,
    force: bool = False,
) -> Assignment:
    """`assign_owner`, telling also whether and by which rule the owner changed."""
    exists, current = store.owner_of(conn, workspace_id, contact_id)  # the contact row stays locked
    if not exists:
        raise NotFound(f"no contact {contact_id} in this workspace")
    if current is not None and not force:
        return Assignment(current, changed=False)
    rules = store.rules(conn, workspace_id)
    if not rules:
        return Assignment(current, changed=False)
    contact = contact_store.load_contacts(conn, workspace_id, [contact_id])[contact_id]
    domain = email_domain(contact.email)
    view = load_view(conn, workspace_id, contact_id)
    assert view is not None, "the contact row is locked, so it exists"
    facts = RoutingFacts(
        view=view,
        owners=owner_store.all_owners(conn, workspace_id),
        accounts=store.accounts_of(conn, workspace_id, contact_id),
        domain_accounts=store.accounts_by_domain(conn, workspace_id, domain, contact_id) if domain else [],
    )
    for row in rules:
        rule, condition = parse_rule(row.definition)
        if not applies(condition, facts, now):
            continue
        last = row.last_owner_id
        if isinstance(rule, RoundRobin | Territory):
            # the rotation state is read and moved under the rule row's lock (PostgreSQL), so two
            # concurrent assignments never hand out the same turn
            locked = store.get_rule(conn, workspace_id, row.id, lock=True)
            last = locked.last_owner_id if locked else None
        chosen = pick(rule, facts, last)
        if chosen is None:
            continue
        if chosen.rotated:
            store.rotate(conn, workspace_id, row.id, chosen.owner_id)
        if chosen.owner_id == current:
            return Assignment(current, changed=False, rule_id=row.id, rule_name=row.name)
        _write(
            conn,
            workspace_id,
            contact_id,
            current,
            chosen.owner_id,
            now,
            {"rule": row.id, "rule_name": row.name, **reason},
        )
        return Assignment(chosen.owner_id, changed=True, rule_id=row.id, rule_name=row.name)
    return Assignment(current, changed=False)


def change_owner(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    owner_id: str | None,
    now: datetime,
    field: str = "owner_id",
) -> bool:
    """Set (or with None clear) the contact's owner by hand; the owner must exist and be active.
    Returns whether it changed."""
    if owner_id is not None:
        owner = owner_store.get(conn, workspace_id, owner_id)
        if owner is None:
            raise Invalid.one(field, f"no owner {owner_id} in this workspace")
        if not owner.active:
            raise Invalid.one(field, f"owner {owner_id} is inactive; activate it first")
    exists, current = store.owner_of(conn, workspace_id, contact_id)
    if not exists:
        raise NotFound(f"no contact {contact_id} in this workspace")
    if current == owner_id:
        return False
    _write(conn, workspace_id, contact_id, current, owner_id, now, {"rule": MANUAL, "trigger": "api"})
    return True


def _write(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    previous: str | None,
    owner_id: str | None,
    now: datetime,
    data: dict[str, Any],
) -> None:
    store.set_owner(conn, workspace_id, contact_id, owner_id, now)
    activities.record(
        conn,
        workspace_id,
        contact_id,
        ActivityKind.OWNER_ASSIGNED,
        now,
        subject_id=owner_id,
        data={"from": previous, "to": owner_id, **data},
    )
    activities.enqueue_change(conn, workspace_id, contact_id, ChangeKind.PROFILE, now, name="owner_id")
