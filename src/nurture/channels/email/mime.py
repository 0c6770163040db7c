"""The bytes of an email, built by hand on the hot path.

The standard library's `EmailMessage` builds about 670 messages/s per core (its policy machinery
re-parses every header it is given); a send needs one fixed shape only, so this writes it directly
with the standard library's C encoders (`binascii` quoted-printable and base64) and the header
helpers beside it. Tests parse what it writes with `email` (policy=default) and compare it with the
input, on random unicode too.

Shape: `multipart/alternative` with text/plain then text/html (a single text/plain part when there is
no HTML), UTF-8, each part quoted-printable or base64, whichever is smaller; CRLF line ends, lines of
at most 78 characters in headers where spaces allow and 76 in bodies.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache

from nurture.channels.email.headers import address, domain_of, extra, field_name, mailbox, unstructured
from nurture.channels.email.signing import dkim_signature
from nurture.domain.messages.delivery import DkimKey, OutgoingEmail

CRLF = b"\r\n"
# "=_" never occurs in quoted-printable ("=" is always followed by hex digits or a line end) nor in
# base64, so one constant boundary is safe for every message (and the output is deterministic)
BOUNDARY = b"=_nurture_alt"
_MULTIPART = b' multipart/alternative; boundary="' + BOUNDARY + b'"\r\n'
_ENCODING = b"\r\nContent-Transfer-Encoding: "
_TEXT_PART = b"--" + BOUNDARY + b'\r\nContent-Type: text/plain; charset="utf-8"' + _ENCODING
_HTML_PART = b"\r\n--" + BOUNDARY + b'\r\nContent-Type: text/html; charset="utf-8"' + _ENCODING
_CLOSE = b"\r\n--" + BOUNDARY + b"--\r\n"
_QP, _B64 = b"quoted-printable", b"base64"
_ESCAPED_IN_QP = bytes(range(0x80, 0x100)) + b"="
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_B64_LINE = 76
_B64_CHUNK = _B64_LINE // 4 * 3
_RESERVED = frozenset(
    {"date", "from", "to", "reply-to", "subject", "message-id", "mime-version", "content-type"}
    | {"content-transfer-encoding", "dkim-signature"}
)


def build_message(email: OutgoingEmail, *, date: datetime, dkim: DkimKey | None) -> bytes:
    """The RFC 5322 bytes of `email` as it leaves: headers (signed with `dkim` when given), then the
    body. Raises ValueError for what cannot be written (an address that is not ASCII, a naive date,
    a reserved or malformed extra header)."""
    if date.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    headers: list[tuple[bytes, bytes]] = [
        (b"Date", b" " + format_datetime(date).encode("ascii") + CRLF),
        (b"From", mailbox(email.from_name, email.from_email)),
        (b"To", mailbox(None, email.to)),
    ]
    if email.reply_to:
        headers.append((b"Reply-To", mailbox(None, email.reply_to)))
    headers.append((b"Subject", unstructured("Subject", email.subject)))
    headers.append((b"Message-ID", _message_id(email.message_id, email.from_email)))
    headers.append((b"MIME-Version", b" 1.0\r\n"))
    for name, value in email.headers:
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name!r} is written by the builder; it cannot be an extra header")
        headers.append((field_name(name), extra(name, value)))
    text = _part_body(email.text)
    if email.html is None:
        headers.append((b"Content-Type", b' text/plain; charset="utf-8"\r\n'))
        headers.append((b"Content-Transfer-Encoding", b" " + text[0] + CRLF))
        body = text[1]
    else:
        headers.append((b"Content-Type", _MULTIPART))
        html = _part_body(email.html)
        # the CRLF before each delimiter belongs to the delimiter, not to the part above it
        body = b"".join(
            (_TEXT_PART, text[0], CRLF + CRLF, text[1], _HTML_PART, html[0], CRLF + CRLF, html[1], _CLOSE)
        )
    head = b"".join(name + b":" + value for name, value in headers)
    if dkim is not None:
        head = dkim_signature(headers, body, dkim, timestamp=int(date.timestamp())) + head
    return head + CRLF + body


@lru_cache(maxsize=1024)
def _id_domain(from_email: str) -> str:
    return domain_of(from_email)


def _message_id(send_id: str, from_email: str) -> bytes:
    if not _DOT_ATOM.fullmatch(send_id):
        raise ValueError(f"message id {send_id!r} cannot be the left part of a Message-ID")
    return f" <{send_id}@{_id_domain(from_email)}>\r\n".encode("ascii")


def _part_body(text: str) -> tuple[bytes, bytes]:
    """(transfer encoding, encoded body ending in CRLF): quoted-printable unless base64 is smaller.
    Quoted-printable text without a final line break ends in a soft one, so it decodes exactly."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8", "replace")
    escaped = len(data) - len(data.translate(None, _ESCAPED_IN_QP))
    # quoted-printable: 3 bytes per escaped byte plus a soft break per 75; base64: 4 per 3, CRLF per 76
    if (len(data) + 2 * escaped) * 78 // 75 <= (len(data) + 2) // 3 * 4 * 78 // 76:
        encoded = binascii.b2a_qp(data, istext=True).replace(b"\n", CRLF)
        return _QP, encoded if encoded.endswith(CRLF) or not encoded else encoded + b"=\r\n"
    lines = [binascii.b2a_base64(data[i : i + _B64_CHUNK]) for i in range(0, len(data), _B64_CHUNK)]
    return _B64, b"".join(lines).replace(b"\n", CRLF)


@dataclass(frozen=True)
class Envelope:
    """A built message and its SMTP envelope: the bounce address (MAIL FROM) and the one recipient."""

    mail_from: str
    rcpt_to: str
    data: bytes


def build_envelope(email: OutgoingEmail, *, date: datetime, dkim: DkimKey | None) -> Envelope:
    """`build_message` with the envelope addresses it is sent under (ASCII, IDNA domains)."""
    data = build_message(email, date=date, dkim=dkim)
    return Envelope(address(email.from_email), address(email.to), data)
