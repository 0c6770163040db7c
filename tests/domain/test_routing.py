"""The pure choice of an owner: rotation, territories, account owners (unit tests, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from nurture.domain.contact_view import ContactView
from nurture.domain.contacts import Account, Contact
from nurture.domain.errors import Invalid
from nurture.domain.routing import (
    AccountFacts,
    Owner,
    Pick,
    RoutingFacts,
    account_owner,
    email_domain,
    parse_rule,
    pick,
    referenced_owners,
)
from tests.conftest import START


def owners(*specs: tuple[str, bool, dict[str, Any]]) -> dict[str, Owner]:
    return {i: Owner(i, i, f"{i}@example.com", active, attrs, START) for i, active, attrs in specs}


def facts(attributes: dict[str, Any] | None = None, **kwargs: Any) -> RoutingFacts:
    contact = Contact("C", "c@acme.com", None, None, None, None, None, attributes or {}, START, START, None)
    return RoutingFacts(view=ContactView(contact), **kwargs)


TEAM = owners(("a", True, {"region": "US"}), ("b", False, {"region": "US"}), ("c", True, {"region": "US"}))


@pytest.mark.parametrize(
    ("last", "expected"),
    [(None, "a"), ("a", "c"), ("c", "a"), ("b", "c"), ("gone", "a")],
)
def test_round_robin_takes_the_next_active_owner_after_the_last(last: str | None, expected: str) -> None:
    rule, _ = parse_rule({"kind": "round_robin", "owner_ids": ["a", "b", "c"]})
    assert pick(rule, facts(owners=TEAM), last) == Pick(expected, rotated=True)


def test_round_robin_with_nobody_active_yields_nobody() -> None:
    rule, _ = parse_rule({"kind": "round_robin", "owner_ids": ["b"]})
    assert pick(rule, facts(owners=TEAM), None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("EU", "c"),
        (7, "c"),  # a number matches its text
        (True, "a"),  # booleans are not territories: the fallback
        (None, "a"),  # no attribute: the fallback
        ("APAC", "a"),  # unmapped: the fallback
        ("US", "a"),  # mapped to an inactive owner: the fallback
    ],
)
def test_territory_maps_scalar_values_and_falls_back(value: Any, expected: str) -> None:
    mapping = {"EU": "c", "7": "c", "US": "b"}
    rule, _ = parse_rule({"kind": "territory", "attribute": "t", "owners": mapping, "fallback_owner_id": "a"})
    chosen = pick(rule, facts({"t": value} if value is not None else {}, owners=TEAM), None)
    assert chosen == Pick(expected)


def test_territory_without_a_fallback_yields_nobody_for_an_unmapped_value() -> None:
    rule, _ = parse_rule({"kind": "territory", "attribute": "t", "owners": {"EU": "c"}})
    assert pick(rule, facts({"t": "APAC"}, owners=TEAM), None) is None


def test_territory_without_a_map_rotates_among_owners_with_the_same_attribute() -> None:
    rule, _ = parse_rule({"kind": "territory", "attribute": "region"})
    assert pick(rule, facts({"region": "US"}, owners=TEAM), "a") == Pick("c", rotated=True)
    assert pick(rule, facts({"region": "EU"}, owners=TEAM), None) is None


def account(
    attributes: dict[str, Any], members: dict[str, int] | None = None, account_id: str = "A1"
) -> AccountFacts:
    return AccountFacts(Account(account_id, "g", None, "acme.com", attributes, START, START), members or {})


@pytest.mark.parametrize(
    ("attributes", "members", "expected"),
    [
        ({"owner_id": "c"}, {"a": 5}, "c"),
        ({"owner_id": "b", "owner_email": "A@example.com"}, {"c": 5}, "a"),  # b is inactive
        ({"owner_email": "nobody@example.com"}, {"a": 1, "c": 2}, "c"),
        ({}, {"a": 2, "c": 2}, "a"),  # a tie goes to the smallest id
        ({}, {"b": 9}, None),
        ({}, {}, None),
    ],
)
def test_account_owner_prefers_the_accounts_owner_then_the_colleagues_majority(
    attributes: dict[str, Any], members: dict[str, int], expected: str | None
) -> None:
    assert account_owner(account(attributes, members), TEAM) == expected


def test_account_rules_try_accounts_in_id_order() -> None:
    rule, _ = parse_rule({"kind": "account_owner"})
    both = [account({}, {"c": 1}, "A2"), account({}, {"a": 1}, "A1")]
    assert pick(rule, facts(owners=TEAM, accounts=both), None) == Pick("a")
    domain_rule, _ = parse_rule({"kind": "company_domain"})
    assert pick(domain_rule, facts(owners=TEAM, domain_accounts=both[:1]), None) == Pick("c")
    assert pick(domain_rule, facts(owners=TEAM), None) is None


def test_email_domain() -> None:
    assert email_domain("Ann@Sub.Acme.COM") == "sub.acme.com"
    assert email_domain(None) is None
    assert email_domain("no-at-sign") is None


def test_rules_name_the_owners_they_reference_and_bad_rules_name_the_path() -> None:
    rule, condition = parse_rule(
        {
            "kind": "territory",
            "attribute": "t",
            "owners": {"EU": "a"},
            "fallback_owner_id": "b",
            "condition": {"type": "tag", "tag": "x"},
        }
    )
    assert referenced_owners(rule) == [("definition.owners.EU", "a"), ("definition.fallback_owner_id", "b")]
    assert condition is not None
    with pytest.raises(Invalid) as caught:
        parse_rule({"kind": "round_robin", "owner_ids": ["a", "a"]})
    assert caught.value.errors[0].field == "definition.owner_ids"
