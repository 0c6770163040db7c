"""The audience benchmark's generator and hand-written SQL: the generator repeats itself for a seed,
and each segment's hand SQL finds exactly the contacts the in-memory evaluator finds, on a tiny
generated workspace in the test database (the benchmark then holds the compiler to that SQL)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from itertools import islice

import orjson
import psycopg
from bench.audience_load import driver_url, load
from sqlalchemy import text

from bench import audience_data as data
from bench import audience_queries as queries
from nurture.bootstrap import Container
from nurture.domain.conditions import parse_condition
from nurture.domain.contact_view import ContactView, TrackedEvent
from nurture.domain.contacts import Contact
from nurture.domain.evaluate import evaluate
from nurture.services.workspaces import NewWorkspace

TINY = data.Scale(contacts=400, events=15_000, seed=11)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = data.Workspace("w" * 26, TINY)
    again = data.Workspace("w" * 26, TINY)
    other = data.Workspace("w" * 26, data.Scale(contacts=400, events=15_000, seed=12))
    assert list(islice(first.events(), 200)) == list(islice(again.events(), 200))
    assert list(islice(first.events(), 200)) != list(islice(other.events(), 200))


def test_generator_makes_exactly_the_asked_events_in_time_order_up_to_now() -> None:
    ws = data.Workspace("w" * 26, TINY)
    stamps = [row[10] for row in ws.events()]
    assert len(stamps) == TINY.events
    assert stamps == sorted(stamps)
    assert stamps[-1] <= data.stamp(data.NOW_US)
    contacts = list(ws.contacts())
    assert len(contacts) == TINY.contacts
    assert len({row[1] for row in contacts}) == TINY.contacts


def _views(scale: data.Scale) -> list[ContactView]:
    ws = data.Workspace("w" * 26, scale)
    events: dict[int, list[TrackedEvent]] = defaultdict(list)
    for c, name, properties, at in ws.raw_events():
        events[c].append(TrackedEvent(name, properties, _time(data.stamp(at))))  # type: ignore[arg-type]
    views = []
    for i, row in enumerate(ws.contacts()):
        contact = Contact(
            id=row[1],
            email=row[2],
            phone=row[3],
            first_name=row[4],
            last_name=row[5],
            timezone=row[6],
            locale=row[7],
            attributes=orjson.loads(row[8]),
            created_at=_time(row[9]),  # type: ignore[arg-type]
            updated_at=_time(row[10]),  # type: ignore[arg-type]
            last_seen_at=_time(row[11]),
        )
        views.append(ContactView(contact=contact, events=events[i]))
    return views


def test_hand_sql_of_each_segment_matches_the_in_memory_evaluator(
    container: Container, workspace: NewWorkspace, database_url: str, is_postgres: bool
) -> None:
    container.db.dispose()
    load(database_url, data.Workspace(workspace.id, TINY))
    views = _views(TINY)
    dialect = "postgresql" if is_postgres else "sqlite"
    params = queries.parameters(dialect, workspace.id, data.NOW)
    for segment in queries.SEGMENTS:
        condition = parse_condition(segment.condition)
        expected = {v.contact.id for v in views if evaluate(condition, v, data.NOW)}
        if is_postgres:
            with psycopg.connect(driver_url(database_url)) as conn:
                found = {row[0] for row in conn.execute(segment.postgresql, params)}
        else:
            with container.db.read() as conn:
                found = {row[0] for row in conn.execute(text(segment.sqlite), params)}
        assert found == expected, segment.key
        assert 0 < len(expected) < len(views), f"{segment.key}: {len(expected)} of {len(views)}"
