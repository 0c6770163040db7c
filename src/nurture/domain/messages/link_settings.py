"""A workspace's tracking settings: the `tracking` member of its messaging settings document.

    {"tracking": {"opens": true, "clicks": true,
                  "utm": {"enabled": false, "source": "nurture", "medium": "email"}}}

`utm_campaign` is the message's own `utm_campaign` (from its context: campaigns and journeys set it),
else the name of its template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nurture.domain.errors import FieldError, Invalid

_UTM_VALUE = 100
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Utm:
    enabled: bool = False
    source: str = "nurture"
    medium: str = "email"


@dataclass(frozen=True)
class LinkSettings:
    opens: bool = True
    clicks: bool = True
    utm: Utm = field(default_factory=Utm)
    template_names: Mapping[str, str] = field(default_factory=dict)  # template id → name, for UTM


def check_tracking(value: Any, path: str = "tracking") -> LinkSettings:
    """The checked `tracking` document (absent members take their defaults); Invalid names the path."""
    if value is None:
        return LinkSettings()
    if not isinstance(value, Mapping):
        raise Invalid.one(path, "must be an object")
    errors: list[FieldError] = []
    unknown = set(value) - {"opens", "clicks", "utm"}
    errors += [
        FieldError(f"{path}.{name}", "unknown setting; use opens, clicks or utm") for name in sorted(unknown)
    ]
    flags = {}
    for name in ("opens", "clicks"):
        flag = value.get(name, True)
        if not isinstance(flag, bool):
            errors.append(FieldError(f"{path}.{name}", "must be true or false"))
        flags[name] = flag is True
    utm = Utm()
    raw = value.get("utm")
    if raw is not None and not isinstance(raw, Mapping):
        errors.append(FieldError(f"{path}.utm", "must be an object"))
    elif raw is not None:
        errors += [
            FieldError(f"{path}.utm.{name}", "unknown setting; use enabled, source or medium")
            for name in sorted(set(raw) - {"enabled", "source", "medium"})
        ]
        enabled = raw.get("enabled", False)
        if not isinstance(enabled, bool):
            errors.append(FieldError(f"{path}.utm.enabled", "must be true or false"))
        texts = {}
        for name in ("source", "medium"):
            text = raw.get(name, getattr(utm, name))
            if not isinstance(text, str) or not 0 < len(text.strip()) <= _UTM_VALUE:
                errors.append(
                    FieldError(f"{path}.utm.{name}", f"must be text of 1 to {_UTM_VALUE} characters")
                )
            else:
                texts[name] = text.strip()
        utm = Utm(enabled is True, texts.get("source", utm.source), texts.get("medium", utm.medium))
    if errors:
        raise Invalid(errors)
    return LinkSettings(flags["opens"], flags["clicks"], utm)


def utm_params(settings: LinkSettings, campaign: str | None) -> dict[str, str]:
    """The UTM parameters to add to a message's links (none when tagging is off)."""
    if not settings.utm.enabled:
        return {}
    params = {"utm_source": settings.utm.source, "utm_medium": settings.utm.medium}
    slug = _SLUG.sub("-", (campaign or "").lower()).strip("-")[:_UTM_VALUE]
    if slug:
        params["utm_campaign"] = slug
    return params
