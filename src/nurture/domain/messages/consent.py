"""The consent ledger: every consent change made by a person (a form, a confirmation click, an
unsubscribe, the preference page) with when, where from (IP, user agent) and the exact words they were
shown, kept as text and SHA-256, so "what did they agree to?" has one answer per change.

The statements below are the words the pages show; the page renders the same string the ledger keeps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from nurture.domain.subscriptions import Status

MAX_USER_AGENT = 512
MAX_TEXT = 10_000


@dataclass(frozen=True)
class Proof:
    """Where a consent change came from: the request's address and agent, and the text shown."""

    ip: str | None = None
    user_agent: str | None = None
    text: str | None = None

    def clipped(self) -> Proof:
        agent = self.user_agent[:MAX_USER_AGENT] if self.user_agent else None
        return Proof(self.ip[:45] if self.ip else None, agent, self.text[:MAX_TEXT] if self.text else None)


@dataclass(frozen=True)
class ConsentRecord:
    id: str
    contact_id: str
    channel: str
    topic: str | None  # None: the channel as a whole
    status: Status
    source: str
    ip: str | None
    user_agent: str | None
    text: str | None
    text_hash: str | None
    message_id: str | None  # the send whose link led here, if one did
    occurred_at: datetime


def text_hash(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else None


def unsubscribe_statement(workspace: str, address: str | None, topic_label: str | None) -> str:
    what = f"“{topic_label}” emails" if topic_label else "all email"
    return f"Unsubscribe {address or 'this address'} from {what} from {workspace}."


ONE_CLICK_STATEMENT = "One-click unsubscribe from the mail program (RFC 8058): no page was shown."
MAILTO_STATEMENT = "Unsubscribe request sent by email to the List-Unsubscribe address: no page was shown."


def preferences_statement(workspace: str, address: str | None) -> str:
    return f"Choose which emails {workspace} sends to {address or 'this address'}."


def topic_choice(label: str, description: str | None, status: Status) -> str:
    mark = "[x]" if status is Status.SUBSCRIBED else "[ ]"
    return f"{mark} {label}" + (f": {description}" if description else "")


def confirm_statement(workspace: str, address: str | None, topic_label: str | None) -> str:
    what = f"“{topic_label}” emails" if topic_label else "email"
    return f"Yes, send {what} from {workspace} to {address or 'this address'}."
