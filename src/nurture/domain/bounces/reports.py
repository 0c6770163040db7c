"""Finding the recipients of a report: ARF (RFC 5965), DSN (RFC 3464), or the text of older bounces."""

from __future__ import annotations

import re
from email.message import Message

from nurture.domain.bounces import mime
from nurture.domain.bounces.findings import Finding, address_in, addresses_in

_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ARF_TYPES = frozenset({"message/feedback-report"})
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")

# Lines after which a bounce quotes the original message.
_ORIGINAL_MARKERS = re.compile(
    r"^\s*(-+ ?(below this line is a copy of the message|this is a copy of the message"
    r"|original message|the header of the original message|original message headers"
    r"|message header follows|returned message|unsent message below)"
    r"|content-type: message/rfc822|-+ ?(original|returned) (message|mail)[^\n]*-+\s*$"
    r"|-+ ?(this is a copy|the first \d+ lines))",
    re.IGNORECASE | re.MULTILINE,
)
_DELAY = re.compile(
    r"warning message only|has been delayed|will (be retried|continue to try|keep trying)"
    r"|not yet been delivered|delivery (is )?delayed|delayed mail|\(delay\)|still trying",
    re.IGNORECASE,
)
_COMPLAINT_SUBJECT = re.compile(r"complaint about message|abuse report|feedback report", re.IGNORECASE)


def arf_findings(message: Message) -> list[Finding]:
    """Recipients of an ARF report (or of a Hotmail-style complaint that only attaches the message)."""
    for part in mime.leaves(message):
        if part.get_content_type() not in _ARF_TYPES:
            continue
        fields = [pair for block in mime.field_blocks(mime.part_text(part), repeated=True) for pair in block]
        feedback_type = next((value for name, value in fields if name == "feedback-type"), "abuse")
        feedback_type = feedback_type.split(";")[0].strip() or "abuse"
        named = [value for name, value in fields if name in ("original-rcpt-to", "removal-recipient")]
        addresses = [address_in(value) for value in named] or [_original_recipient(message)]
        return [
            Finding(address=address, feedback_type=feedback_type, complaint=True) for address in addresses
        ]
    subject = str(message.get("Subject", ""))
    if _COMPLAINT_SUBJECT.search(subject) and mime.original_headers(message) is not None:
        return [Finding(address=_original_recipient(message), feedback_type="abuse", complaint=True)]
    if subject.strip().lower() == "unsubscribe" and "unsubscribe" in _notification_text(message).lower():
        return [
            Finding(address=address_in(str(message.get("From", ""))), feedback_type="opt-out", complaint=True)
        ]
    return []


def _original_recipient(message: Message) -> str | None:
    original = mime.original_headers(message)
    return address_in(str(original.get("To", ""))) if original is not None else None


def dsn_findings(message: Message) -> list[Finding]:
    """Per-recipient blocks of `message/delivery-status` parts (or DSN fields pasted into the text)."""
    context = _notification_text(message)
    texts = [mime.part_text(part) for part in mime.leaves(message) if part.get_content_type() in _DSN_TYPES]
    if not texts and re.search(r"^final-recipient:", context, re.IGNORECASE | re.MULTILINE):
        texts = [context]
    findings: list[Finding] = []
    for text in texts:
        for pairs in mime.field_blocks(text):
            block = dict(pairs)
            if not any(block.get(name) for name in _RECIPIENT_FIELDS):
                continue
            findings.append(
                Finding(
                    address=_dsn_address(block) or _original_recipient(message),
                    action=(block.get("action") or "").split()[0].lower() or None
                    if block.get("action")
                    else None,
                    status=_status_field(block.get("status", "")),
                    diagnostic=_strip_type(block.get("diagnostic-code", "")) or _status_comment(block),
                    context=context,
                )
            )
    if len(findings) > 1:
        # the report's text speaks of several recipients: read only what it says after each address
        others = [f.address for f in findings if f.address]
        for finding in findings:
            finding.context = _near(context, finding.address, others)
    return findings


_PLAIN_ADDRESS = re.compile(r"[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_QUOTED_ADDRESS = re.compile(r'"[^"]+"@\S+')


def _dsn_address(block: dict[str, str]) -> str | None:
    """The first recipient field that holds a mail address (`rfc822; "quoted..local"@example.org`)."""
    for name in _RECIPIENT_FIELDS:
        value = _strip_type(block.get(name, "")).strip().strip("<>").strip()
        if re.fullmatch(r"[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value) or re.fullmatch(
            r'"[^"]+"@\S+', value
        ):
            return value.lower()
        found = address_in(value)
        if found and not value.startswith("@"):
            return found
    return None


def _near(text: str, address: str | None, others: list[str]) -> str:
    """The text from `address` up to the next other recipient's address (at most 600 characters)."""
    lowered = text.lower()
    at = lowered.find(address) if address else -1
    if at < 0 or address is None:
        return ""
    ends = [at + 600] + [lowered.find(o, at + 1) for o in others if o != address]
    return text[at : min(end for end in ends if end > at)]


def _status_comment(block: dict[str, str]) -> str:
    """`Status: 4.0.0 (cat.example.net: host name lookup failure)` → the words in parentheses."""
    match = re.search(r"\((.+)\)", block.get("status", ""))
    return match[1] if match else ""


def _action(value: str) -> str | None:
    words = value.split()
    return words[0].lower() if words else None


def _status_field(value: str) -> str | None:
    match = re.match(r"\s*([245])\.(\d{1,3})\.(\d{1,3})", value)
    return f"{match[1]}.{int(match[2])}.{int(match[3])}" if match else None


def _strip_type(value: str) -> str:
    """`smtp; 550 …` → `550 …`."""
    return value.split(";", 1)[1].strip() if ";" in value[:16] else value


def _notification_text(message: Message) -> str:
    """The human-readable text of the report, cut where the original message is quoted."""
    texts = [
        mime.part_text(part)
        for part in mime.leaves(message)
        if part.get_content_type() != "text/rfc822-headers"
        and (
            part.get_content_maintype() == "text"
            # a multipart whose boundary is missing or broken keeps its whole body as one string
            or (part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str))
        )
    ]
    text = "\n".join(texts)
    marker = _ORIGINAL_MARKERS.search(text)
    return text[: marker.start()] if marker else text


# A line that names a recipient: `<a@b>:` (qmail, Yahoo), `  a@b` (Exim, Gmail), `a@b: reason`,
# `<a@b>... reason` (Sendmail), `RCPT TO:<a@b>` in a transcript.
_RECIPIENT_LINE = re.compile(
    r"^\s*<?(?P<address>[^\s<>()\"';,:@]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?"
    r"(?P<rest>\s*(?::|\.\.\.|\(|<|$).*)$",
    re.MULTILINE,
)


def text_findings(message: Message) -> list[Finding]:
    """Recipients of a bounce without DSN fields: the address lines of its text and what follows each."""
    text = _notification_text(message)
    delayed = bool(_DELAY.search(text) or _DELAY.search(str(message.get("Subject", ""))))
    action = "delayed" if delayed else "failed"
    own = set(addresses_in(str(message.get("From", ""))) + addresses_in(str(message.get("To", ""))))
    lines = list(_RECIPIENT_LINE.finditer(text))
    findings: list[Finding] = []
    seen: set[str] = set()
    for index, match in enumerate(lines):
        address = match["address"].lower()
        if address in own or address in seen:
            continue
        following = [line for line in lines[index + 1 :] if line["address"].lower() != address]
        end = following[0].start() if following else len(text)
        diagnostic = match["rest"].lstrip(":. ") + "\n" + text[match.end() : end]
        seen.add(address)
        findings.append(Finding(address=address, action=action, diagnostic=diagnostic, context=text))
    if findings:
        return findings
    failed = addresses_in(str(message.get("X-Failed-Recipients", "")))
    if failed:
        return [Finding(address=address, action=action, diagnostic=text, context=text) for address in failed]
    return _transcript_findings(text)


_TRANSCRIPT_RCPT = re.compile(r"RCPT TO:\s*<([^<>\s]+@[^<>\s]+)>(?P<after>(?:.*\n){0,8})", re.IGNORECASE)
_TRANSCRIPT_ERROR = re.compile(r"^.*\b[45]\d\d[ -].*$", re.MULTILINE)


def _transcript_findings(text: str) -> list[Finding]:
    """An SMTP session transcript (Postfix's "errors from" report): the error after each RCPT TO."""
    findings = []
    for match in _TRANSCRIPT_RCPT.finditer(text):
        error = _TRANSCRIPT_ERROR.search(match["after"])
        if error:
            findings.append(
                Finding(address=match[1].lower(), action="failed", diagnostic=error[0], context=text)
            )
    return findings


def unquoted(message: Message) -> Message | None:
    """A report forwarded as quoted text (`> ` lines), as a message of its own, or None."""
    text = _notification_text(message)
    lines = text.splitlines()
    quoted = [line for line in lines if line.startswith(">")]
    if len(quoted) < 5 or len(quoted) * 2 < len(lines):
        return None
    body = "\n".join(line[1:].removeprefix(" ") for line in quoted)
    return mime.parse(b"Content-Type: text/plain; charset=utf-8\n\n" + body.encode("utf-8", "replace"))


def original_recipient_findings(message: Message) -> list[Finding]:
    """A delivery report that lists no recipient (Postfix's "Delivery report unavailable"): the
    addressee of the returned message is the one it is about; its reason stays undefined."""
    if not (_is_delivery_report(message) and (address := _original_recipient(message))):
        return []
    return [Finding(address=address, action="failed", context=_notification_text(message))]


def _is_delivery_report(message: Message) -> bool:
    return any(part.get_content_type() in _DSN_TYPES for part in mime.leaves(message))
