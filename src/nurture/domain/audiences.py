"""Static lists and tags: names, descriptions, and how API callers name the contacts they mean."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nurture.domain.errors import FieldError, Invalid, join_path

MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_TAG = 200
MAX_REFS = 1000  # contacts named in one bulk call
REF_KINDS = ("id", "email", "user_id")


@dataclass(frozen=True)
class StaticList:
    """A list people put contacts on by hand, by import or (later) from a journey."""

    id: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    members: int = 0


@dataclass(frozen=True)
class ContactRef:
    """One contact named in a bulk call by exactly one of: its id, its email, its user id."""

    index: int
    kind: str  # id | email | user_id
    value: str


@dataclass
class MembershipReport:
    """What a bulk add or remove did: how many changed, how many were already so, who was not found."""

    changed: int = 0
    unchanged: int = 0
    not_found: list[ContactRef] | None = None


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def check_name(value: Any, field: str = "name") -> str:
    """A list name: 1 to 200 printable characters, surrounding spaces removed."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid.one(field, "must be a non-empty string")
    name = value.strip()
    if len(name) > MAX_NAME:
        raise Invalid.one(field, f"too long: at most {MAX_NAME} characters")
    if _has_control(name):
        raise Invalid.one(field, "must not contain control characters")
    return name


def check_description(value: Any, field: str = "description") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid.one(field, "must be a string")
    if len(value) > MAX_DESCRIPTION:
        raise Invalid.one(field, f"too long: at most {MAX_DESCRIPTION} characters")
    return value.strip() or None


def check_tag(value: Any, field: str = "tag") -> str:
    """A tag as conditions match it (exact, case-sensitive): 1 to 200 printable characters, no
    surrounding spaces."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid.one(field, "must be a non-empty string")
    tag = value.strip()
    if len(tag) > MAX_TAG:
        raise Invalid.one(field, f"too long: at most {MAX_TAG} characters")
    if _has_control(tag):
        raise Invalid.one(field, "must not contain control characters")
    return tag


def parse_refs(items: Sequence[Any], field: str = "contacts") -> list[ContactRef]:
    """`[{"id": …} | {"email": …} | {"user_id": …}]` → refs; each item names one contact one way.
    Emails are matched as the profile stores them (trimmed, lower-cased)."""
    if len(items) > MAX_REFS:
        raise Invalid.one(field, f"too many: at most {MAX_REFS} contacts per call")
    refs: list[ContactRef] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        where = join_path(field, f"[{index}]")
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in REF_KINDS:
            errors.append(FieldError(where, 'must be one of {"id": …}, {"email": …}, {"user_id": …}'))
            continue
        ((kind, value),) = item.items()
        if not isinstance(value, str) or not value.strip() or len(value) > 320:
            errors.append(FieldError(join_path(where, kind), "must be a non-empty string (at most 320)"))
            continue
        text = value.strip()
        refs.append(ContactRef(index, kind, text.lower() if kind == "email" else text))
    if errors:
        raise Invalid(errors)
    return refs
