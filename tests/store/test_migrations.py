"""Migrations carry what is stored across a schema change (on a SQLite file of its own)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Integer, String, column, create_engine, insert, select, table

from nurture.store.migrate import alembic_config
from nurture.store.types import UTCDateTime


def test_a_schedules_next_time_survives_the_move_to_per_zone_schedules(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0004")
    created = datetime(2026, 3, 1, tzinfo=UTC)
    fires = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    workspaces = table(
        "workspaces", column("id", String), column("name", String), column("created_at", UTCDateTime())
    )
    journeys = table(
        "journeys",
        *(column(name, String) for name in ("workspace_id", "id", "name", "status")),
        column("version", Integer),
        *(column(name, UTCDateTime()) for name in ("next_fire_at", "created_at", "updated_at")),
    )
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(workspaces).values(id="w1", name="Old", created_at=created))
        for journey_id, next_fire in (("digest", fires), ("welcome", None)):
            row = {
                "workspace_id": "w1",
                "id": journey_id,
                "name": journey_id,
                "status": "active",
                "version": 1,
            }
            conn.execute(
                insert(journeys).values(**row, next_fire_at=next_fire, created_at=created, updated_at=created)
            )
    command.upgrade(config, "0005")
    schedules = table(
        "journey_schedules",
        *(column(name, String) for name in ("workspace_id", "journey_id", "zone")),
        column("next_fire_at", UTCDateTime()),
    )
    with engine.connect() as conn:
        assert conn.execute(select(schedules)).all() == [("w1", "digest", "", fires)]
    command.downgrade(config, "0004")
    with engine.connect() as conn:
        back = conn.execute(select(journeys.c.id, journeys.c.next_fire_at).order_by(journeys.c.id)).all()
    assert back == [("digest", fires), ("welcome", None)]
    engine.dispose()
