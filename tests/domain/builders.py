"""Shared builders for contacts and contact views in pure condition tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from nurture.domain.conditions import Condition, parse_condition
from nurture.domain.contact_view import ContactView, MessageEvent, TrackedEvent
from nurture.domain.contacts import Account, Contact

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def at(days_ago: float = 0, hours_ago: float = 0) -> datetime:
    """An instant relative to NOW, so scenarios read as "2 days ago"."""
    return NOW - timedelta(days=days_ago, hours=hours_ago)


def contact(**fields: Any) -> Contact:
    """A contact with no data unless given; `attributes` and core fields by keyword."""
    base = Contact(
        id="c1",
        email=None,
        phone=None,
        first_name=None,
        last_name=None,
        timezone=None,
        locale=None,
        attributes={},
        created_at=at(days_ago=400),
        updated_at=at(days_ago=1),
        last_seen_at=None,
    )
    return replace(base, **fields)


def account(name: str | None = None, domain: str | None = None, **attributes: Any) -> Account:
    return Account(
        id=f"a-{name}",
        group_id=f"g-{name}",
        name=name,
        domain=domain,
        attributes=attributes,
        created_at=at(days_ago=10),
        updated_at=at(days_ago=10),
    )


def event(name: str, when: datetime, **properties: Any) -> TrackedEvent:
    return TrackedEvent(name=name, properties=properties, timestamp=when)


def view(
    *,
    person: Contact | None = None,
    events: Sequence[TrackedEvent] = (),
    messages: Sequence[MessageEvent] = (),
    accounts: Sequence[Account] = (),
    **rest: Any,
) -> ContactView:
    return ContactView(
        contact=person or contact(),
        events=tuple(events),
        message_events=tuple(messages),
        accounts=tuple(accounts),
        **rest,
    )


def cond(data: Mapping[str, Any]) -> Condition:
    return parse_condition(dict(data))
