"""The personalisation context a template renders with: plain data only (dicts, lists, text, numbers,
booleans, None, dates), never ORM rows or callables, so a template can read data and do nothing else.

    contact    id, email, phone, first_name, last_name, name, timezone, locale, lifecycle_stage,
               created_at, last_seen_at, attributes{…}
    account    id, group_id, name, domain, attributes{…}          (the contact's first account, if any)
    event      id, name, type, timestamp, properties{…}           (what triggered the message, if any)
    run        whatever the journey run carries (later: journey, node, data)
    data       what an API send (`POST /api/v1/messages`) passed, e.g. a receipt's items
    workspace  id, name, postal_address (from the messaging settings)
    message    id, channel and the links of services/links.py: unsubscribe_url, preferences_url
               (and confirm_url, topic_label in a double opt-in confirmation)
    now        the moment of rendering (the service's clock)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from nurture.domain.contacts import Account, Contact, Event
from nurture.domain.errors import Invalid, join_path

MAX_DEPTH = 12
MAX_ITEMS = 10_000

_SCALARS = (str, int, float, bool, Decimal, datetime, date)


def plain(value: Any, path: str = "", depth: int = 0, budget: list[int] | None = None) -> Any:
    """A deep copy of `value` made of plain data; anything else is `Invalid` at its path."""
    budget = budget if budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise Invalid.one(path, f"the render context holds more than {MAX_ITEMS} values")
    if value is None or isinstance(value, _SCALARS):
        return value
    if depth >= MAX_DEPTH:
        raise Invalid.one(path, f"nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Invalid.one(path, "keys must be text")
            out[key] = plain(item, join_path(path, key), depth + 1, budget)
        return out
    if isinstance(value, list | tuple):
        return [plain(item, f"{path}[{i}]", depth + 1, budget) for i, item in enumerate(value)]
    raise Invalid.one(path, f"{type(value).__name__} is not plain data")


def contact_data(contact: Contact, lifecycle_stage: str | None = None) -> dict[str, Any]:
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    return {
        "id": contact.id,
        **contact.core(),
        "name": name or None,
        "lifecycle_stage": lifecycle_stage,
        "created_at": contact.created_at,
        "last_seen_at": contact.last_seen_at,
        "attributes": contact.attributes,
    }


def account_data(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "group_id": account.group_id,
        "name": account.name,
        "domain": account.domain,
        "attributes": account.attributes,
    }


def event_data(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "type": event.type,
        "timestamp": event.timestamp,
        "properties": event.properties,
    }


def message_context(
    *,
    now: datetime,
    contact: Mapping[str, Any] | None = None,
    account: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
    run: Mapping[str, Any] | None = None,
    workspace: Mapping[str, Any] | None = None,
    message: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole render context, checked to be plain data (keys absent when unknown)."""
    parts = {
        "contact": contact,
        "account": account,
        "event": event,
        "run": run,
        "data": data,
        "workspace": workspace,
        "message": message,
    }
    context: dict[str, Any] = plain({k: v for k, v in parts.items() if v is not None})
    context["now"] = now
    return context
