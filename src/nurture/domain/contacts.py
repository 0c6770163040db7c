"""The contact as the rest of the system sees it: typed core fields, JSON attributes, identities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class IdentityKind(StrEnum):
    USER_ID = "user_id"
    ANONYMOUS_ID = "anonymous_id"
    EMAIL = "email"


@dataclass
class Contact:
    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    locale: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None
    # Written only by their own statements (lifecycle, routing), never by the ingest row: see store.contacts
    lifecycle_stage: str | None = None
    owner_id: str | None = None
    user_id: str | None = None
    anonymous_ids: list[str] = field(default_factory=list)
    suppressed: bool = False
    tags: list[str] = field(default_factory=list)

    def core(self) -> dict[str, str | None]:
        return {
            "email": self.email,
            "phone": self.phone,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "timezone": self.timezone,
            "locale": self.locale,
        }


@dataclass
class Account:
    """A company (Segment `group`), for B2B: contacts belong to accounts."""

    id: str
    group_id: str
    name: str | None
    domain: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass
class Event:
    id: str
    contact_id: str
    message_id: str
    type: str
    name: str | None
    user_id: str | None
    anonymous_id: str | None
    properties: dict[str, Any]
    context: dict[str, Any]
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    received_at: datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None
