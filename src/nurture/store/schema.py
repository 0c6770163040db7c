"""Declared tables. Alembic migrations must produce exactly this (tests/store/test_schema.py checks).

Every table that holds customer data starts its key with `workspace_id`, so it can be distributed by
workspace and contact (Citus) and every query can filter by workspace.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from nurture.store.types import JSONDoc, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 26  # ULID text length

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("workspace_id", String(ID), nullable=False),
    Column("kind", String(16), nullable=False),  # write | secret
    Column("key_hash", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),  # first characters, to tell keys apart in listings
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("key_hash"),
    Index(None, "workspace_id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("email", String(320), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("locale", String(35), nullable=True),
    Column("attributes", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "email"),
)

# How a contact is found: user id, anonymous ids, email. One contact per identity value.
contact_identities = Table(
    "contact_identities",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("kind", String(16), nullable=False),  # user_id | anonymous_id | email
    Column("value", String(320), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "kind", "value"),
    Index(None, "workspace_id", "contact_id"),
)

# Merges are kept so an old contact id still leads to the profile it became.
contact_merges = Table(
    "contact_merges",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("merged_id", String(ID), nullable=False),
    Column("into_id", String(ID), nullable=False),
    Column("merged_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "merged_id"),
    Index(None, "workspace_id", "into_id"),
)

events = Table(
    "events",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    # track: event name; page/screen: page name; group: group id; alias: previous id
    Column("name", String(255), nullable=True),
    Column("user_id", String(255), nullable=True),
    Column("anonymous_id", String(255), nullable=True),
    Column("properties", JSONDoc, nullable=False),  # track/page/screen properties, identify/group traits
    Column("context", JSONDoc, nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("original_timestamp", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "message_id"),
    Index(None, "workspace_id", "contact_id", "timestamp"),
    Index(None, "workspace_id", "contact_id", "name", "timestamp"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("group_id", String(255), nullable=False),
    Column("name", String(200), nullable=True),
    Column("domain", String(255), nullable=True),
    Column("attributes", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "group_id"),
    Index(None, "workspace_id", "domain"),
)

account_members = Table(
    "account_members",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("account_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "account_id", "contact_id"),
    Index(None, "workspace_id", "contact_id"),
)

# Addresses that must never be messaged again; `value_hash` is SHA-256 of the normalised address, so
# an erased contact leaves no readable personal data behind.
suppressions = Table(
    "suppressions",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("channel", String(16), nullable=False),  # email | sms
    Column("value_hash", String(64), nullable=False),
    Column("reason", String(32), nullable=False),  # erased | hard_bounce | complaint | unsubscribed
    Column("detail", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "channel", "value_hash"),
)
