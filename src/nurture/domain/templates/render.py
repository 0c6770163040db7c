"""Compile a template version once, render it per message: all of it or nothing."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from liquid import BoundTemplate
from liquid.exceptions import LiquidError

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.templates.compile import (
    check_layout,
    email_sources,
    html_to_text,
    inline_css,
    mjml_to_html,
    text_source,
    tidy_text,
    wrap,
)
from nurture.domain.templates.liquid import Environments, RenderFailed, field_error
from nurture.domain.templates.model import BodyFormat, Content, Layout, TemplateKind

_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_PREHEADER = (
    '<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;'
    'overflow:hidden;mso-hide:all">{}</div>'
)


@dataclass(frozen=True)
class RenderedMessage:
    """A message as it would be sent. SMS: only `text`."""

    subject: str | None
    preheader: str | None
    from_name: str | None
    html: str | None
    text: str


@dataclass(frozen=True)
class CompiledTemplate:
    """Parsed Liquid for every field of one template version (with one layout version and one set of
    snippets). Parse once, render many: the expensive steps are done here."""

    kind: TemplateKind
    subject: BoundTemplate | None
    preheader: BoundTemplate | None
    from_name: BoundTemplate | None
    html: BoundTemplate | None
    text: BoundTemplate | None
    inline_later: bool  # CSS inlined per message, after rendering
    derive_text: bool  # text part derived per message from the rendered HTML

    def render(self, context: Mapping[str, Any]) -> RenderedMessage:
        """Render every field or raise `RenderFailed` naming the field: never half a message."""
        data = dict(context)
        subject = _one_line(_render(self.subject, "subject", data))
        preheader = _one_line(_render(self.preheader, "preheader", data))
        from_name = _one_line(_render(self.from_name, "from_name", data))
        html = _render(self.html, "html", data)
        if html is not None:
            if self.inline_later:
                html = inline_css(html)
            if preheader:
                html = _with_preheader(html, preheader)
        if self.derive_text and html is not None:
            text = html_to_text(html)
        else:
            text = tidy_text(_render(self.text, "text", data) or "")
        return RenderedMessage(subject, preheader, from_name, html, text)


def _render(template: BoundTemplate | None, field: str, data: dict[str, Any]) -> str | None:
    if template is None:
        return None
    try:
        return str(template.render(**data))
    except LiquidError as err:
        raise RenderFailed([field_error(field, err)]) from None


def _one_line(value: str | None) -> str | None:
    return " ".join(value.split()) if value is not None else None


def _with_preheader(html: str, preheader: str) -> str:
    hidden = _PREHEADER.format(htmllib.escape(preheader))
    body = _BODY_TAG.search(html)
    return html[: body.end()] + hidden + html[body.end() :] if body else hidden + html


def environments(snippets: Mapping[str, str]) -> Environments:
    """The Liquid environments of a workspace whose snippets (name → source) are `snippets`."""
    return Environments(snippets, text_source)


def compile_template(
    envs: Environments, kind: TemplateKind, content: Content, layout: Layout | None = None
) -> CompiledTemplate:
    """Check and compile one version. Errors are `Invalid` at the field the user wrote (`subject`,
    `preheader`, `from_name`, `html`, `mjml`, `text`, `layout_id`), with line and column."""

    def parse(field: str, source: str | None, *, html: bool = False) -> BoundTemplate | None:
        return None if source is None else envs.parse(field, source, html=html)

    if kind is TemplateKind.SMS:
        return CompiledTemplate(kind, None, None, None, None, parse("text", content.text), False, False)
    body_field = str(content.body_format or BodyFormat.HTML)
    body = content.body or ""
    subject = parse("subject", content.subject)
    preheader = parse("preheader", content.preheader)
    from_name = parse("from_name", content.from_name)
    parse(body_field, body, html=True)  # errors with positions in what the user wrote
    text = parse("text", content.text)
    if layout is not None:
        if layout.format is not content.body_format:
            raise Invalid.one(
                "layout_id", f"is a {layout.format} layout; this template's body is {body_field}"
            )
        check_layout("layout_id", layout.body)
        body = wrap(layout.body, body)
    if content.body_format is BodyFormat.MJML:
        body = mjml_to_html(body_field, body)
    sources = email_sources(body, content.text)
    try:
        html = envs.parse(body_field, sources.html, html=True)
        derived = (
            envs.parse("text", sources.text, derived=True) if content.text is None and sources.text else None
        )
    except Invalid as err:  # the layout, MJML or inlining made something the parser refuses
        raise Invalid(
            [FieldError(e.field, f"{e.message} (after layout, MJML and CSS inlining)") for e in err.errors]
        ) from None
    return CompiledTemplate(
        kind,
        subject,
        preheader,
        from_name,
        html,
        text if content.text is not None else derived,
        inline_later=sources.inline_later,
        derive_text=content.text is None and derived is None,
    )
