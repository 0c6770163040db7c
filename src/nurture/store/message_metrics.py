"""SQL for messaging metrics: distinct messages per kind of event, for a template, a journey (node)
or a campaign. Test sends are left out; an open counts only when it was not flagged a machine's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from nurture.domain.messages.outbox import Source
from nurture.store.schema import message_events, messages

e = message_events
m = messages
FILTERS = ("template_id", "journey_id", "node_id", "campaign_id")


def _machine(dialect: str) -> ColumnElement[bool]:
    """The event's `data.machine` is JSON true (Apple Mail Privacy Protection, link scanners)."""
    if dialect == "postgresql":
        return e.c.data["machine"] == literal("true").cast(JSONB)
    return func.json_type(e.c.data, "$.machine") == "true"


def counts(conn: Connection, workspace_id: str, filters: dict[str, str], *, by_template: bool = False) -> Any:
    """Rows of ([template_id,] kind, distinct messages) for the messages matching `filters`."""
    key = [m.c.template_id] if by_template else []
    query = (
        select(*key, e.c.kind, func.count(func.distinct(e.c.message_id)))
        .select_from(e.join(m, and_(m.c.workspace_id == e.c.workspace_id, m.c.id == e.c.message_id)))
        .where(
            e.c.workspace_id == workspace_id,
            m.c.source != Source.TEST.value,
            or_(e.c.kind != "opened", func.coalesce(_machine(conn.dialect.name), false()) == false()),
            *(m.c[name] == value for name, value in filters.items()),
        )
        .group_by(*key, e.c.kind)
    )
    return conn.execute(query).all()
