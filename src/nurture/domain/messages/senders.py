"""Senders: who a workspace's mail comes from and how it leaves (SMTP URL, rate, DKIM key), checked.

An SMTP URL's password is never shown back: `masked_url` hides it, and a URL given back with the
mask keeps the stored password, so a client can read a sender, change its rate and save it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.messages.delivery import DkimKey, SenderConfig
from nurture.domain.messages.smtp_url import parse_smtp_url
from nurture.domain.profile import normalize_email

MASK = "****"
MAX_RATE = 100_000.0
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_PEM = re.compile(
    r"^-----BEGIN (RSA |EC )?PRIVATE KEY-----\s.+\s-----END (RSA |EC )?PRIVATE KEY-----\s*$", re.S
)


@dataclass(frozen=True)
class Sender:
    id: str
    name: str
    from_name: str
    from_email: str
    reply_to: str | None
    smtp_url: str | None
    rate_per_second: float | None
    dkim_domain: str | None
    dkim_selector: str | None
    dkim_key: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime

    def config(self, server_smtp_url: str | None) -> SenderConfig:
        """How this sender's mail leaves: its own SMTP URL, else the server's, else capture."""
        dkim = None
        if self.dkim_domain and self.dkim_selector and self.dkim_key:
            dkim = DkimKey(self.dkim_domain, self.dkim_selector, self.dkim_key.encode())
        return SenderConfig(self.id, self.smtp_url or server_smtp_url, self.rate_per_second, dkim)


@dataclass(frozen=True)
class SenderInput:
    name: str
    from_name: str
    from_email: str
    reply_to: str | None
    smtp_url: str | None
    rate_per_second: float | None
    dkim_domain: str | None
    dkim_selector: str | None
    dkim_key: str | None
    is_default: bool


KEEP = object()  # a field the request left out: keep the stored value (the DKIM key, never shown)


def check_sender(data: dict[str, Any], current: Sender | None = None) -> SenderInput:
    """A sender body, every field checked; errors name the field. `dkim_key` left out (KEEP) keeps
    the current key; an SMTP URL with the masked password keeps the current password."""
    errors: list[FieldError] = []

    def text(name: str, limit: int, *, required: bool = False) -> str | None:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                errors.append(FieldError(name, "required"))
            return None
        if not isinstance(value, str) or len(value.strip()) > limit:
            errors.append(FieldError(name, f"must be text of at most {limit} characters"))
            return None
        return value.strip()

    def address(name: str, *, required: bool = False) -> str | None:
        value = text(name, 320, required=required)
        if value is None:
            return None
        try:
            return normalize_email(value)
        except ValueError as err:
            errors.append(FieldError(name, str(err)))
            return None

    name = text("name", 200, required=True)
    from_name = text("from_name", 200, required=True)
    from_email = address("from_email", required=True)
    reply_to = address("reply_to")
    smtp_url = text("smtp_url", 2000)
    if smtp_url is not None:
        try:
            smtp_url = check_smtp_url(smtp_url, current.smtp_url if current else None)
        except ValueError as err:
            errors.append(FieldError("smtp_url", str(err)))
    rate = data.get("rate_per_second")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_RATE
    ):
        errors.append(FieldError("rate_per_second", f"must be a number above 0 and at most {MAX_RATE:g}"))
    dkim_domain = text("dkim_domain", 253)
    if dkim_domain is not None and not all(_LABEL.match(p) for p in dkim_domain.rstrip(".").split(".")):
        errors.append(FieldError("dkim_domain", "must be a domain name, e.g. mail.example.com"))
    dkim_selector = text("dkim_selector", 63)
    if dkim_selector is not None and not _LABEL.match(dkim_selector):
        errors.append(FieldError("dkim_selector", "must be one DNS label, e.g. nurture2026"))
    key = data.get("dkim_key", KEEP)
    dkim_key = (current.dkim_key if current else None) if key is KEEP else key
    if dkim_key is not None and (not isinstance(dkim_key, str) or not _PEM.match(dkim_key.strip())):
        errors.append(FieldError("dkim_key", "must be a PEM private key (-----BEGIN PRIVATE KEY----- …)"))
    dkim = (dkim_domain, dkim_selector, dkim_key)
    if any(v is not None for v in dkim) and not all(v is not None for v in dkim):
        errors.append(FieldError("dkim_domain", "DKIM needs all of dkim_domain, dkim_selector and dkim_key"))
    is_default = data.get("is_default", current.is_default if current else False)
    if not isinstance(is_default, bool):
        errors.append(FieldError("is_default", "must be true or false"))
    if errors:
        raise Invalid(errors)
    assert name is not None
    assert from_name is not None
    assert from_email is not None
    return SenderInput(
        name=name,
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
        smtp_url=smtp_url,
        rate_per_second=float(rate) if rate is not None else None,
        dkim_domain=dkim_domain,
        dkim_selector=dkim_selector,
        dkim_key=dkim_key.strip() + "\n" if isinstance(dkim_key, str) else None,
        is_default=bool(is_default),
    )


def check_smtp_url(url: str, current: str | None = None) -> str:
    """An SMTP URL as `parse_smtp_url` reads it (`smtp://`, `smtp+starttls://`, `smtps://`, options);
    the masked password stands for `current`'s."""
    try:
        parts: SplitResult | None = urlsplit(url.strip())
    except ValueError:
        parts = None  # parse_smtp_url says what is wrong
    if parts is not None and parts.password == MASK:
        if current is None or urlsplit(current).password is None:
            raise ValueError(f"the password is {MASK!r}, but there is no stored password to keep")
        url = _with_password(parts, urlsplit(current).password or "")
    try:
        parse_smtp_url(url)
    except Invalid as err:
        raise ValueError(err.errors[0].message) from None
    return url


def masked_url(url: str | None) -> str | None:
    """The URL with its password replaced by the mask (what the API shows)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return _with_password(parts, MASK)


def _with_password(parts: SplitResult, password: str) -> str:
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return parts._replace(netloc=f"{user}:{password}@{host}").geturl()
