"""The SQL audience and the in-memory evaluator agree: random contacts (with events, accounts,
memberships, tags, scores, subscriptions and message events) and random conditions, on the suite's
database (SQLite, or PostgreSQL when NURTURE_TEST_DATABASE_URL says so)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nurture.bootstrap import Container
from nurture.domain.contact_view import ContactView
from nurture.domain.contacts import Account
from nurture.domain.evaluate import evaluate
from nurture.services.workspaces import NewWorkspace
from nurture.store.audience_sql import audience_ids, count_matching, sample_matching
from tests.domain.builders import NOW, cond, contact
from tests.domain.strategies import (
    BAD_DATES,
    NAMES,
    RICH_DATES,
    RICH_ZONES,
    account_pools,
    date_operators,
    leaf_kinds,
    rich_conditions,
    rich_operators,
    rich_values,
    rich_views,
    text_operators,
)
from tests.store.audience_rows import clear, store_accounts, store_view


@dataclass(frozen=True)
class Scenario:
    accounts: tuple[Account, ...]
    views: tuple[ContactView, ...]
    conditions: tuple[dict[str, Any], ...]
    now: datetime


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    pool = draw(account_pools())
    size = draw(st.integers(1, 6))
    views = tuple(draw(rich_views(f"c{i}", pool)) for i in range(size))
    # a test of every kind and a few trees per example: a query costs far less than storing contacts
    conditions = (
        *(draw(kind) for kind in leaf_kinds),
        *draw(st.lists(rich_conditions, min_size=1, max_size=3)),
    )
    # around NOW, so local dates differ from UTC's in some zones and some events lie in the future
    now = NOW + timedelta(hours=draw(st.integers(-30, 30)), microseconds=draw(st.sampled_from([0, 1])))
    return Scenario(pool, views, conditions, now)


def _rotated(views: tuple[ContactView, ...]) -> list[ContactView]:
    """The same contact ids with another contact's data: what another workspace holds."""
    return [
        replace(
            views[(i + 1) % len(views)], contact=replace(views[(i + 1) % len(views)].contact, id=v.contact.id)
        )
        for i, v in enumerate(views)
    ]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(scenario=scenarios())
def test_sql_audiences_agree_with_the_in_memory_evaluator(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace, scenario: Scenario
) -> None:
    with container.db.write() as conn:
        for ws in (workspace.id, other_workspace.id):
            clear(conn, ws)
            store_accounts(conn, ws, scenario.accounts)
        for view in scenario.views:
            store_view(conn, workspace.id, view)
        for view in _rotated(scenario.views):
            store_view(conn, other_workspace.id, view)
    with container.db.read() as conn:
        for data in scenario.conditions:
            condition = cond(data)
            expected = {v.contact.id for v in scenario.views if evaluate(condition, v, scenario.now)}
            found = set(
                conn.execute(audience_ids(conn.dialect, workspace.id, condition, scenario.now)).scalars()
            )
            assert found == expected, data
            event("splits the contacts" if 0 < len(expected) < len(scenario.views) else "all or none")
        condition = cond(scenario.conditions[-1])
        expected = {v.contact.id for v in scenario.views if evaluate(condition, v, scenario.now)}
        assert count_matching(conn, workspace.id, condition, scenario.now) == len(expected)
        assert sample_matching(conn, workspace.id, condition, scenario.now, 2) == sorted(expected)[:2]


@st.composite
def value_scenarios(draw: st.DrawFn) -> tuple[tuple[ContactView, ...], tuple[dict[str, Any], ...], datetime]:
    """Many contacts that differ only in one attribute, one text field and one date, and many operator
    tests on them: every value rule meets many values in every example."""
    size = draw(st.integers(4, 10))
    views = tuple(
        person_view(
            f"c{i}",
            draw(rich_values),
            draw(st.sampled_from([None, *NAMES])),
            draw(st.sampled_from(RICH_ZONES)),
            draw(st.sampled_from([*RICH_DATES, *BAD_DATES])),
        )
        for i in range(size)
    )
    tests = (
        *(
            {"type": "attribute", "field": "attributes.x", "operator": draw(rich_operators)}
            for _ in range(12)
        ),
        *({"type": "attribute", "field": "attributes.d", "operator": draw(date_operators)} for _ in range(4)),
        *({"type": "attribute", "field": "first_name", "operator": draw(text_operators)} for _ in range(4)),
    )
    return views, tests, NOW + timedelta(hours=draw(st.integers(-30, 30)))


def person_view(contact_id: str, x: Any, name: str | None, zone: str, day: str) -> ContactView:
    attributes = {"d": day} if x is None else {"x": x, "d": day}
    return ContactView(contact=contact(id=contact_id, first_name=name, timezone=zone, attributes=attributes))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=value_scenarios())
def test_sql_value_rules_agree_with_the_in_memory_evaluator(
    container: Container,
    workspace: NewWorkspace,
    scenario: tuple[tuple[ContactView, ...], tuple[dict[str, Any], ...], datetime],
) -> None:
    views, tests, now = scenario
    with container.db.write() as conn:
        clear(conn, workspace.id)
        for view in views:
            store_view(conn, workspace.id, view)
    with container.db.read() as conn:
        for data in tests:
            condition = cond(data)
            expected = {v.contact.id for v in views if evaluate(condition, v, now)}
            assert (
                set(conn.execute(audience_ids(conn.dialect, workspace.id, condition, now)).scalars())
                == expected
            ), data
