"""What an SMTP reply means for a message: the one mapping from (reply code, enhanced status code, text)
to an `Outcome`.

This is the seam where the full bounce classifier (issue 6: provider wording, DSNs, complaints) will
plug in; until then it holds the rules every sender agrees on. RFC 3463 enhanced codes decide when
present; the reply code and the server's words when not.
"""

from __future__ import annotations

import re

from nurture.domain.messages.delivery import Outcome

_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")
# X.1.7 / X.1.8 are about the sender's address, not the recipient's: no reason to suppress anyone
_SENDER_ADDRESS = {"1.7", "1.8"}
# RFC 4954: authentication required (530), failed (535), needs encryption (538) — the sending side's
# configuration, not the message: retried, so mail waits for a fixed configuration instead of failing
_AUTHENTICATION = {530, 535, 538}
_NO_SUCH_USER = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|(?:mailbox|user|recipient)"
    r" (?:not found|does not exist)|(?:address|recipient|mailbox) (?:does not exist|unknown)"
    r"|unknown (?:recipient|mailbox|address)|invalid (?:recipient|mailbox)|not a valid (?:mailbox|user)"
    r"|user not local|account (?:has been )?disabled|no mailbox here",
    re.IGNORECASE,
)


def split_enhanced(text: str) -> tuple[str | None, str]:
    """(enhanced status code such as "5.1.1" or None, the rest of the text) from a reply's text, where
    servers put the code first (RFC 2034)."""
    found = _ENHANCED.match(text)
    if not found:
        return None, text.strip()
    return ".".join(found.groups()), text[found.end() :].strip()


def classify_reply(code: int, enhanced: str | None, text: str) -> Outcome:
    """The outcome of a message the server answered with `code` (and `enhanced`, `text`).

    2xx accepted; 4xx, authentication refusals (530, 535, 538) and anything unexpected retried later;
    5.1.x (the address) a hard bounce, except 5.1.7/5.1.8 (the sender); 5.7.x (policy, spam) failed but
    not suppressed; a 550/551/553 without an enhanced code that reads like "user unknown" a hard
    bounce; any other 5xx failed. RFC 5321's stock "mailbox unavailable" is not enough: servers send
    it for policy too, and a wrong hard bounce suppresses a good customer.
    """
    if 200 <= code < 300:
        return Outcome.ACCEPTED
    if not 500 <= code < 600 or code in _AUTHENTICATION:
        return Outcome.RETRY
    if enhanced is not None:
        subject_detail = enhanced.partition(".")[2]
        if subject_detail.startswith("1.") and subject_detail not in _SENDER_ADDRESS:
            return Outcome.HARD_BOUNCE
        if not subject_detail.startswith("0."):  # 5.7.x policy, 5.2.x mailbox, 5.3.x system, …
            return Outcome.FAILED
    if code in (550, 551, 553) and _NO_SUCH_USER.search(text):
        return Outcome.HARD_BOUNCE
    return Outcome.FAILED
