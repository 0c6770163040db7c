"""Request and response bodies of the admin API (pydantic), converted from domain objects here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nurture.domain.activities import Activity
from nurture.domain.contacts import Account, Contact, Event
from nurture.domain.messages.consent import ConsentRecord
from nurture.domain.subscriptions import Subscription


class ContactBody(BaseModel):
    """A contact to create, replace or patch. Core fields are typed; anything else goes in `attributes`."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, max_length=255)
    email: str | None = None
    phone: str | None = Field(default=None, description="E.164, e.g. +14155550123")
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = Field(default=None, description="IANA zone, e.g. Europe/Berlin")
    locale: str | None = Field(default=None, description="BCP 47 tag, e.g. pt-BR")
    attributes: dict[str, Any] | None = None
    lifecycle_stage: str | None = Field(
        default=None,
        max_length=64,
        description="subscriber, lead, mql, sql, opportunity, customer; null clears",
    )
    owner_id: str | None = Field(default=None, max_length=64, description="an active owner's id; null clears")


class ContactOut(BaseModel):
    id: str
    user_id: str | None
    anonymous_ids: list[str]
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    locale: str | None
    attributes: dict[str, Any]
    lifecycle_stage: str | None
    owner_id: str | None
    tags: list[str]
    suppressed: bool
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None

    @classmethod
    def of(cls, c: Contact) -> ContactOut:
        return cls(
            id=c.id,
            user_id=c.user_id,
            anonymous_ids=c.anonymous_ids,
            email=c.email,
            phone=c.phone,
            first_name=c.first_name,
            last_name=c.last_name,
            timezone=c.timezone,
            locale=c.locale,
            attributes=c.attributes,
            lifecycle_stage=c.lifecycle_stage,
            owner_id=c.owner_id,
            tags=c.tags,
            suppressed=c.suppressed,
            created_at=c.created_at,
            updated_at=c.updated_at,
            last_seen_at=c.last_seen_at,
        )


class ContactPage(BaseModel):
    data: list[ContactOut]
    next_cursor: str | None


class EventOut(BaseModel):
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

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(**e.__dict__)


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: str | None


class AccountBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: str | None = Field(default=None, min_length=1, max_length=255)
    name: str | None = None
    domain: str | None = None
    attributes: dict[str, Any] | None = None

    def traits(self) -> dict[str, Any]:
        """Attributes plus the typed fields the client sent (an explicit null unsets)."""
        given = self.model_dump(exclude={"group_id", "attributes"}, exclude_unset=True)
        return {**(self.attributes or {}), **given}


class AccountOut(BaseModel):
    id: str
    group_id: str
    name: str | None
    domain: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(**a.__dict__)


class AccountPage(BaseModel):
    data: list[AccountOut]
    next_cursor: str | None


class ConsentOut(BaseModel):
    id: str
    channel: str
    topic: str | None
    status: str
    source: str
    ip: str | None
    user_agent: str | None
    text: str | None
    text_sha256: str | None
    message_id: str | None
    occurred_at: datetime

    @classmethod
    def of(cls, r: ConsentRecord) -> ConsentOut:
        return cls(
            id=r.id,
            channel=r.channel,
            topic=r.topic,
            status=r.status.value,
            source=r.source,
            ip=r.ip,
            user_agent=r.user_agent,
            text=r.text,
            text_sha256=r.text_hash,
            message_id=r.message_id,
            occurred_at=r.occurred_at,
        )


class ContactExportOut(BaseModel):
    contact: ContactOut
    identities: list[dict[str, str]]
    events: list[EventOut]
    accounts: list[AccountOut]
    merged: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    subscriptions: list[SubscriptionOut]
    consents: list[ConsentOut]
    activities: list[ActivityOut]


class SubscriptionOut(BaseModel):
    channel: str
    topic: str | None = Field(description="null: the channel as a whole")
    status: str
    source: str | None
    updated_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls(
            channel=s.channel, topic=s.topic, status=s.status.value, source=s.source, updated_at=s.updated_at
        )


class ActivityOut(BaseModel):
    id: str
    contact_id: str
    kind: str
    subject_id: str | None
    data: dict[str, Any]
    occurred_at: datetime

    @classmethod
    def of(cls, a: Activity) -> ActivityOut:
        return cls(
            id=a.id,
            contact_id=a.contact_id,
            kind=a.kind.value,
            subject_id=a.subject_id,
            data=a.data,
            occurred_at=a.occurred_at,
        )


class ActivityPage(BaseModel):
    data: list[ActivityOut]
    next_cursor: str | None = Field(description="pass as `after` to read on; set even when data is empty")
