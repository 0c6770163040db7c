"""From what the marketer wrote to Liquid sources ready to render, once per template version: layout
wrapped around the body, MJML compiled to HTML (mrml), CSS inlined (css-inline) and, when no text part
was written, a plain-text Liquid template derived from the HTML (inscriptis).

All three tools run on the template source, before Liquid, with Liquid markup swapped for placeholders
that HTML and CSS leave alone: tags (`{% … %}`) become HTML comments, which keep their place even
between table rows; outputs (`{{ … }}`) become private-use characters, which survive text, attribute
values and CSS values. Afterwards every tag must still be there, once and in order; if a tool moved or
dropped one (Liquid inside a CSS selector, say), that step is done per message after rendering instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import css_inline
import mrml
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.html_properties import Display
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_element import HtmlElement
from inscriptis.model.tag import CustomHtmlTagHandlerMapping

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.templates.liquid import position

_MARKUP = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_PRIVATE = re.compile("[\ue000-\ue003]")
_OUT = re.compile("\ue000(\\d+)\ue001")
_TAG_COMMENT = re.compile("<!--\ue002(\\d+)\ue003-->")
_TAG = re.compile("\ue002(\\d+)\ue003")
_HTML_TAG = re.compile(r"<html\b", re.IGNORECASE)
CONTENT = re.compile(r"\{\{-?\s*content\s*-?\}\}")

_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True, keep_link_tags=True)

# Layout tables are flattened to blocks (a text part is read top to bottom) and kept in source order.
_TEXT_CSS = {
    **CSS_PROFILES["strict"],
    **{tag: HtmlElement(display=Display.block) for tag in ("table", "tbody", "thead", "tr", "td", "th")},
}
_NO_TABLES = dict.fromkeys(("table", "tr", "td", "th"))
_TEXT_CONFIG = ParserConfig(
    css=_TEXT_CSS,
    display_links=True,
    custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(_NO_TABLES, _NO_TABLES),
)
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


@dataclass(frozen=True)
class Protected:
    """A source with its Liquid markup replaced by placeholders, and the markup to put back."""

    text: str
    markup: tuple[str, ...]
    tags: tuple[int, ...]  # indexes of the markup that are tags, in source order


def protect(source: str) -> Protected | None:
    """`source` with Liquid markup hidden from HTML tools; None if it already holds our placeholders."""
    if _PRIVATE.search(source):
        return None
    markup: list[str] = []
    tags: list[int] = []

    def swap(match: re.Match[str]) -> str:
        n = len(markup)
        markup.append(match.group(0))
        if match.group(0).startswith("{%"):
            tags.append(n)
            return f"<!--\ue002{n}\ue003-->"
        return f"\ue000{n}\ue001"

    return Protected(_MARKUP.sub(swap, source), tuple(markup), tuple(tags))


_TABLE_ROW = re.compile("(<table\\b[^>]*>)((?:\\s|<!--\ue002\\d+\ue003-->)*<tr\\b)", re.IGNORECASE)
_ELEMENT = re.compile("(<!--\ue002\\d+\ue003-->)|<!--.*?-->|<(/?)([a-zA-Z][\\w:-]*)\\b[^>]*?(/?)>", re.DOTALL)
# Void elements close themselves; parsers add tbody, html, head and body where they are missing.
_UNCOUNTED = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "tbody",
        "html",
        "head",
        "body",
    ]
)


def _explicit_tbody(html: str) -> str:
    """`<table>` rows inside an explicit `<tbody>`, as HTML parsers put them anyway: otherwise a
    `{% for %}` before the first row would stay outside the `<tbody>` the parser adds."""
    return _TABLE_ROW.sub(lambda m: f"{m.group(1)}<tbody>{m.group(2)}", html)


def _nesting(html: str) -> list[int]:
    """How many elements each stretch between two Liquid tags opens (minus closes)."""
    deltas = [0]
    for match in _ELEMENT.finditer(html):
        placeholder, close, name, self_closing = match.groups()
        if placeholder:
            deltas.append(0)
        elif name and name.lower() not in _UNCOUNTED and not self_closing:
            deltas[-1] += -1 if close else 1
    return deltas[1:-1]


def restore(protected: Protected, text: str, source: str | None = None) -> str | None:
    """`text` (a tool's output) with the Liquid markup back; None if a tag went missing, was repeated
    or moved out of order, or a placeholder was split. Given the HTML `source` the tool read (CSS
    inlining), also None if the HTML between two Liquid tags no longer opens and closes the same number
    of elements or an output vanished (e.g. in a CSS rule whose selector held Liquid). A text part may
    drop outputs: in `<title>`, `alt` and such."""
    if [int(n) for n in _TAG.findall(text)] != list(protected.tags):
        return None
    if source is not None:
        if _nesting(source) != _nesting(text):
            return None
        if set(map(int, _OUT.findall(text))) != set(range(len(protected.markup))) - set(protected.tags):
            return None
    out = _TAG_COMMENT.sub(lambda m: protected.markup[int(m.group(1))], text)
    out = _TAG.sub(lambda m: protected.markup[int(m.group(1))], out)
    out = _OUT.sub(lambda m: protected.markup[int(m.group(1))], out)
    return None if _PRIVATE.search(out) else out


def wrap(layout: str, body: str) -> str:
    """The layout with the body in place of its `{{ content }}`."""
    return CONTENT.sub(lambda _m: body, layout, count=1)


def check_layout(field: str, source: str) -> None:
    if len(CONTENT.findall(source)) != 1:
        raise Invalid.one(field, "a layout needs exactly one {{ content }} where the message body goes")


def mjml_to_html(field: str, source: str) -> str:
    """Compile MJML (with Liquid markup in it) to HTML, Liquid markup intact."""
    protected = protect(source)
    if protected is None:
        raise Invalid.one(field, "contains private-use characters U+E000 to U+E003")
    try:
        html = str(mrml.to_html(protected.text).content)
    except OSError as err:
        raise Invalid([_mjml_error(field, str(err), source, protected)]) from None
    restored = restore(protected, html)
    if restored is None:
        raise Invalid.one(field, "MJML moved Liquid tags out of order; wrap them in <mj-raw> or move them")
    return restored


_SPAN = re.compile(r"at position (\d+):\d+")


def _mjml_error(field: str, message: str, source: str, protected: Protected) -> FieldError:
    """mrml reports positions in the text it was given; map them back to the source."""
    found = _SPAN.search(message)
    if found:
        index = _source_index(protected, int(found.group(1)))
        line, column = position(source, index)
        return FieldError(field, f"MJML: {_SPAN.sub('', message).strip()}", line, column)
    if "end of stream" in message:
        line, column = position(source, len(source))
        return FieldError(field, f"MJML: {message} (an element is not closed)", line, column)
    return FieldError(field, f"MJML: {message}", 1, 1)


def _source_index(protected: Protected, index: int) -> int:
    """The index in the original source of character `index` of the protected text."""
    shift = 0
    for match in re.finditer("<!--\ue002(\\d+)\ue003-->|\ue000(\\d+)\ue001", protected.text):
        if match.start() >= index:
            break
        if index < match.end():
            return match.start() + shift
        shift += len(protected.markup[int(match.group(1) or match.group(2))]) - (match.end() - match.start())
    return index + shift


def inline_css(html: str) -> str:
    return str(_INLINER.inline(html))


def html_to_text(html: str) -> str:
    return tidy_text(get_text(html, _TEXT_CONFIG))


def text_source(html: str) -> str:
    """A plain-text Liquid source from an HTML one (for snippets rendered into a derived text part);
    the HTML itself when that cannot keep its Liquid tags in place."""
    protected = protect(html)
    if protected is None:
        return html
    bare = _TAG_COMMENT.sub(lambda m: f"\ue002{m.group(1)}\ue003", protected.text)
    return restore(protected, get_text(bare, _TEXT_CONFIG)) or html


def tidy_text(text: str) -> str:
    """At most one blank line in a row, no trailing spaces, no leading or trailing blank lines."""
    lines = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", lines).strip("\n")


@dataclass(frozen=True)
class EmailSources:
    """Liquid sources for an email body. `inline_later`: inline CSS per message (the source-level
    pass moved markup); `text` None: derive the text part from each rendered HTML."""

    html: str
    text: str | None
    inline_later: bool


def email_sources(html: str, text: str | None) -> EmailSources:
    """Inline CSS and derive the text part on the source where that keeps every Liquid tag in place."""
    if not _HTML_TAG.search(html):  # a fragment: give it the document a parser would
        html = f"<html><head></head><body>{html}</body></html>"
    protected = protect(html)
    if protected is None:
        return EmailSources(html, text, inline_later=True)
    source = _explicit_tbody(protected.text)
    inlined = inline_css(source)
    restored = restore(protected, inlined, source)
    if text is None:
        bare = _TAG_COMMENT.sub(
            lambda m: f"\ue002{m.group(1)}\ue003", inlined if restored else protected.text
        )
        text = restore(protected, get_text(bare, _TEXT_CONFIG))
    return EmailSources(restored or html, text, inline_later=restored is None)
