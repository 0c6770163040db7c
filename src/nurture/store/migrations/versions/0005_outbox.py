"""outbox: messages listed in creation order

Revision ID: 0005_outbox
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005_outbox"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_workspace_id_created_at_id"),
            ["workspace_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_workspace_id_created_at_id"))
