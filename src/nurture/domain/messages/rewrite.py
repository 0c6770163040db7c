"""Rewriting a rendered email's HTML for tracking: link targets through the click redirect (with UTM
tags when asked), and the open pixel before `</body>`.

Email HTML is fragile (Outlook conditional comments, VML buttons, odd whitespace), so it is not parsed
and re-serialised: only the `href` values of `<a>`, `<area>` and `<v:roundrect>` tags change, found by
a scanner that respects quoted attribute values; every other byte stays as it was.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_LINK_TAG = re.compile(r"<(a|area|v:roundrect)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE)
# one attribute: its quoted value is consumed whole, so text inside another attribute's value (a title
# that mentions href=) is never taken for an attribute
_ATTRIBUTE = re.compile(r"""\s+([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>=`]+))?""")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_WEB = ("http://", "https://")
PIXEL = '<img src="{}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'


def trackable(url: str) -> bool:
    """Web links only: never mailto:, tel:, sms:, anchors, relative or script links."""
    return url.lower().startswith(_WEB) and len(url) > len("https://")


def rewrite_links(html: str, rewrite: Callable[[int, str], str | None]) -> str:
    """Each link's URL (entities decoded) goes through `rewrite(index, url)`, index counting every
    link in document order; a new URL replaces the href, None leaves the tag untouched. A tag with
    `data-nurture-track="off"` is left alone."""
    index = -1

    def tag(match: re.Match[str]) -> str:
        nonlocal index
        source = match.group(0)
        attributes = _attributes(source, len(match.group(1)) + 1)
        href = attributes.get("href")
        if href is None:
            return source
        index += 1
        if attributes.get("data-nurture-track", (0, 0, ""))[2].lower() == "off":
            return source
        start, end, raw = href
        new = rewrite(index, htmllib.unescape(raw).strip())
        if new is None:
            return source
        return f'{source[:start]}"{htmllib.escape(new, quote=True)}"{source[end:]}'

    return _LINK_TAG.sub(tag, html)


def _attributes(tag: str, pos: int) -> dict[str, tuple[int, int, str]]:
    """Attribute name (lower case; the first of a name wins, as in browsers) → (start, end) of its
    value in `tag`, and the value without quotes."""
    found: dict[str, tuple[int, int, str]] = {}
    while pos < len(tag):
        attribute = _ATTRIBUTE.match(tag, pos)
        if attribute is None:
            pos += 1
            continue
        name, value = attribute.group(1).lower(), attribute.group(2)
        if value is not None and name not in found:
            bare = value[1:-1] if value[:1] in ("'", '"') else value
            found[name] = (attribute.start(2), attribute.end(2), bare)
        pos = attribute.end()
    return found


def add_pixel(html: str, url: str) -> str:
    """The open pixel just before the last `</body>`, or at the end when there is none."""
    pixel = PIXEL.format(htmllib.escape(url, quote=True))
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + pixel
    at = ends[-1].start()
    return html[:at] + pixel + html[at:]


def tag_url(url: str, params: Mapping[str, str]) -> str:
    """`url` with UTM parameters appended; a link that carries any `utm_` parameter already was
    tagged by its author and is left exactly as it is, and so is every link when `params` is empty."""
    wanted = [(k, v) for k, v in params.items() if v]
    if not wanted:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 host: left as the author wrote it
        return url
    present = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if any(key.startswith("utm_") for key in present):
        return url
    query = f"{parts.query}&{urlencode(wanted)}" if parts.query else urlencode(wanted)
    return urlunsplit(parts._replace(query=query))
