"""The condition language compiled to SQL: which of a workspace's contacts meet a condition at `now`.

Same meaning as the in-memory evaluator (`nurture.domain.evaluate`), proved by a property test on both
databases. Every user value is a bound parameter. A condition becomes one WHERE clause over rows of
`contacts`: core fields and attributes are read on the row; everything else through correlated
EXISTS or scalar subqueries keyed by `(workspace_id, contact_id)`, which run on the per-contact indexes
(events: `(workspace_id, contact_id, name, timestamp)`). Where each kind of data lives:

- tracked events: `events` rows with `type = 'track'` (page, screen, identify, group and alias calls
  are not events a condition can name), `timestamp <= now`;
- accounts: `account_members` joined to `accounts`; segments: a `segment_memberships` row with
  `exited_at IS NULL`; lists: `list_members`; tags: `contact_tags`; lifecycle: `contacts.lifecycle_stage`;
  scores: `contact_scores.score` (no row: 0); subscriptions: `subscriptions` by (channel, topic) with
  topic `''` for the channel as a whole (no row: `none`); messages: `message_events`.

NULL inside the clause means false (an absent value or another type); negations count it as false first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Float,
    Select,
    String,
    and_,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.sql.expression import FromClause

from nurture.domain.conditions.nodes import (
    DATE_FIELDS,
    AccountCondition,
    Aggregate,
    AggregateCondition,
    AllOf,
    AnyOf,
    AttributeCondition,
    BetweenDates,
    Condition,
    CountOp,
    EventCondition,
    LastDays,
    LifecycleCondition,
    ListCondition,
    MessageCondition,
    Not,
    Occurrence,
    OccurrenceCondition,
    PropertyFilter,
    ScoreCondition,
    SegmentCondition,
    Since,
    SinceEvent,
    SubscriptionCondition,
    TagCondition,
    TimeWindow,
)
from nurture.domain.evaluate import ENGAGEMENT_KINDS
from nurture.store.audience_json import json_path, param
from nurture.store.audience_values import (
    Context,
    JsonField,
    NumberField,
    TextField,
    TimeField,
    Value,
    negate,
    test,
    time_param,
)
from nurture.store.schema import (
    account_members,
    accounts,
    contact_scores,
    contact_tags,
    contacts,
    events,
    list_members,
    message_events,
    segment_memberships,
    subscriptions,
)

TRACK = "track"


def condition_clause(
    dialect: Dialect, workspace_id: str, condition: Condition, now: datetime
) -> ColumnElement[bool]:
    """A WHERE clause over rows of `contacts` (of workspace `workspace_id`) true for the contacts that
    meet `condition` at `now` (aware). NULL counts as false, as in any WHERE clause."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    compiler = _Compiler(dialect.name, param(workspace_id, String()), now.astimezone(UTC))
    return compiler.clause(condition)


def audience_ids(dialect: Dialect, workspace_id: str, condition: Condition, now: datetime) -> Select[Any]:
    """SELECT the ids of the workspace's contacts that meet `condition` at `now`."""
    return select(contacts.c.id).where(
        contacts.c.workspace_id == param(workspace_id, String()),
        condition_clause(dialect, workspace_id, condition, now),
    )


def count_matching(conn: Connection, workspace_id: str, condition: Condition, now: datetime) -> int:
    """How many of the workspace's contacts meet `condition` at `now`."""
    query = audience_ids(conn.dialect, workspace_id, condition, now).subquery()
    return int(conn.execute(select(func.count()).select_from(query)).scalar_one())


def sample_matching(
    conn: Connection, workspace_id: str, condition: Condition, now: datetime, limit: int
) -> list[str]:
    """Up to `limit` ids of contacts that meet `condition` at `now`, in id order."""
    query = audience_ids(conn.dialect, workspace_id, condition, now).order_by(contacts.c.id).limit(limit)
    return list(conn.execute(query).scalars())


def _select(table: FromClause, *columns: ColumnElement[Any]) -> Select[Any]:
    """SELECT from `table`, correlated with every enclosing query (SQLAlchemy only correlates with the
    immediately enclosing one by itself, and these subqueries nest: a `since_event` bound inside an
    event test reads `contacts` two levels up)."""
    return select(*columns).select_from(table).correlate_except(table)


def _exists(table: FromClause, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(_select(table, literal_column("1")).where(*where))


class _Compiler:
    def __init__(self, dialect: str, workspace_id: ColumnElement[str], now: datetime) -> None:
        self.dialect = dialect
        self.workspace_id = workspace_id
        self.now = now
        self.now_param = time_param(now)
        self.ctx = Context(dialect, now, contacts.c.timezone)

    def clause(self, condition: Condition) -> ColumnElement[bool]:
        if isinstance(condition, AllOf):
            return and_(*(self.clause(c) for c in condition.conditions)) if condition.conditions else true()
        if isinstance(condition, AnyOf):
            return or_(*(self.clause(c) for c in condition.conditions)) if condition.conditions else false()
        if isinstance(condition, Not):
            return negate(self.clause(condition.condition))
        if isinstance(condition, AttributeCondition):
            return test(condition.operator, self._field(condition.field), self.ctx)
        if isinstance(condition, EventCondition):
            return self._event(condition)
        if isinstance(condition, OccurrenceCondition):
            return self._occurrence(condition)
        if isinstance(condition, AggregateCondition):
            return test(condition.operator, NumberField(self._aggregate(condition)), self.ctx)
        if isinstance(condition, MessageCondition):
            return self._message(condition)
        return self._membership(condition)

    # ---- contact fields ----

    def _field(self, field: str) -> Value:
        if field.startswith("attributes."):
            name = field.removeprefix("attributes.")
            return JsonField(json_path(self.dialect, contacts.c.attributes, (name,)))
        if field in DATE_FIELDS:
            return TimeField(contacts.c[field])
        return TextField(contacts.c[field])

    # ---- events ----

    def _owned(self, table: FromClause) -> list[ColumnElement[bool]]:
        return [table.c.workspace_id == self.workspace_id, table.c.contact_id == contacts.c.id]

    def _tracked(self, table: FromClause, name: str) -> list[ColumnElement[bool]]:
        """`name` events of the contact up to now."""
        return [
            *self._owned(table),
            table.c.name == param(name, String()),
            table.c.type == param(TRACK),
            table.c.timestamp <= self.now_param,
        ]

    def _filters(self, table: FromClause, where: list[PropertyFilter]) -> list[ColumnElement[bool]]:
        return [
            test(f.operator, JsonField(json_path(self.dialect, table.c.properties, f.path())), self.ctx)
            for f in where
        ]

    def _window(self, moment: ColumnElement[Any], window: TimeWindow) -> list[ColumnElement[bool]]:
        """Bounds on `moment` (already `<= now`) for a window."""
        if isinstance(window, LastDays):
            return [moment >= time_param(self.now - timedelta(days=window.days))]
        if isinstance(window, BetweenDates):
            return [moment >= time_param(window.start), moment <= time_param(window.end)]
        if isinstance(window, Since):
            return [moment >= time_param(window.at)]
        if isinstance(window, SinceEvent):
            marker = events.alias()
            latest = _select(marker, func.max(marker.c.timestamp)).where(*self._tracked(marker, window.name))
            last = latest.scalar_subquery()
            return [or_(last.is_(None), moment > last)]
        return []

    def _matching(
        self, table: FromClause, name: str, where: list[PropertyFilter], window: TimeWindow | None
    ) -> list[ColumnElement[bool]]:
        bounds = [] if window is None else self._window(table.c.timestamp, window)
        return [*self._tracked(table, name), *self._filters(table, where), *bounds]

    def _event(self, condition: EventCondition) -> ColumnElement[bool]:
        table = events.alias()
        wanted = self._matching(table, condition.name, condition.where, condition.window)
        n = condition.count.value
        any_event = _exists(table, *wanted)
        count = _select(table, func.count()).where(*wanted).scalar_subquery()
        if condition.count.op is CountOp.AT_LEAST:
            met = true() if n == 0 else any_event if n == 1 else count >= n
        elif n == 0:
            met = ~any_event
        elif condition.count.op is CountOp.AT_MOST:
            met = count <= n
        else:
            met = count == n
        return met if condition.performed else ~met

    def _occurrence(self, condition: OccurrenceCondition) -> ColumnElement[bool]:
        table = events.alias()
        pick = func.min if condition.which is Occurrence.FIRST else func.max
        moment = _select(table, pick(table.c.timestamp)).where(
            *self._matching(table, condition.name, condition.where, None)
        )
        return test(condition.operator, TimeField(moment.scalar_subquery()), self.ctx)

    def _aggregate(self, condition: AggregateCondition) -> ColumnElement[Any]:
        table = events.alias()
        wanted = self._matching(table, condition.name, condition.where, condition.window)
        value = json_path(self.dialect, table.c.properties, condition.path())
        function = condition.function
        if function is Aggregate.COUNT_DISTINCT:
            computed: ColumnElement[Any] = func.count(value.distinct_key().distinct())
        elif function is Aggregate.SUM:
            # Python adds floats as doubles: so does SQL (SQLite's total() never overflows)
            if self.dialect == "postgresql":
                computed = func.coalesce(func.sum(value.number(floating=True)), 0)
            else:
                computed = func.total(value.number())
        elif function is Aggregate.AVG:
            computed = func.avg(value.number(floating=True))
        elif function is Aggregate.MIN:
            computed = func.min(value.number())
        else:
            computed = func.max(value.number())
        return _select(table, computed).where(*wanted).scalar_subquery()

    def _message(self, condition: MessageCondition) -> ColumnElement[bool]:
        table = message_events.alias()
        kinds = sorted(ENGAGEMENT_KINDS[condition.action])
        wanted = [
            *self._owned(table),
            table.c.kind.in_([param(k.value) for k in kinds]),
            table.c.occurred_at <= self.now_param,
            *self._window(table.c.occurred_at, condition.window),
        ]
        for column, value in (
            (table.c.message_id, condition.message_id),
            (table.c.template_id, condition.template_id),
            (table.c.journey_id, condition.journey_id),
        ):
            if value is not None:
                wanted.append(column == param(value, String()))
        found = _exists(table, *wanted)
        return found if condition.performed else ~found

    # ---- memberships, stage, score, subscriptions, accounts ----

    def _membership(self, condition: Condition) -> ColumnElement[bool]:
        if isinstance(condition, SegmentCondition):
            table = segment_memberships.alias()
            return _exists(
                table,
                *self._owned(table),
                table.c.segment_id == param(condition.segment_id, String()),
                table.c.exited_at.is_(None),
            )
        if isinstance(condition, ListCondition):
            table = list_members.alias()
            return _exists(table, *self._owned(table), table.c.list_id == param(condition.list_id, String()))
        if isinstance(condition, TagCondition):
            table = contact_tags.alias()
            return _exists(table, *self._owned(table), table.c.tag == param(condition.tag, String()))
        if isinstance(condition, LifecycleCondition):
            return contacts.c.lifecycle_stage.in_([param(s, String()) for s in condition.stages])
        if isinstance(condition, ScoreCondition):
            table = contact_scores.alias()
            score = _select(table, table.c.score).where(
                *self._owned(table), table.c.model_id == param(condition.model, String())
            )
            value = func.coalesce(score.scalar_subquery(), param(0.0, Float()))
            return test(condition.operator, NumberField(value), self.ctx)
        if isinstance(condition, SubscriptionCondition):
            table = subscriptions.alias()
            status = _select(table, table.c.status).where(
                *self._owned(table),
                table.c.channel == param(condition.channel, String()),
                table.c.topic == param(condition.topic or "", String()),
            )
            current = func.coalesce(status.scalar_subquery(), param("none"))
            return current == param(condition.status.value, String())
        assert isinstance(condition, AccountCondition)
        return self._account(condition)

    def _account(self, condition: AccountCondition) -> ColumnElement[bool]:
        member = account_members.alias()
        account = accounts.alias()
        name = condition.field.removeprefix("account.")
        value: Value
        if name.startswith("attributes."):
            key = name.removeprefix("attributes.")
            value = JsonField(json_path(self.dialect, account.c.attributes, (key,)))
        else:
            value = TextField(account.c[name])
        joined = member.join(
            account,
            and_(account.c.workspace_id == member.c.workspace_id, account.c.id == member.c.account_id),
        )
        return _exists(joined, *self._owned(member), test(condition.operator, value, self.ctx))
