"""The one bounce classifier: reports (DSN, ARF, older bounce mail, SES notifications) and SMTP replies.

Every bounce path uses it: SMTP answers at send time (`classify_reply`), the ESP webhooks and
inbound report mail (`classify_report`, `classify_finding`).
"""

from __future__ import annotations

import json
import re
from email.message import Message

from flufl.bounce import all_failures

from nurture.domain.bounces import mime
from nurture.domain.bounces.findings import Finding, judge
from nurture.domain.bounces.model import HARD_REASONS, Classification, Kind, Recipient
from nurture.domain.bounces.reasons import find_reply_code, find_status, reason_for
from nurture.domain.bounces.reports import (
    arf_findings,
    dsn_findings,
    original_recipient_findings,
    text_findings,
    unquoted,
)
from nurture.domain.bounces.ses import ses_findings, ses_message_id
from nurture.domain.messages.delivery import Outcome

MAX_REPORT_BYTES = 10 * 1024 * 1024
_WRAPPED = re.compile(r"!\r?\n ")  # mailers fold lines over 990 octets as `!` + newline + space
_TIMEOUT = re.compile(r"timed? ?out|timeout", re.IGNORECASE)


def classify_report(data: bytes) -> list[Recipient]:
    """Each recipient of a report, in the order the report lists them; never raises.

    A report that cannot be read, or names no recipient, gives one recipient of kind `unknown` whose
    `reason` says why.
    """
    if not data.strip():
        return [_unknown("the report is empty")]
    if len(data) > MAX_REPORT_BYTES:
        return [_unknown(f"the report is larger than {MAX_REPORT_BYTES} bytes")]
    try:
        message = mime.parse(data)
        return _classify(message)
    except Exception as exc:  # untrusted bytes through the stdlib parser and flufl's detectors: never crash
        return [_unknown(f"the report could not be read: {type(exc).__name__}: {exc}")]


def _classify(message: Message) -> list[Recipient]:
    if not message.keys():
        return [_unknown("the report has no mail headers")]
    text = "\n".join(mime.part_text(part) for part in mime.leaves(message) if not part.is_multipart())
    ses = _ses_notification(message, text)
    if ses is not None:
        findings = ses_findings(ses)
        message_id = ses_message_id(ses)
    else:
        findings = arf_findings(message) or dsn_findings(message) or text_findings(message)
        forwarded = None if findings else unquoted(message)
        if forwarded is not None:
            findings = dsn_findings(forwarded) or text_findings(forwarded)
        if not findings:
            findings = _flufl_findings(message) or original_recipient_findings(message)
        message_id = mime.quoted_message_id(message, text)
    if not findings:
        return [_unknown("the report names no recipient")]
    return [judge(finding, message_id) for finding in findings]


def _ses_notification(message: Message, text: str) -> dict[str, object] | None:
    """An SES notification mailed by SNS: the body is the JSON document itself."""
    body = _WRAPPED.sub("", text).strip()
    if not body.startswith("{") or ("notificationType" not in body and "eventType" not in body):
        return None
    try:
        document = json.loads(body[: body.rfind("}") + 1])
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        try:
            document = json.loads(document["Message"])
        except ValueError:
            return None
    return document if isinstance(document, dict) else None


def _flufl_findings(message: Message) -> list[Finding]:
    """Recipients flufl.bounce's detectors find in formats our own readers do not know."""
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # its detectors index into headers that may be missing (no From: → IndexError)
        return []
    context = "\n".join(mime.part_text(part) for part in mime.leaves(message) if not part.is_multipart())
    findings = [
        Finding(address=address.decode("utf-8", "replace").lower(), action="delayed", context=context)
        for address in sorted(temporary)
    ]
    findings += [
        Finding(address=address.decode("utf-8", "replace").lower(), action="failed", context=context)
        for address in sorted(permanent)
    ]
    return [finding for finding in findings if finding.address and "@" in finding.address]


def _unknown(reason: str) -> Recipient:
    return Recipient(address=None, kind=Kind.UNKNOWN, reason=reason)


def classify_reply(reply_code: int | None, enhanced: str | None, text: str) -> Classification:
    """One SMTP answer at send time.

    4xx and timeouts (no reply code) → soft, retry; 5.1.x bad addresses → hard (suppress); 5.7.x and
    other permanent failures that are not the address's fault → soft, failed but not suppressed.
    """
    code = str(reply_code) if reply_code is not None else find_reply_code(text)
    status = enhanced or find_status(text)
    if (code and code.startswith("2")) or (status or "").startswith("2."):
        return Classification(Kind.DELIVERED, "delivered", status, code)
    temporary = code is None or code.startswith("4") or (status or "").startswith("4.")
    if code is None and not status:
        reason = "expired" if _TIMEOUT.search(text) else "networkerror"
        return Classification(Kind.SOFT, reason, None, None, retry=True)
    reason = reason_for(status, code, text)
    if temporary and reason in HARD_REASONS and not (status or "").startswith("5."):
        # a 4xx "user unknown" is a server not sure yet (greylisting, directory lag): retry first
        return Classification(Kind.SOFT, reason, status, code, retry=True)
    kind = Kind.HARD if reason in HARD_REASONS else Kind.SOFT
    return Classification(kind, reason, status, code, retry=temporary)


def outcome(classification: Classification) -> Outcome:
    """What the dispatcher does with a send after this answer: accepted, retry, hard bounce (suppress)
    or failed (permanent, but not the address's fault: not suppressed)."""
    if classification.kind is Kind.DELIVERED:
        return Outcome.ACCEPTED
    if classification.retry:
        return Outcome.RETRY
    return Outcome.HARD_BOUNCE if classification.kind is Kind.HARD else Outcome.FAILED
