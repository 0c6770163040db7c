"""Header fields written by hand: folding, RFC 2047 encoded-words and addresses.

Each function returns a field's value as the bytes after the colon (a leading space, folded lines
joined by CRLF SP, a final CRLF): the form dkimpy hashes and the message is joined from. Values that
are plain printable ASCII are written as they are, folded at spaces; anything else (non-ASCII, control
characters, a leading space, text that looks like an encoded-word) is written as encoded-words, so no
value can ever break out of its field.
"""

from __future__ import annotations

import binascii
import re
from functools import lru_cache

_CRLF_SP = "\r\n "
_SOFT_WIDTH = 78  # RFC 5322 SHOULD; the MUST is 998
_HARD_WIDTH = 998
_PLAIN = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")  # words separated by single spaces
_PRINTABLE = re.compile(r"[\t\x20-\x7e]*")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
# characters a Q-encoded word may carry as themselves (RFC 2047 section 5, rule 3, which phrases need)
_Q_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")
_Q_UNSAFE_BYTES = bytes(b for b in range(256) if b not in _Q_SAFE and b != 0x20)
_WORD_CHARS = 75 - len("=?utf-8?q??=")  # encoded text per encoded-word
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_ADDRESS = re.compile(r"[\x21-\x7e]+@[\x21-\x7e]+")
_NOT_IN_ADDRESS = re.compile(r'[\s<>(),;:\\"\[\]]')


def field_name(name: str) -> bytes:
    """A header field name, checked: printable ASCII without a colon."""
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"header name {name!r} is not printable ASCII without a colon")
    return name.encode("ascii")


def unstructured(name: str, value: str) -> bytes:
    """An unstructured field's value (Subject, or an extra header): plain and folded when it can be,
    encoded-words otherwise."""
    used = len(name) + 2
    if _PLAIN.fullmatch(value) and "=?" not in value:
        folded = _fold(value, used)
        if folded is not None:
            return b" " + folded.encode("ascii") + b"\r\n"
    return b" " + encoded_words(value, used).encode("ascii") + b"\r\n"


def extra(name: str, value: str) -> bytes:
    """An extra header's value (List-Unsubscribe, Feedback-ID, …). Printable ASCII is written as it is,
    whitespace runs collapsed, folded at spaces (structured headers may fold there, and must not be
    encoded); anything else (non-ASCII, line breaks) as encoded-words. A word too long for one line
    (998) cannot be written: ValueError."""
    if _PRINTABLE.fullmatch(value):
        folded = _fold(" ".join(value.split()), len(name) + 2)
        if folded is None:
            raise ValueError(f"header {name!r} has a word longer than a line may be (998 characters)")
        return b" " + folded.encode("ascii") + b"\r\n"
    return b" " + encoded_words(value, len(name) + 2).encode("ascii") + b"\r\n"


def _fold(value: str, used: int) -> str | None:
    """`value` (words separated by single spaces) folded before spaces into lines of at most 78
    characters where the words allow it; None when a word is too long for the 998 limit."""
    if used + len(value) <= _SOFT_WIDTH:
        return value
    lines: list[str] = []
    start, room = 0, _SOFT_WIDTH - used
    while len(value) - start > room:
        cut = value.rfind(" ", start + 1, start + room + 1)
        if cut < 0:  # a word longer than the line: break after it
            cut = value.find(" ", start + room + 1)
            if cut < 0:
                break
        lines.append(value[start:cut])
        start, room = cut, _SOFT_WIDTH
    lines.append(value[start:])
    if used + len(lines[0]) > _HARD_WIDTH or max(len(line) for line in lines) > _HARD_WIDTH:
        return None
    return "\r\n".join(lines)  # each continuation line starts with the space it was cut before


def encoded_words(text: str, used: int = 0) -> str:
    """`text` as RFC 2047 UTF-8 encoded-words of at most 75 characters, one per line (readers ignore
    the folding between encoded-words); the first is shortened to fit beside `used` characters. Q
    encoding when it is shorter, else B; a character's bytes never straddle two words."""
    data = text.encode("utf-8", "replace")
    unsafe = len(data) - len(data.translate(None, _Q_UNSAFE_BYTES))
    first = max(_WORD_CHARS // 2, min(_WORD_CHARS, _SOFT_WIDTH - used - len("=?utf-8?q??=")))
    if len(data) + 2 * unsafe <= (len(data) + 2) // 3 * 4:
        words = _q_words(text, first)
    else:
        words = _b_words(text, first)
    return _CRLF_SP.join(words) if words else "=?utf-8?q??="


def _q_words(text: str, first: int) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    size, room = 0, first
    for char in text:
        if char == " ":
            piece = "_"
        else:
            raw = char.encode("utf-8", "replace")
            piece = char if len(raw) == 1 and raw[0] in _Q_SAFE else "".join(f"={b:02X}" for b in raw)
        if size + len(piece) > room:
            words.append("=?utf-8?q?" + "".join(current) + "?=")
            current, size, room = [], 0, _WORD_CHARS
        current.append(piece)
        size += len(piece)
    if current:
        words.append("=?utf-8?q?" + "".join(current) + "?=")
    return words


def _b_words(text: str, first: int) -> list[str]:
    words: list[str] = []
    chunk = bytearray()
    limit = first // 4 * 3  # raw bytes whose base64 fits the word
    for char in text:
        raw = char.encode("utf-8", "replace")
        if len(chunk) + len(raw) > limit:
            words.append("=?utf-8?b?" + binascii.b2a_base64(chunk, newline=False).decode("ascii") + "?=")
            chunk.clear()
            limit = _WORD_CHARS // 4 * 3
        chunk += raw
    if chunk:
        words.append("=?utf-8?b?" + binascii.b2a_base64(chunk, newline=False).decode("ascii") + "?=")
    return words


def address(addr: str) -> str:
    """An addr-spec ready for a header and the SMTP envelope: an internationalised domain becomes its
    ASCII (IDNA) form; anything else that is not a plain ASCII address is refused."""
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{addr!r} is not an email address")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{addr!r} has a domain that cannot be written in ASCII") from None
    result = f"{local}@{domain}"
    if not _ADDRESS.fullmatch(result) or _NOT_IN_ADDRESS.search(result):
        raise ValueError(f"{addr!r} is not an ASCII email address (SMTPUTF8 is not supported)")
    return result


@lru_cache(maxsize=1024)
def mailbox(name: str | None, addr: str) -> bytes:
    """A From/Reply-To/To value: `Name <addr>`, the name as an atom phrase, a quoted string or
    encoded-words. Whitespace in the name is collapsed to single spaces and trimmed, as readers show
    it (a line break is refused by some). Cached: a sender's From line is the same for every message."""
    spec = address(addr)
    if name:
        name = " ".join(name.split())
    if not name:
        return f" {spec}\r\n".encode("ascii")
    plain = len(name) <= _SOFT_WIDTH and _PLAIN.fullmatch(name) is not None and "=?" not in name
    if plain and _ATEXT.fullmatch(name):
        phrase = name
    elif plain:
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = encoded_words(name)
    return f" {phrase}{_CRLF_SP if len(phrase) + len(spec) > 60 else ' '}<{spec}>\r\n".encode("ascii")


def domain_of(addr: str) -> str:
    """The domain of an address, in ASCII (for the Message-ID)."""
    return address(addr).rpartition("@")[2].lower()
