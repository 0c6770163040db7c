"""Routing leads to sales: owners, assignment rules and the pure choice of an owner for one contact.

Rules are tried in order; the first that applies to the contact (its optional condition passes) and
yields an active owner wins. Rule kinds: `round_robin` among owners, `territory` (a contact attribute's
value → an owner), `account_owner` (the owner of the contact's company) and `company_domain` (the
company whose domain is the contact's email domain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from nurture.domain.conditions import Condition, parse_condition
from nurture.domain.conditions.parsing import field_errors
from nurture.domain.contact_view import ContactView
from nurture.domain.contacts import Account
from nurture.domain.errors import Invalid, join_path
from nurture.domain.evaluate import evaluate
from nurture.domain.profile import normalize_email

MAX_OWNERS_PER_RULE = 200
IdStr = Annotated[str, Field(min_length=1, max_length=64)]
NameStr = Annotated[str, Field(min_length=1, max_length=200)]
MANUAL = "manual"  # the `rule` of an assignment made by hand (API PATCH)


@dataclass(frozen=True)
class Owner:
    """A salesperson contacts can be assigned to; inactive owners keep their contacts, get no new ones."""

    id: str
    name: str
    email: str
    active: bool
    attributes: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class OwnerInput:
    name: str
    email: str
    active: bool
    attributes: dict[str, Any]


def parse_owner(data: Mapping[str, Any], current: Owner | None = None) -> OwnerInput:
    """Validate an owner body (PATCH semantics when `current` is given: missing keys keep their value)."""
    name = data.get("name", current.name if current else None)
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise Invalid.one("name", "must be a non-empty string of at most 200 characters")
    email = data.get("email", current.email if current else None)
    if not isinstance(email, str):
        raise Invalid.one("email", "is required: the owner's email address")
    try:
        email = normalize_email(email)
    except ValueError as exc:
        raise Invalid.one("email", str(exc)) from None
    active = data.get("active", current.active if current else True)
    if not isinstance(active, bool):
        raise Invalid.one("active", "must be true or false")
    attributes = data.get("attributes", current.attributes if current else {})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise Invalid.one("attributes", 'must be an object, e.g. {"territory": "EMEA"}')
    return OwnerInput(name.strip(), email, active, dict(attributes))


@dataclass(frozen=True)
class RoutingRule:
    """A stored rule: tried in `position` order (then id); `last_owner_id` is its round-robin state."""

    id: str
    name: str
    position: int
    definition: dict[str, Any]
    last_owner_id: str | None
    created_at: datetime
    updated_at: datetime


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    condition: dict[str, Any] | None = Field(
        default=None, description="Whom the rule applies to (the condition language); none: everyone"
    )


class RoundRobin(_Rule):
    """Each contact goes to the next active owner of `owner_ids` after the last one this rule chose."""

    kind: Literal["round_robin"] = "round_robin"
    owner_ids: list[IdStr] = Field(min_length=1, max_length=MAX_OWNERS_PER_RULE)

    @field_validator("owner_ids")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names an owner twice")
        return value


class Territory(_Rule):
    """The contact attribute `attribute` decides: `owners` maps its value to an owner; without a
    mapping for the value, active owners whose own attribute of that name has the value share the
    contact in turn; else `fallback_owner_id`."""

    kind: Literal["territory"] = "territory"
    attribute: NameStr
    owners: dict[Annotated[str, Field(max_length=200)], IdStr] = Field(default_factory=dict, max_length=1000)
    fallback_owner_id: IdStr | None = None


class AccountOwner(_Rule):
    """The owner of the contact's account: its `owner_id` or `owner_email` attribute, else the owner
    most of its other contacts have."""

    kind: Literal["account_owner"] = "account_owner"


class CompanyDomain(_Rule):
    """Like `account_owner`, for the account whose domain is the contact's email domain."""

    kind: Literal["company_domain"] = "company_domain"


RuleDefinition = Annotated[RoundRobin | Territory | AccountOwner | CompanyDomain, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[RuleDefinition] = TypeAdapter(RuleDefinition)


def parse_rule(data: Any, path: str = "definition") -> tuple[RuleDefinition, Condition | None]:
    """Validate a rule definition and its condition; errors are named by path (`definition.owner_ids`)."""
    try:
        rule = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc, data, path)) from None
    condition = parse_condition(rule.condition, join_path(path, "condition")) if rule.condition else None
    return rule, condition


def referenced_owners(rule: RuleDefinition, path: str = "definition") -> list[tuple[str, str]]:
    """(field path, owner id) for every owner the rule names, to check they exist."""
    if isinstance(rule, RoundRobin):
        return [(join_path(path, f"owner_ids[{i}]"), o) for i, o in enumerate(rule.owner_ids)]
    if isinstance(rule, Territory):
        named = [(join_path(path, f"owners.{value}"), o) for value, o in rule.owners.items()]
        if rule.fallback_owner_id is not None:
            named.append((join_path(path, "fallback_owner_id"), rule.fallback_owner_id))
        return named
    return []


@dataclass(frozen=True)
class AccountFacts:
    """One account and the owners of its other contacts (owner id → how many of them have it)."""

    account: Account
    member_owners: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingFacts:
    """Everything the rules read about one contact, loaded once."""

    view: ContactView
    owners: Mapping[str, Owner]  # every owner of the workspace, by id
    accounts: Sequence[AccountFacts] = ()  # the contact's accounts
    domain_accounts: Sequence[AccountFacts] = ()  # accounts whose domain is the contact's email domain


@dataclass(frozen=True)
class Pick:
    """The owner a rule chose; `rotated` when the rule's round-robin state must move to it."""

    owner_id: str
    rotated: bool = False


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower() or None


def applies(condition: Condition | None, facts: RoutingFacts, now: datetime) -> bool:
    return condition is None or evaluate(condition, facts.view, now)


def pick(rule: RuleDefinition, facts: RoutingFacts, last_owner_id: str | None) -> Pick | None:
    """The active owner `rule` gives the contact, or None when it yields nobody."""
    if isinstance(rule, RoundRobin):
        return _rotate(rule.owner_ids, facts.owners, last_owner_id)
    if isinstance(rule, Territory):
        return _territory(rule, facts, last_owner_id)
    if isinstance(rule, AccountOwner):
        return _from_accounts(facts.accounts, facts.owners)
    return _from_accounts(facts.domain_accounts, facts.owners)


def _active(owner_id: str | None, owners: Mapping[str, Owner]) -> bool:
    owner = owners.get(owner_id) if owner_id else None
    return owner is not None and owner.active


def _rotate(candidates: Sequence[str], owners: Mapping[str, Owner], last: str | None) -> Pick | None:
    """The next active candidate after `last` (in the candidates' order, wrapping round)."""
    start = candidates.index(last) + 1 if last in candidates else 0
    for step in range(len(candidates)):
        owner_id = candidates[(start + step) % len(candidates)]
        if _active(owner_id, owners):
            return Pick(owner_id, rotated=True)
    return None


def _territory(rule: Territory, facts: RoutingFacts, last: str | None) -> Pick | None:
    value = facts.view.contact.attributes.get(rule.attribute)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        mapped = rule.owners.get(str(value))
        if mapped is not None:
            if _active(mapped, facts.owners):
                return Pick(mapped)
        elif not rule.owners:
            matching = sorted(
                o.id for o in facts.owners.values() if o.active and o.attributes.get(rule.attribute) == value
            )
            if matching:
                return _rotate(matching, facts.owners, last)
    if _active(rule.fallback_owner_id, facts.owners):
        assert rule.fallback_owner_id is not None
        return Pick(rule.fallback_owner_id)
    return None


def account_owner(account: AccountFacts, owners: Mapping[str, Owner]) -> str | None:
    """An account's owner: its `owner_id` attribute, else its `owner_email`, else the owner most of
    its contacts have (ties: the smallest id); only active owners count."""
    attributes = account.account.attributes
    by_id = attributes.get("owner_id")
    if isinstance(by_id, str) and _active(by_id, owners):
        return by_id
    by_email = attributes.get("owner_email")
    if isinstance(by_email, str):
        wanted = by_email.strip().lower()
        for owner in sorted(owners.values(), key=lambda o: o.id):
            if owner.email == wanted and owner.active:
                return owner.id
    counted = sorted(
        ((-n, owner_id) for owner_id, n in account.member_owners.items() if _active(owner_id, owners)),
    )
    return counted[0][1] if counted else None


def _from_accounts(accounts: Sequence[AccountFacts], owners: Mapping[str, Owner]) -> Pick | None:
    for facts in sorted(accounts, key=lambda a: a.account.id):
        owner_id = account_owner(facts, owners)
        if owner_id is not None:
            return Pick(owner_id)
    return None
