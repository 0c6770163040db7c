"""Templates, layouts and snippets of a workspace, and the rules their fields follow."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.profile import normalize_email


class TemplateKind(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Category(StrEnum):
    """Marketing messages honour topic opt-outs and carry unsubscribe links; transactional ones
    (receipts, password mails) bypass topic opt-outs but never suppression."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class BodyFormat(StrEnum):
    HTML = "html"
    MJML = "mjml"


@dataclass(frozen=True)
class Content:
    """What one template version says. Sender fields left None come from the workspace's sender
    settings at send time; `text` None on an email means "derived from the HTML"."""

    subject: str | None = None
    preheader: str | None = None
    from_name: str | None = None
    from_email: str | None = None
    reply_to: str | None = None
    body_format: BodyFormat | None = None
    body: str | None = None
    text: str | None = None
    layout_id: str | None = None


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    kind: TemplateKind
    category: Category
    version: int
    content: Content
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Layout:
    """A wrapper around message bodies: its one `{{ content }}` is where the body goes."""

    id: str
    name: str
    format: BodyFormat
    body: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Snippet:
    """Reusable Liquid, rendered with `{% render 'name' %}` in this workspace's templates."""

    id: str
    name: str
    body: str
    version: int
    created_at: datetime
    updated_at: datetime


SNIPPET_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}$")


def check_name(value: str, field: str = "name") -> str:
    name = value.strip()
    if not name or len(name) > 200:
        raise Invalid.one(field, "must be 1 to 200 characters")
    return name


def check_snippet_name(value: str) -> str:
    if not SNIPPET_NAME.match(value):
        raise Invalid.one(
            "name", "must be 1 to 100 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


def check_content(kind: TemplateKind, content: Content) -> Content:
    """The fields a template of `kind` needs and may have; sender addresses normalised."""
    errors: list[FieldError] = []
    if kind is TemplateKind.SMS:
        for name in ("subject", "preheader", "from_name", "from_email", "reply_to", "body", "layout_id"):
            if getattr(content, name) is not None:
                field = str(content.body_format) if name == "body" and content.body_format else name
                errors.append(FieldError(field, "an SMS template has only a text body"))
        if not (content.text or "").strip():
            errors.append(FieldError("text", "an SMS template needs its text"))
        if errors:
            raise Invalid(errors)
        return content
    if not (content.subject or "").strip():
        errors.append(FieldError("subject", "an email needs a subject"))
    if content.body_format is None or not (content.body or "").strip():
        errors.append(FieldError("html", "an email needs a body: give `html` or `mjml`"))
    addresses = {}
    for name in ("from_email", "reply_to"):
        value = getattr(content, name)
        if value is not None:
            try:
                addresses[name] = normalize_email(value)
            except ValueError as err:
                errors.append(FieldError(name, str(err)))
    if errors:
        raise Invalid(errors)
    return Content(**{**content.__dict__, **addresses})
