"""Contact profile rules: which traits are typed core fields, how each is validated, how traits merge.

A trait set to null unsets it. Core fields (email, phone, names, timezone, locale) are validated and
normalised; every other trait is a JSON attribute.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from nurture.domain.errors import FieldError, Invalid, join_path

CORE_FIELDS = ("email", "phone", "first_name", "last_name", "timezone", "locale")

# Segment spells traits in camelCase; the REST API and CSV use snake_case. Both reach the same field.
TRAIT_ALIASES: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "timezone": "timezone",
    "locale": "locale",
}

_LOCALE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{4}))?(?:[-_]([a-zA-Z]{2}|[0-9]{3}))?$")
MAX_NAME_LENGTH = 200


@lru_cache(maxsize=65536)
def normalize_email(value: str) -> str:
    """Syntax-check an address and return it lower-cased (no DNS lookup)."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address ({exc})") from None
    return checked.normalized.lower()


@lru_cache(maxsize=65536)
def normalize_phone(value: str) -> str:
    """Return the number in E.164 (`+4930123456`); it must carry its country code."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in international format (E.164, e.g. +14155550123)") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number (E.164, e.g. +14155550123)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """The IANA zone names nurture accepts (and evaluates conditions in); any other name means UTC."""
    return frozenset(zoneinfo.available_timezones())


def normalize_timezone(value: str) -> str:
    """An IANA zone name such as `Europe/Berlin`."""
    if value not in known_zones():
        raise ValueError("not an IANA time zone name (e.g. Europe/Berlin)")
    return value


def normalize_locale(value: str) -> str:
    """A BCP 47 language tag such as `de`, `pt-BR` or `zh-Hant-TW`, in canonical case."""
    match = _LOCALE.match(value.strip())
    if not match:
        raise ValueError("not a locale tag (e.g. en, en-US, pt-BR)")
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def _normalize_name(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"longer than {MAX_NAME_LENGTH} characters")
    return value


_NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": normalize_email,
    "phone": normalize_phone,
    "first_name": _normalize_name,
    "last_name": _normalize_name,
    "timezone": normalize_timezone,
    "locale": normalize_locale,
}


@dataclass
class TraitUpdate:
    """What a set of traits changes: core fields (None = unset) and attributes (None = remove)."""

    core: dict[str, str | None] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.core and not self.attributes


def parse_traits(traits: Mapping[str, Any], path: str = "traits") -> TraitUpdate:
    """Split traits into validated core fields and attributes; raise Invalid naming each bad trait."""
    update = TraitUpdate()
    errors: list[FieldError] = []
    for key, value in traits.items():
        core = TRAIT_ALIASES.get(key)
        if core is None:
            update.attributes[key] = value
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            update.core[core] = None
            continue
        if not isinstance(value, str):
            errors.append(FieldError(join_path(path, key), "must be a string"))
            continue
        try:
            update.core[core] = _NORMALIZERS[core](value)
        except ValueError as exc:
            errors.append(FieldError(join_path(path, key), str(exc)))
    if errors:
        raise Invalid(errors)
    return update


def apply_attributes(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Merge attribute changes into a copy of `current`; a None value removes the key."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
