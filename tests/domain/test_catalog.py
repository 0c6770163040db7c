"""The data catalog: which keys and types documents have, and conditions checked against it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from nurture.domain.catalog import Catalog, EntryKind, check_condition, document_entries, document_shape
from nurture.domain.conditions.parsing import parse_condition
from nurture.domain.conditions.values import parse_date

A, P = EntryKind.ATTRIBUTE, EntryKind.PROPERTY


def catalog() -> Catalog:
    return Catalog.of(
        [
            (A, "", "plan", "string"),
            (A, "", "seats", "number"),
            (A, "", "signup", "date"),
            (A, "", "interests", "array"),
            (A, "", "vip", "boolean"),
            (A, "", "code", "string"),
            (A, "", "code", "number"),
            (EntryKind.ACCOUNT_ATTRIBUTE, "", "industry", "string"),
            (EntryKind.EVENT, "", "Order Completed", ""),
            (P, "Order Completed", "revenue", "number"),
            (P, "Order Completed", "coupon", "string"),
        ]
    )


def errors(data: dict[str, Any]) -> dict[str, str]:
    return {e.field: e.message for e in check_condition(parse_condition(data), catalog(), "condition")}


def attribute(name: str, operator: dict[str, Any]) -> dict[str, Any]:
    return {"type": "attribute", "field": f"attributes.{name}", "operator": operator}


def test_documents_give_every_addressable_key_with_its_type() -> None:
    doc = {
        "plan": "pro",
        "seats": 5,
        "ratio": 0.5,
        "vip": False,
        "signup": "2024-05-01",
        "tags": ["a"],
        "gone": None,
        "a.b": 1,
        "": 2,
        "cart": {"total": 3, "meta": {"deep": {"deeper": 1}}},
    }
    assert document_entries(A, "", doc) == {
        (A, "", "plan", "string"),
        (A, "", "seats", "number"),
        (A, "", "ratio", "number"),
        (A, "", "vip", "boolean"),
        (A, "", "signup", "date"),
        (A, "", "tags", "array"),
        (A, "", "cart", "object"),
        (A, "", "cart.total", "number"),
        (A, "", "cart.meta", "object"),
        (A, "", "cart.meta.deep", "object"),
    }


def test_documents_with_the_same_keys_and_classes_of_values_have_the_same_shape() -> None:
    first = {"sku": "a-1", "price": 5.5, "qty": 1, "tags": ["x"], "coupon": None, "new": True}
    second = {"sku": "b-2", "price": 7.25, "qty": 3, "tags": [], "coupon": None, "new": False}
    assert document_shape(first) == document_shape(second) is not None
    assert document_shape({**first, "coupon": "SALE"}) != document_shape(first)
    assert document_shape({"qty": 1, "sku": "a-1"}) != document_shape({"sku": "a-1", "qty": 1})


def test_documents_whose_entries_depend_on_more_than_their_shape_have_none() -> None:
    assert document_shape({"signup": "2024-05-01"}) is None  # a date, unlike other strings
    assert document_shape({"at": "2024-05-01T10:00:00Z", "n": 1}) is None
    assert document_shape({"cart": {"total": 3}}) is None  # nested keys


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["2024-05-01", "2024-02-30", "2024-05-01T10:00Z", "2024-05-01 10:00:00+02:00", "1999"]),
)
json_documents = st.dictionaries(
    st.text(max_size=4),
    st.one_of(
        json_scalars, st.lists(json_scalars, max_size=2), st.dictionaries(st.text(max_size=3), json_scalars)
    ),
    max_size=6,
)


def _same_class(value: Any) -> st.SearchStrategy[Any]:
    cls = type(value)
    return st.one_of(json_scalars, st.lists(json_scalars)).filter(lambda v: type(v) is cls)


@given(json_documents, st.data())
def test_a_shape_stands_for_exactly_the_entries_of_its_documents(
    document: dict[str, Any], data: st.DataObject
) -> None:
    shape = document_shape(document)
    if shape is None:
        return
    assert not any(isinstance(v, str) and parse_date(v) for v in document.values())
    # another document of the same shape: the same keys, other values of the same classes
    other = {key: data.draw(_same_class(value)) for key, value in document.items()}
    if document_shape(other) == shape:
        assert document_entries(A, "", other) == document_entries(A, "", document)


def test_an_unknown_attribute_is_named_with_the_close_ones() -> None:
    found = errors({"type": "all", "conditions": [attribute("plna", {"op": "equals", "value": "pro"})]})
    assert list(found) == ["condition.conditions[0].field"]
    assert "unknown attribute 'plna'" in found["condition.conditions[0].field"]
    assert "plan" in found["condition.conditions[0].field"]


def test_comparisons_that_can_never_hold_are_refused() -> None:
    cases = {
        "seats vs string": attribute("seats", {"op": "equals", "value": "5"}),
        "plan vs number": attribute("plan", {"op": "greater_than", "value": 3}),
        "plan relative": attribute("plan", {"op": "within_last_days", "days": 3}),
        "seats starts": attribute("seats", {"op": "starts_with", "value": "1"}),
        "vip vs string": attribute("vip", {"op": "in", "values": ["yes"]}),
        "signup vs number": attribute("signup", {"op": "less_than", "value": 2020}),
    }
    for name, condition in cases.items():
        assert list(errors(condition)) == ["condition.operator"], name


def test_comparisons_that_can_hold_pass() -> None:
    cases = [
        attribute("plan", {"op": "equals", "value": "pro"}),
        attribute("seats", {"op": "between", "low": 1, "high": 10}),
        attribute("signup", {"op": "more_than_days_ago", "days": 30}),
        attribute("signup", {"op": "greater_than", "value": "2024-01-01"}),
        attribute("interests", {"op": "contains", "value": "golf"}),
        attribute("vip", {"op": "equals", "value": True}),
        attribute("code", {"op": "in", "values": ["A1", 7]}),
        attribute("seats", {"op": "exists"}),
        {"type": "attribute", "field": "email", "operator": {"op": "contains", "value": "@"}},
        {
            "type": "account",
            "field": "account.attributes.industry",
            "operator": {"op": "equals", "value": "x"},
        },
    ]
    for condition in cases:
        assert errors(condition) == {}, condition


def test_events_and_properties_may_be_new_but_known_properties_are_type_checked() -> None:
    assert (
        errors(
            {
                "type": "event",
                "name": "Never Seen",
                "where": [{"property": "properties.x", "operator": {"op": "equals", "value": 1}}],
            }
        )
        == {}
    )
    assert list(
        errors(
            {
                "type": "event",
                "name": "Order Completed",
                "where": [{"property": "properties.coupon", "operator": {"op": "greater_than", "value": 10}}],
            }
        )
    ) == ["condition.where[0].operator"]
    revenue_of_coupon = {
        "type": "event_aggregate",
        "name": "Order Completed",
        "property": "properties.coupon",
        "function": "sum",
        "operator": {"op": "greater_than", "value": 10},
    }
    assert list(errors(revenue_of_coupon)) == ["condition.property"]
    assert errors({**revenue_of_coupon, "function": "count_distinct"}) == {}
    assert errors({**revenue_of_coupon, "property": "properties.revenue"}) == {}


def test_an_unknown_account_attribute_is_refused() -> None:
    found = errors(
        {
            "type": "not",
            "condition": {
                "type": "account",
                "field": "account.attributes.size",
                "operator": {"op": "exists"},
            },
        }
    )
    assert list(found) == ["condition.condition.field"]
    assert "unknown account attribute 'size'" in found["condition.condition.field"]
