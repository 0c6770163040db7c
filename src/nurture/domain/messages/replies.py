"""What an SMTP reply means for a message: the one mapping from (reply code, enhanced status code, text)
to an `Outcome`.

This is the seam where the full bounce classifier (issue 6: provider wording, DSNs, complaints) will
plug in; until then it holds the rules every sender agrees on. RFC 3463 enhanced codes decide when
present; the reply code and the server's words when not.
"""

from __future__ import annotations

import re

from nurture.domain.bounces.classify import classify_reply as classify_bounce_reply
from nurture.domain.bounces.classify import outcome
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

    What only the sending side can judge comes first: 2xx accepted; authentication refusals (530, 535,
    538: our own configuration) retried; 5.1.7/5.1.8 (the sender's address) failed, never a hard
    bounce of the recipient. Everything else is the one bounce classifier's reading
    (`domain/bounces`, shared with delivery reports): 4xx and unknown answers retried, a bad address
    (5.1.x, "user unknown") a hard bounce, policy and other permanent failures failed, not suppressed.
    """
    if 200 <= code < 300:
        return Outcome.ACCEPTED
    if code in _AUTHENTICATION or not 400 <= code < 600:
        return Outcome.RETRY
    if enhanced is not None and enhanced.partition(".")[2] in _SENDER_ADDRESS:
        return Outcome.FAILED
    return outcome(classify_bounce_reply(code, enhanced, text))
