"""Batch writes that take one statement per batch on PostgreSQL (`jsonb_to_recordset`) and one per
row on SQLite: both write the same values, skip the same conflicts and refuse the same bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.store.schema import journey_inbox
from nurture.store.sql import insert_ignore_many, insert_ignore_returning, update_many

AT = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)


def _row(n: int, **values: object) -> dict[str, object]:
    return {
        "workspace_id": "w1",
        "id": f"item-{n}",
        "contact_id": f"c{n}",
        "kind": "enroll",
        "name": None,
        "event_id": None,
        "data": {"n": n, "nested": {"list": [1, "two", None], "text": "é \\\" ' \\n"}},
        "created_at": AT,
    } | values


def _stored(container: Container) -> dict[str, dict[str, object]]:
    with container.db.read() as conn:
        rows = conn.execute(select(journey_inbox).where(journey_inbox.c.workspace_id == "w1"))
        return {row.id: dict(row._mapping) for row in rows}


def test_insert_ignore_many_writes_new_rows_and_skips_existing_and_repeated_ones(
    container: Container,
) -> None:
    berlin = timezone(timedelta(hours=2))
    with container.db.write() as conn:
        assert insert_ignore_many(conn, journey_inbox, [_row(1), _row(2, name="Signed Up")]) == 2
    with container.db.write() as conn:
        again = [_row(2, name="other"), _row(3, created_at=AT.astimezone(berlin)), _row(3, kind="change")]
        assert insert_ignore_many(conn, journey_inbox, again) == 1
        assert insert_ignore_many(conn, journey_inbox, []) == 0

    stored = _stored(container)
    assert sorted(stored) == ["item-1", "item-2", "item-3"]
    assert stored["item-2"]["name"] == "Signed Up"  # the first row written stays
    assert stored["item-3"]["kind"] == "enroll"
    assert stored["item-3"]["created_at"] == AT  # the same instant, read back in UTC
    assert stored["item-1"]["data"] == _row(1)["data"]
    assert stored["item-1"]["name"] is None


def test_update_many_sets_the_named_rows_only(container: Container) -> None:
    with container.db.write() as conn:
        insert_ignore_many(conn, journey_inbox, [_row(1), _row(2), _row(3)])
    later = AT + timedelta(days=1)
    with container.db.write() as conn:
        update_many(
            conn,
            journey_inbox,
            ("workspace_id", "id"),
            [
                {
                    "workspace_id": "w1",
                    "id": "item-1",
                    "name": "one",
                    "data": {"x": [1]},
                    "created_at": later,
                },
                {"workspace_id": "w1", "id": "item-3", "name": None, "data": {}, "created_at": AT},
                {"workspace_id": "w1", "id": "missing", "name": "no one", "data": {}, "created_at": AT},
            ],
        )
        update_many(conn, journey_inbox, ("workspace_id", "id"), [])

    stored = _stored(container)
    assert (stored["item-1"]["name"], stored["item-1"]["data"], stored["item-1"]["created_at"]) == (
        "one",
        {"x": [1]},
        later,
    )
    assert stored["item-2"] == _row(2)
    assert stored["item-3"]["data"] == {}
    assert "missing" not in stored


def test_a_naive_time_is_refused_and_nothing_is_written(container: Container) -> None:
    naive = datetime(2026, 3, 29, 0, 30)  # noqa: DTZ001 - the bad input under test
    with pytest.raises(ValueError, match="naive datetime"), container.db.write() as conn:
        insert_ignore_many(conn, journey_inbox, [_row(1), _row(2, created_at=naive)])
    assert _stored(container) == {}
    with container.db.write() as conn:
        insert_ignore_many(conn, journey_inbox, [_row(1)])
    with pytest.raises(ValueError, match="naive datetime"), container.db.write() as conn:
        update_many(
            conn,
            journey_inbox,
            ("workspace_id", "id"),
            [{"workspace_id": "w1", "id": "item-1", "created_at": naive}],
        )
    assert _stored(container)["item-1"]["created_at"] == AT


def test_insert_ignore_returning_says_which_rows_were_written(container: Container) -> None:
    with container.db.write() as conn:
        assert insert_ignore_returning(conn, journey_inbox, [_row(1)], "id") == {"item-1"}
    with container.db.write() as conn:
        written = insert_ignore_returning(
            conn, journey_inbox, [_row(1), _row(2), _row(2, kind="change")], "id"
        )
        assert insert_ignore_returning(conn, journey_inbox, [], "id") == set()
    assert written == {"item-2"}
    assert _stored(container)["item-2"]["kind"] == "enroll"
