"""per-zone journey schedules; pruning the webhook delivery log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:44:26.080574
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import nurture.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journey_schedules",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("journey_id", sa.String(length=26), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("next_fire_at", nurture.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_id"],
            ["journeys.workspace_id", "journeys.id"],
            name=op.f("fk_journey_schedules_workspace_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "journey_id", "zone", name=op.f("pk_journey_schedules")),
    )
    with op.batch_alter_table("journey_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journey_schedules_next_fire_at"), ["next_fire_at"], unique=False)

    # a schedule in one zone keeps its next time, under zone ""
    op.execute(
        "INSERT INTO journey_schedules (workspace_id, journey_id, zone, next_fire_at) "
        "SELECT workspace_id, id, '', next_fire_at FROM journeys WHERE next_fire_at IS NOT NULL"
    )
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journeys_next_fire_at"))
        batch_op.drop_column("next_fire_at")

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_updated_at"))

    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_fire_at", nurture.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_journeys_next_fire_at"), ["next_fire_at"], unique=False)
    op.execute(
        "UPDATE journeys SET next_fire_at = (SELECT min(s.next_fire_at) FROM journey_schedules s "
        "WHERE s.workspace_id = journeys.workspace_id AND s.journey_id = journeys.id)"
    )

    with op.batch_alter_table("journey_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_schedules_next_fire_at"))

    op.drop_table("journey_schedules")
