"""Reading the parts of a report message defensively: any bytes in, text out, never an exception."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import Message

_ORIGINAL_TYPES = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})
_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$")
_TAGS = re.compile(r"<[^>]*>")


def parse(data: bytes) -> Message:
    """The message as the standard library reads it (compat32 never raises on bad structure)."""
    return email.message_from_bytes(data, policy=email.policy.compat32)


def decode(payload: bytes, charset: str | None) -> str:
    """Bytes as text in their declared charset; unknown or wrong charsets fall back to UTF-8/Latin-1."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return payload.decode("latin-1")


def part_text(part: Message) -> str:
    """A part's text: decoded leaves, or the raw fields of parsed `message/*` sub-parts."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(_sub_text(sub) for sub in payload if isinstance(sub, Message))
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return payload if isinstance(payload, str) else ""
    text = decode(raw, part.get_content_charset())
    if part.get_content_subtype() == "html":
        text = _TAGS.sub(" ", text)
    return text


def _sub_text(sub: Message) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in sub.items())
    body = sub.get_payload()
    return headers + "\n\n" + body if isinstance(body, str) else headers


def leaves(message: Message) -> Iterator[Message]:
    """Every part outside quoted original messages, in order (message/* report parts included whole)."""
    yield message
    payload = message.get_payload()
    if message.get_content_type() in _ORIGINAL_TYPES or not isinstance(payload, list):
        return
    if message.get_content_maintype() == "message" and not message.is_multipart():
        return
    for sub in payload:
        if isinstance(sub, Message):
            yield from leaves(sub)


def original_headers(message: Message) -> Message | None:
    """The headers of the message the report is about, when it attaches them."""
    for part in message.walk():
        if part.get_content_type() not in _ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        if isinstance(payload, str):
            return parse(payload.encode("utf-8", "replace"))
    return None


def quoted_message_id(message: Message, text: str) -> str | None:
    """The Message-ID of the bounced mail: from its attached headers, else quoted in the text."""
    original = original_headers(message)
    if original is not None:
        value = original.get("Message-ID")
        if isinstance(value, str) and "<" in value:
            return value.strip()
    found = _MESSAGE_ID.findall(text)
    own = str(message.get("Message-ID", "")).strip()
    for candidate in found:
        if candidate != own:
            return str(candidate)
    return None


def field_blocks(text: str, *, repeated: bool = False) -> list[list[tuple[str, str]]]:
    """`Name: value` blocks separated by blank lines (RFC 3464/5965 bodies), names lower-cased.

    Continuation lines are folded. Unless `repeated`, only the first occurrence of a name in a block
    is kept (a DSN field appears once; ARF repeats `Original-Rcpt-To`).
    """
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    folding = False
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, folding = [], False
            continue
        if line[0] in " \t" and folding:
            name, value = current[-1]
            current[-1] = (name, value + " " + line.strip())
            continue
        match = _FIELD.match(line)
        if match is None:
            folding = False
            continue
        name = match[1].lower()
        folding = repeated or all(seen != name for seen, _ in current)
        if folding:
            current.append((name, match[2].strip()))
    if current:
        blocks.append(current)
    return blocks
