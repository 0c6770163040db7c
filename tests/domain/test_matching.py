"""The value rules, one operator at a time: absent vs null vs wrong type, case, numbers, dates.

This table is the contract the SQL compiler must reproduce; reuse it there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter

from nurture.domain.conditions.matching import MISSING, passes
from nurture.domain.conditions.values import Operator
from tests.domain.builders import NOW

OPERATOR: TypeAdapter[Operator] = TypeAdapter(Operator)


def check(op: dict[str, Any], value: Any) -> bool:
    return passes(OPERATOR.validate_python(op), value, NOW, UTC)


EQ_A = {"op": "equals", "value": "a"}
NE_A = {"op": "not_equals", "value": "a"}
EQ_5 = {"op": "equals", "value": 5}
GT_3 = {"op": "greater_than", "value": 3}
AFTER_MARCH = {"op": "greater_or_equal", "value": "2026-03-01"}

RULES: list[tuple[dict[str, Any], Any, bool]] = [
    (EQ_A, "a", True),
    (EQ_A, "A", False),
    (EQ_A, MISSING, False),
    (EQ_A, None, False),
    (EQ_A, ["a"], False),
    (NE_A, "a", False),
    (NE_A, "b", True),
    (NE_A, MISSING, True),
    (NE_A, None, True),
    (NE_A, 5, True),
    (EQ_5, 5, True),
    (EQ_5, 5.0, True),
    (EQ_5, "5", False),
    ({"op": "equals", "value": 1}, True, False),
    ({"op": "equals", "value": True}, True, True),
    ({"op": "equals", "value": True}, 1, False),
    ({"op": "in", "values": ["a", 5]}, 5.0, True),
    ({"op": "in", "values": ["a", 5]}, "5", False),
    ({"op": "not_in", "values": ["a", 5]}, MISSING, True),
    ({"op": "not_in", "values": ["a", 5]}, "a", False),
    ({"op": "contains", "value": "ol"}, "golf", True),
    ({"op": "contains", "value": "OL"}, "golf", False),
    ({"op": "contains", "value": "golf"}, ["tennis", "golf"], True),
    ({"op": "contains", "value": 2}, [1, 2.0], True),
    ({"op": "contains", "value": 2}, "123", False),
    ({"op": "contains", "value": "a"}, {"a": 1}, False),
    ({"op": "starts_with", "value": "+49"}, "+4930", True),
    ({"op": "starts_with", "value": "1"}, 123, False),
    ({"op": "exists"}, "", True),
    ({"op": "exists"}, False, True),
    ({"op": "exists"}, None, False),
    ({"op": "exists"}, MISSING, False),
    ({"op": "not_exists"}, None, True),
    (GT_3, 4, True),
    (GT_3, 3, False),
    (GT_3, 3.5, True),
    (GT_3, "4", False),
    (GT_3, True, False),
    (GT_3, MISSING, False),
    ({"op": "less_or_equal", "value": 3}, 3.0, True),
    ({"op": "between", "low": 1, "high": 3}, 1, True),
    ({"op": "between", "low": 1, "high": 3}, 3, True),
    ({"op": "between", "low": 1, "high": 3}, 3.01, False),
    (AFTER_MARCH, "2026-03-01", True),
    (AFTER_MARCH, "2026-02-28T23:59:59Z", False),
    (AFTER_MARCH, "2026-03-01T00:30:00+01:00", False),
    (AFTER_MARCH, "2026-03-01T00:30:00", True),
    (AFTER_MARCH, datetime(2026, 3, 1, tzinfo=UTC), True),
    (AFTER_MARCH, "March 2", False),
    (AFTER_MARCH, "2026-03-10T11:00+23:59", True),
    (AFTER_MARCH, "2026-03-10T11:00+00:99", False),  # offset minutes above 59
    (AFTER_MARCH, "2026-03-10T11:00:60", False),
    (AFTER_MARCH, "2026-02-30", False),
    (AFTER_MARCH, "２０２６-03-10", False),  # noqa: RUF001 - full-width digits
    (AFTER_MARCH, "2026-03-10\n", False),
    ({"op": "less_than", "value": "2026-03-01"}, "0001-01-01T00:30+01:00", False),  # before year 1 UTC
    ({"op": "less_than", "value": "2026-03-01"}, "0001-01-01T01:00+01:00", True),
    (AFTER_MARCH, 20260302, False),
    ({"op": "greater_than", "value": 20260301}, "2026-03-02", False),
    ({"op": "within_last_days", "days": 3}, "2026-03-12T12:00:00Z", True),
    ({"op": "within_last_days", "days": 3}, "2026-03-12T11:59:59Z", False),
    ({"op": "within_last_days", "days": 3}, "2026-03-15T12:00:01Z", False),
    ({"op": "within_next_days", "days": 3}, "2026-03-18T12:00:00Z", True),
    ({"op": "within_next_days", "days": 3}, "2026-03-15T11:59:59Z", False),
    ({"op": "more_than_days_ago", "days": 3}, "2026-03-12T12:00:00Z", False),
    ({"op": "more_than_days_ago", "days": 3}, "2026-03-12T11:59:59Z", True),
    ({"op": "more_than_days_ago", "days": 0}, "not a date", False),
    ({"op": "anniversary_today"}, "1990-03-15", True),
    ({"op": "anniversary_today"}, "1990-03-15T23:30:00-05:00", True),
    ({"op": "anniversary_today"}, "2026-03-15", False),
    ({"op": "anniversary_today"}, "1990-03-16", False),
    ({"op": "anniversary_today"}, 19900315, False),
]


@pytest.mark.parametrize(("op", "value", "expected"), RULES, ids=[f"{r[0]['op']}-{r[1]!r}" for r in RULES])
def test_value_rule(op: dict[str, Any], value: Any, expected: bool) -> None:
    assert check(op, value) is expected
