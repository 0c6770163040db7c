"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 12:11:37.345386
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import nurture.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_members",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("account_id", sa.String(length=26), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "account_id", "contact_id", name=op.f("pk_account_members")),
    )
    with op.batch_alter_table("account_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_members_workspace_id_contact_id"),
            ["workspace_id", "contact_id"],
            unique=False,
        )

    op.create_table(
        "contact_identities",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "kind", "value", name=op.f("pk_contact_identities")),
    )
    with op.batch_alter_table("contact_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_identities_workspace_id_contact_id"),
            ["workspace_id", "contact_id"],
            unique=False,
        )

    op.create_table(
        "contact_merges",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("merged_id", sa.String(length=26), nullable=False),
        sa.Column("into_id", sa.String(length=26), nullable=False),
        sa.Column("merged_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "merged_id", name=op.f("pk_contact_merges")),
    )
    with op.batch_alter_table("contact_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_merges_workspace_id_into_id"), ["workspace_id", "into_id"], unique=False
        )

    op.create_table(
        "events",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("anonymous_id", sa.String(length=255), nullable=True),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("timestamp", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("original_timestamp", nurture.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", nurture.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_events")),
        sa.UniqueConstraint("workspace_id", "message_id", name=op.f("uq_events_workspace_id_message_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_workspace_id_contact_id_name_timestamp"),
            ["workspace_id", "contact_id", "name", "timestamp"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_events_workspace_id_contact_id_timestamp"),
            ["workspace_id", "contact_id", "timestamp"],
            unique=False,
        )

    op.create_table(
        "suppressions",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "channel", "value_hash", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "accounts",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_accounts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("workspace_id", "group_id", name=op.f("uq_accounts_workspace_id_group_id")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_workspace_id_domain"), ["workspace_id", "domain"], unique=False
        )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", nurture.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", nurture.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_contacts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_workspace_id_email"), ["workspace_id", "email"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_workspace_id_email"))

    op.drop_table("contacts")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_workspace_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_workspace_id_domain"))

    op.drop_table("accounts")
    op.drop_table("workspaces")
    op.drop_table("suppressions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_workspace_id_contact_id_timestamp"))
        batch_op.drop_index(batch_op.f("ix_events_workspace_id_contact_id_name_timestamp"))

    op.drop_table("events")
    with op.batch_alter_table("contact_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_merges_workspace_id_into_id"))

    op.drop_table("contact_merges")
    with op.batch_alter_table("contact_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_identities_workspace_id_contact_id"))

    op.drop_table("contact_identities")
    with op.batch_alter_table("account_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_members_workspace_id_contact_id"))

    op.drop_table("account_members")
