"""The five benchmark segments: each as a condition of the condition language (docs/conditions.md) and
as the same audience written by hand in SQL for each dialect (the ceiling the compiler is held to).

The hand SQL keeps the condition's meaning exactly (windows `now - N days <= timestamp <= now`, only
events up to `now` exist, `equals` needs the same JSON type, sums read only JSON numbers), so the
two sides must return the same contacts; the benchmark checks that they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.audience_data import stamp

DAY_US = 86_400_000_000


@dataclass(frozen=True)
class Segment:
    key: str
    title: str
    kind: str  # simple | aggregate (which target applies)
    condition: dict[str, Any]
    postgresql: str  # ids of matching contacts; parameters %(ws)s, %(now)s, %(d30)s, %(d90)s
    sqlite: str  # the same with :ws, :now, :d30, :d90

    def sql(self, dialect: str) -> str:
        return self.postgresql if dialect == "postgresql" else self.sqlite


def _both(template: str, pg_parts: dict[str, str], lite_parts: dict[str, str]) -> tuple[str, str]:
    pg = template.format(**pg_parts)
    lite = template.format(**lite_parts)
    for name in ("ws", "now", "d30", "d90"):
        pg = pg.replace(f"${name}", f"%({name})s")
        lite = lite.replace(f"${name}", f":{name}")
    return pg, lite


_ATTRIBUTE = _both(
    "SELECT c.id FROM contacts c WHERE c.workspace_id = $ws AND {plan_is_pro}",
    {"plan_is_pro": "c.attributes -> 'plan' = '\"pro\"'::jsonb"},
    {
        "plan_is_pro": "json_type(c.attributes, '$.plan') = 'text' "
        "AND json_extract(c.attributes, '$.plan') = 'pro'"
    },
)
_SIGNED_IN_30 = _both(
    "SELECT c.id FROM contacts c WHERE c.workspace_id = $ws AND EXISTS ("
    "SELECT 1 FROM events e WHERE e.workspace_id = c.workspace_id AND e.contact_id = c.id "
    "AND e.name = 'Signed In' AND e.timestamp >= $d30 AND e.timestamp <= $now)",
    {},
    {},
)
_ADDED_3_IN_30 = _both(
    "SELECT c.id FROM contacts c JOIN ("
    "SELECT contact_id FROM events WHERE workspace_id = $ws AND name = 'Product Added' "
    "AND timestamp >= $d30 AND timestamp <= $now GROUP BY contact_id HAVING count(*) >= 3"
    ") e ON e.contact_id = c.id WHERE c.workspace_id = $ws",
    {},
    {},
)
_REVENUE_90 = _both(
    "SELECT c.id FROM contacts c JOIN ("
    "SELECT contact_id FROM events WHERE workspace_id = $ws AND name = 'Order Completed' "
    "AND timestamp >= $d90 AND timestamp <= $now GROUP BY contact_id HAVING sum({revenue}) >= 500"
    ") e ON e.contact_id = c.id WHERE c.workspace_id = $ws",
    {
        "revenue": "CASE WHEN jsonb_typeof(properties -> 'revenue') = 'number' "
        "THEN (properties ->> 'revenue')::float8 END"
    },
    {
        "revenue": "CASE WHEN json_type(properties, '$.revenue') IN ('integer', 'real') "
        "THEN json_extract(properties, '$.revenue') END"
    },
)
_LAPSED_BUYERS = _both(
    "SELECT c.id FROM contacts c JOIN ("
    "SELECT contact_id FROM events WHERE workspace_id = $ws AND name = 'Order Completed' "
    "AND timestamp <= $now GROUP BY contact_id HAVING max(timestamp) < $d90"
    ") e ON e.contact_id = c.id WHERE c.workspace_id = $ws",
    {},
    {},
)

SEGMENTS = (
    Segment(
        "attribute",
        'attributes.plan = "pro"',
        "simple",
        {"type": "attribute", "field": "attributes.plan", "operator": {"op": "equals", "value": "pro"}},
        *_ATTRIBUTE,
    ),
    Segment(
        "event_30d",
        "Signed In within the last 30 days",
        "simple",
        {"type": "event", "name": "Signed In", "window": {"kind": "last_days", "days": 30}},
        *_SIGNED_IN_30,
    ),
    Segment(
        "count_3_30d",
        "Product Added at least 3 times in 30 days",
        "aggregate",
        {
            "type": "event",
            "name": "Product Added",
            "count": {"op": "at_least", "value": 3},
            "window": {"kind": "last_days", "days": 30},
        },
        *_ADDED_3_IN_30,
    ),
    Segment(
        "revenue_90d",
        "sum of revenue of Order Completed in 90 days >= 500",
        "aggregate",
        {
            "type": "event_aggregate",
            "name": "Order Completed",
            "property": "properties.revenue",
            "function": "sum",
            "window": {"kind": "last_days", "days": 90},
            "operator": {"op": "greater_or_equal", "value": 500},
        },
        *_REVENUE_90,
    ),
    Segment(
        "lapsed_buyers",
        "Order Completed before, but not in the last 90 days",
        "aggregate",
        {
            "type": "all",
            "conditions": [
                {"type": "event", "name": "Order Completed"},
                {
                    "type": "event",
                    "name": "Order Completed",
                    "performed": False,
                    "window": {"kind": "last_days", "days": 90},
                },
            ],
        },
        *_LAPSED_BUYERS,
    ),
)


def parameters(dialect: str, workspace_id: str, now: datetime) -> dict[str, Any]:
    """The hand SQL's parameters: datetimes for PostgreSQL, the stored UTC text for SQLite."""
    values: dict[str, Any] = {
        "ws": workspace_id,
        "now": now,
        "d30": now - timedelta(days=30),
        "d90": now - timedelta(days=90),
    }
    if dialect == "sqlite":
        epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
        for key in ("now", "d30", "d90"):
            values[key] = stamp((values[key] - epoch) // timedelta(microseconds=1))
    return values
