"""CAN-SPAM: a marketing email shows the sender's valid physical postal address. A marketing email
template is saved only if it outputs `{{ workspace.postal_address }}` (the messaging settings'
`postal_address`) in every message: in its body, its layout or a snippet they render, outside any
condition that can be false.

The check renders the compiled template with no contact and a marker as the address, and looks for the
marker in the HTML (outside comments, Outlook-only conditional blocks included) and in a hand-written
text part. A body that cannot render without a contact (a
filter that needs a value) is judged by its sources instead: one of them must mention the address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.templates.context import message_context
from nurture.domain.templates.liquid import RenderFailed
from nurture.domain.templates.model import BodyFormat, Content
from nurture.domain.templates.render import CompiledTemplate

MARKER = "NurturePostalAddressCheck"
_MENTION = re.compile(r"workspace\s*(?:\.\s*postal_address|\[\s*['\"]postal_address['\"]\s*\])")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
ADVICE = (
    "a marketing email must show the workspace's postal address (CAN-SPAM): add "
    "{{ workspace.postal_address }} to the body or its layout, outside any condition"
)


def check_postal_address(
    compiled: CompiledTemplate, content: Content, now: datetime, sources: Iterable[str] = ()
) -> None:
    """Invalid naming the body field (`html` or `mjml`, or `text` for a hand-written text part that
    lacks it) when a message from this template would not show the postal address."""
    context = message_context(now=now, workspace={"id": "", "name": "", "postal_address": MARKER})
    body = str(content.body_format or BodyFormat.HTML)
    try:
        rendered = compiled.render(context)
    except RenderFailed:
        if not any(_MENTION.search(source) for source in (content.body or "", *sources)):
            raise Invalid.one(body, ADVICE) from None
        return
    errors = []
    if MARKER not in _COMMENT.sub("", rendered.html or ""):  # in a comment, no one reads it
        errors.append(FieldError(body, ADVICE))
    if content.text is not None and MARKER not in rendered.text:
        errors.append(FieldError("text", ADVICE))
    if errors:
        raise Invalid(errors)
