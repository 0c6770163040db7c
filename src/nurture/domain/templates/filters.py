"""Filters marketers expect on top of Liquid's standard ones: `date` in the contact's time zone, `money`,
`json`. Each reads only its arguments and the render context (never the wall clock: `now` is context)."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    UnknownCurrencyError,
    format_currency,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    is_currency,
)
from liquid import Markup, RenderContext
from liquid.exceptions import FilterArgumentError
from liquid.filter import with_context
from liquid.undefined import is_undefined

DEFAULT_LOCALE = "en_US"


def _contact_field(context: RenderContext, name: str) -> Any:
    contact = context.resolve("contact", default=None)
    return contact.get(name) if isinstance(contact, Mapping) else None


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FilterArgumentError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)", token=None
        ) from None


@lru_cache(maxsize=256)
def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def _instant(value: object, context: RenderContext) -> datetime | date | None:
    """The moment `value` stands for: a datetime, a date, ISO 8601 text, seconds since the epoch, or
    "now"/"today" (the render's `now`, so a preview and a send agree and tests control time)."""
    if isinstance(value, str) and value.strip().lower() in ("now", "today"):
        value = context.resolve("now", default=None)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            return None
        if len(text) == 10:  # a date alone: a calendar day, not a moment in some zone
            return parsed.date()
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


@with_context
def date_filter(
    value: object, fmt: object = "%Y-%m-%d", zone: object = None, *, context: RenderContext
) -> Any:
    """`{{ event.timestamp | date: "%d %B %Y %H:%M" }}` in the contact's time zone (`contact.timezone`),
    or in the zone given as second argument; UTC when neither is known. A value that is not a date is
    returned unchanged, like Liquid's own `date`."""
    moment = _instant(value, context)
    if moment is None:
        return value
    if isinstance(moment, datetime):
        name = zone if isinstance(zone, str) and zone else _contact_field(context, "timezone")
        moment = moment.astimezone(_zone(name)) if isinstance(name, str) and name else moment.astimezone(UTC)
    if is_undefined(fmt) or not isinstance(fmt, str) or not fmt:
        fmt = "%Y-%m-%d"
    return moment.strftime(fmt)


def _amount(value: object) -> Decimal:
    if isinstance(value, bool):
        raise FilterArgumentError(f"money expects a number, found {value!r}", token=None)
    try:
        return Decimal(str(value).strip()) if isinstance(value, int | float | str | Decimal) else Decimal("x")
    except InvalidOperation:
        raise FilterArgumentError(f"money expects a number, found {value!r}", token=None) from None


@with_context
def money(value: object, currency: object = None, locale: object = None, *, context: RenderContext) -> Any:
    """`{{ 1234.5 | money: "EUR" }}` → "€1,234.50": the amount in major units, formatted by Babel (CLDR)
    for the given locale, else the contact's `locale`, else en-US. An empty value renders empty."""
    if value is None or is_undefined(value) or value == "":
        return ""
    if not isinstance(currency, str) or len(currency.strip()) != 3:
        raise FilterArgumentError('money needs an ISO 4217 currency code, e.g. money: "EUR"', token=None)
    tag = locale if isinstance(locale, str) and locale else _contact_field(context, "locale")
    if not _known_currency(currency.strip().upper()):
        raise FilterArgumentError(f"unknown currency {currency!r}", token=None)
    try:
        formatter = _money_format(
            currency.strip().upper(), tag if isinstance(tag, str) and tag else DEFAULT_LOCALE
        )
    except UnknownCurrencyError:
        raise FilterArgumentError(f"unknown currency {currency!r}", token=None) from None
    return formatter(_amount(value))


@lru_cache(maxsize=512)
def _known_currency(code: str) -> bool:
    return bool(is_currency(code))


# Large, negative, small, half-way and four- and five-digit amounts (minimum grouping rules).
_PROBES = tuple(map(Decimal, ("1234567.891", "-1234567.891", "0.5", "-12", "999.995", "1234.5", "-12345.6")))


@lru_cache(maxsize=1024)
def _money_format(currency: str, tag: str) -> Callable[[Decimal], str]:
    """A formatter for one currency and locale. Babel formats a few probe amounts once; when plain
    thousands grouping reproduces them all, amounts are formatted by that pattern (about 20 times
    faster than asking Babel per amount); otherwise (e.g. Indian grouping) Babel formats each one."""
    locale = _locale(tag)

    def babel(amount: Decimal) -> str:
        return str(format_currency(amount, currency, locale=locale))

    digits = get_currency_precision(currency)
    quantum = Decimal(1).scaleb(-digits)
    table = str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})

    def number(amount: Decimal) -> str:
        return f"{abs(amount.quantize(quantum, ROUND_HALF_EVEN)):,.{digits}f}".translate(table)

    affixes = {}
    for amount in _PROBES[:2]:
        whole, digits_text = babel(amount), number(amount)
        if digits_text not in whole:
            return babel
        affixes[amount.is_signed()] = tuple(whole.split(digits_text, 1))

    def fast(amount: Decimal) -> str:
        prefix, suffix = affixes[amount.is_signed()]  # as Babel: -0.001 shows as -€0.00
        return f"{prefix}{number(amount)}{suffix}"

    return fast if all(fast(p) == babel(p) for p in _PROBES) else babel


_JSON_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def json_filter(value: object) -> str:
    """The value as JSON, with `<`, `>` and `&` written as escapes so it cannot close a tag or a script.
    In an HTML body the result is HTML-escaped too (safe in attributes); mark it `| safe` inside
    `<script type="application/ld+json">`."""
    if is_undefined(value):
        value = None
    if isinstance(value, Markup):
        value = str(value)
    return jsonlib.dumps(value, ensure_ascii=False, default=str, sort_keys=True).translate(_JSON_UNSAFE)


FILTERS = {"date": date_filter, "money": money, "json": json_filter}
