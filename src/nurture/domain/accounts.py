"""Account (company) traits: `name` and the company domain are typed, everything else is an attribute."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from nurture.domain.errors import Invalid, join_path

MAX_NAME = 200


def normalize_domain(value: str) -> str:
    """`https://www.Example.com/about` → `example.com`."""
    text = value.strip().lower()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.")
    if "." not in host or len(host) > 253:
        raise ValueError("not a domain name (e.g. example.com)")
    return host


@dataclass
class AccountUpdate:
    name: str | None = None
    domain: str | None = None
    unset: set[str] = field(default_factory=set)
    attributes: dict[str, Any] = field(default_factory=dict)


def parse_account_traits(traits: Mapping[str, Any], path: str = "traits") -> AccountUpdate:
    update = AccountUpdate()
    for key, value in traits.items():
        if key == "name":
            if value is None:
                update.unset.add("name")
            elif not isinstance(value, str) or len(value) > MAX_NAME:
                raise Invalid.one(join_path(path, key), f"must be a string of at most {MAX_NAME} characters")
            else:
                update.name = value.strip()
        elif key == "domain":
            if value is None:
                update.unset.add("domain")
                continue
            try:
                update.domain = normalize_domain(value if isinstance(value, str) else "")
            except ValueError as exc:
                raise Invalid.one(join_path(path, key), str(exc)) from None
        elif key == "website":
            # A website is kept as given; when it names a host, that host is the domain (unless given).
            update.attributes[key] = value
            if isinstance(value, str) and "domain" not in traits:
                with contextlib.suppress(ValueError):
                    update.domain = normalize_domain(value)
        else:
            update.attributes[key] = value
    return update
