"""What a report says about one recipient before it is classified, and how that becomes a `Recipient`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from nurture.domain.bounces.model import HARD_REASONS, Kind, Recipient
from nurture.domain.bounces.reasons import (
    adjust_for_command,
    find_reply_code,
    find_status,
    reason_for,
    smtp_command,
)

_ADDRESS = re.compile(r"[^\s<>()\[\]\"';,:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|[^\s<>()\[\]\"';,:]+@\[[\d.]+\]")
_DELIVERED_ACTIONS = frozenset({"delivered", "relayed", "expanded"})
_SPACES = re.compile(r"\s+")
# Some reporters (Amazon SES) put the RFC 3463 name of their own code before the remote answer
# ("5.1.0 - Unknown address error 550-'…'"): a code's name, not the remote server's words.
_LABEL = re.compile(r"^[245]\.\d{1,3}\.\d{1,3} - [A-Za-z ]+?(?=[245]\d\d[ -])")

# The standard code a reason implies, for reports that carry none (qmail, old Exim, some Gmail notes).
_IMPLIED_STATUS = {
    "userunknown": "5.1.1",
    "hostunknown": "5.1.2",
    "hasmoved": "5.1.6",
    "notaccept": "5.1.10",
    "mailboxfull": "5.2.2",
    "exceedlimit": "5.2.3",
    "mesgtoobig": "5.3.4",
    "suspend": "5.2.1",
    "requireptr": "5.7.25",
    "authfailure": "5.7.26",
    "norelaying": "5.7.1",
    "expired": "4.4.7",
}


@dataclass
class Finding:
    """One recipient as read from a report, not yet judged."""

    address: str | None
    action: str | None = None  # failed | delayed | delivered | relayed | expanded
    status: str | None = None
    reply_code: str | None = None
    diagnostic: str = ""
    context: str = ""  # the report's human-readable text, read when the diagnostic names no reason
    feedback_type: str | None = None  # set for complaints
    complaint: bool = False
    hint: str | None = None  # the reason a provider's own label gives, used when the text names none


def address_in(text: str) -> str | None:
    """The first mail address in a field value such as `rfc822; <a@example.com>`."""
    match = _ADDRESS.search(text)
    return match[0].strip(".").lower() if match else None


def addresses_in(text: str) -> list[str]:
    return [found.strip(".").lower() for found in _ADDRESS.findall(text)]


def judge(finding: Finding, message_id: str | None) -> Recipient:
    """Classify one finding: complaints, deliveries, then the failure's reason and so its kind."""
    quoted = _SPACES.sub(" ", finding.diagnostic).strip()
    diagnostic = _LABEL.sub("", quoted)
    # the remote server's own code (the last one quoted) is more precise than the reporting MTA's summary
    status = find_status(quoted, last=True) or finding.status
    reply_code = finding.reply_code or find_reply_code(diagnostic)
    base = Recipient(
        address=finding.address,
        kind=Kind.UNKNOWN,
        reason="",
        diagnostic=diagnostic or None,
        action=finding.action,
        message_id=message_id,
    )
    if finding.complaint:
        feedback_type = (finding.feedback_type or "abuse").lower()
        return replace(base, kind=Kind.COMPLAINT, reason="feedback", feedback_type=feedback_type)
    action = (finding.action or "").lower()
    if action in _DELIVERED_ACTIONS or (status or "").startswith("2."):
        return replace(base, kind=Kind.DELIVERED, reason="delivered", status=status, reply_code=reply_code)
    context = _SPACES.sub(" ", finding.context)
    reason = reason_for(status, reply_code, diagnostic, context if finding.hint is None else "")
    if reason == "undefined" and finding.hint:
        reason = finding.hint
    reason = adjust_for_command(reason, smtp_command(finding.diagnostic, _near(finding)), status, diagnostic)
    if action == "delayed" and reason not in HARD_REASONS and reason in ("undefined", "systemerror"):
        reason = "expired"
    if status is None and reason in _IMPLIED_STATUS:
        implied = _IMPLIED_STATUS[reason]
        temporary = action == "delayed" or (reply_code or "").startswith("4")
        status = ("4" if temporary else implied[0]) + implied[1:]
    kind = Kind.HARD if reason in HARD_REASONS else Kind.SOFT
    return replace(base, kind=kind, reason=reason, status=status, reply_code=reply_code)


def _near(finding: Finding) -> str:
    """The part of the report's text about this recipient (from its address on, a few lines)."""
    if not finding.address or not finding.context:
        return ""
    at = finding.context.lower().find(finding.address)
    return finding.context[at : at + 800] if at >= 0 else ""
