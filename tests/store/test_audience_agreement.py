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
from tests.domain.builders import NOW, cond
from tests.domain.strategies import account_pools, rich_conditions, rich_leaves, rich_views
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
    # many single tests and a few trees per example: a query costs far less than storing the contacts
    conditions = (
        *draw(st.lists(rich_leaves, min_size=6, max_size=12)),
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
