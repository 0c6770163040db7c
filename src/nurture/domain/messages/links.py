"""Signed links in messages: open pixel, click redirect, unsubscribe, preference page, double opt-in
confirmation, and the address of the mailto unsubscribe.

A token is its fields joined by dots, then a MAC: the first 16 bytes of HMAC-SHA256 over the link's
purpose and its fields, with a key derived from NURTURE_SECRET_KEY, in unpadded base64url. The purpose
is inside the MAC, so a token made for one kind of link is refused by every other. A click token
carries the exact URL the message contained (base64url), so the redirect can only lead where the
message led; a tampered or foreign token is `NotFound` (404), never a redirect.

    open         /t/o/{workspace}.{send}.{mac}.gif
    click        /t/c/{workspace}.{send}.{link index}.{url}.{mac}
    unsubscribe  /u/{workspace}.{send}.{contact}.{mac}
    preferences  /p/{workspace}.{contact}.{mac}
    confirm      /c/{workspace}.{send}.{mac}               (double opt-in; the send is the confirmation)
    mailto       unsubscribe+{send}{mac of 64 bits, base32}@{sender domain}   (51 characters: local
                 parts may have 64; lower case, because mail systems may fold case)

Unsubscribe tokens name the contact too, so the link keeps working when the outbox row is gone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from nurture.domain.errors import Invalid, NotFound

KEY_INFO = b"nurture/links/v1"
MAC_BYTES = 16
MAILTO_MAC_BYTES = 8
MAILTO_PREFIX = "unsubscribe+"
MAX_TOKEN = 8192
FORM_MAX_AGE = timedelta(hours=24)
FORM_SKEW = timedelta(minutes=5)

OPEN_PATH = "/t/o/"
CLICK_PATH = "/t/c/"
UNSUBSCRIBE_PATH = "/u/"
PREFERENCES_PATH = "/p/"
CONFIRM_PATH = "/c/"
OWN_PATHS = (OPEN_PATH, CLICK_PATH, UNSUBSCRIBE_PATH, PREFERENCES_PATH, CONFIRM_PATH)

_FIELD = re.compile(r"^[A-Za-z0-9_-]+$")
_MAILTO_MAC_CHARS = 13  # 64 bits in base32


class Purpose(StrEnum):
    OPEN = "open"
    CLICK = "click"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    CONFIRM = "confirm"
    MAILTO = "mailto"
    FORM = "form"


def derive_key(secret: str) -> bytes:
    """The links' key, derived from the server's secret so the secret itself signs nothing else."""
    if not secret:
        raise ValueError("the secret key is empty")
    return hmac.new(secret.encode(), KEY_INFO, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BadLink(NotFound):
    """A token that was not made by this server for this kind of link (tampered, cut, foreign)."""

    def __init__(self) -> None:
        super().__init__("this link is not valid: open it again from the message, in full")


@dataclass(frozen=True)
class MessageLink:
    """An open pixel or a double opt-in confirmation: which send of which workspace."""

    workspace_id: str
    message_id: str


@dataclass(frozen=True)
class ClickLink:
    workspace_id: str
    message_id: str
    index: int  # the link's position among the message's links
    url: str  # exactly as the message contained it (with UTM tags if they were added)


@dataclass(frozen=True)
class UnsubscribeLink:
    workspace_id: str
    message_id: str
    contact_id: str


@dataclass(frozen=True)
class PreferencesLink:
    workspace_id: str
    contact_id: str


class Links:
    """Makes and reads the signed links; `public_url` is where the server answers them."""

    def __init__(self, public_url: str, key: bytes) -> None:
        self.public_url = public_url.rstrip("/")
        self._key = key

    # signing

    def _mac(self, purpose: Purpose, fields: tuple[str, ...], size: int = MAC_BYTES) -> bytes:
        message = "\x1f".join((purpose.value, *fields)).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:size]

    def sign(self, purpose: Purpose, *fields: str) -> str:
        for value in fields:
            if not _FIELD.fullmatch(value):
                raise ValueError(f"a token field must be URL-safe and non-empty: {value!r}")
        return ".".join((*fields, _b64(self._mac(purpose, fields))))

    def verify(self, purpose: Purpose, token: str, count: int) -> tuple[str, ...]:
        """The `count` fields of a token made for `purpose`, or BadLink."""
        if len(token) > MAX_TOKEN:
            raise BadLink
        *fields, mac = token.split(".")
        if len(fields) != count or not all(_FIELD.fullmatch(f) for f in fields):
            raise BadLink
        # compared as text: base64 decoding ignores the spare bits of the last character, and a
        # token that differs from the one made is never accepted
        if not hmac.compare_digest(mac.encode(), _b64(self._mac(purpose, tuple(fields))).encode()):
            raise BadLink
        return tuple(fields)

    # URLs

    def open_url(self, workspace_id: str, message_id: str) -> str:
        return f"{self.public_url}{OPEN_PATH}{self.sign(Purpose.OPEN, workspace_id, message_id)}.gif"

    def click_url(self, workspace_id: str, message_id: str, index: int, url: str) -> str:
        token = self.sign(Purpose.CLICK, workspace_id, message_id, str(index), _b64(url.encode()))
        return f"{self.public_url}{CLICK_PATH}{token}"

    def unsubscribe_url(self, workspace_id: str, message_id: str, contact_id: str) -> str:
        token = self.sign(Purpose.UNSUBSCRIBE, workspace_id, message_id, contact_id)
        return f"{self.public_url}{UNSUBSCRIBE_PATH}{token}"

    def preferences_url(self, workspace_id: str, contact_id: str) -> str:
        return (
            f"{self.public_url}{PREFERENCES_PATH}{self.sign(Purpose.PREFERENCES, workspace_id, contact_id)}"
        )

    def confirm_url(self, workspace_id: str, message_id: str) -> str:
        return f"{self.public_url}{CONFIRM_PATH}{self.sign(Purpose.CONFIRM, workspace_id, message_id)}"

    def is_own(self, url: str) -> bool:
        """A link this server answers (unsubscribe, preferences, confirmation, tracking): never
        wrapped in a click redirect."""
        return any(url.startswith(self.public_url + path) for path in OWN_PATHS)

    # reading

    def read_open(self, token: str) -> MessageLink:
        workspace_id, message_id = self.verify(Purpose.OPEN, token.removesuffix(".gif"), 2)
        return MessageLink(workspace_id, message_id)

    def read_click(self, token: str) -> ClickLink:
        workspace_id, message_id, index, encoded = self.verify(Purpose.CLICK, token, 4)
        try:
            url = _unb64(encoded).decode()
        except (binascii.Error, ValueError):  # signed by us, so this cannot happen; refuse all the same
            raise BadLink from None
        if not index.isdigit():
            raise BadLink
        return ClickLink(workspace_id, message_id, int(index), url)

    def read_unsubscribe(self, token: str) -> UnsubscribeLink:
        return UnsubscribeLink(*self.verify(Purpose.UNSUBSCRIBE, token, 3))

    def read_preferences(self, token: str) -> PreferencesLink:
        return PreferencesLink(*self.verify(Purpose.PREFERENCES, token, 2))

    def read_confirm(self, token: str) -> MessageLink:
        return MessageLink(*self.verify(Purpose.CONFIRM, token, 2))

    # the mailto address of List-Unsubscribe

    def _mailto_mac(self, workspace_id: str, message_id: str) -> str:
        raw = self._mac(Purpose.MAILTO, (workspace_id, message_id), MAILTO_MAC_BYTES)
        return base64.b32encode(raw).decode("ascii").rstrip("=").lower()

    def mailto(self, workspace_id: str, message_id: str, domain: str) -> str:
        """`unsubscribe+{send}{mac}@{domain}`: short enough for a local part (64 characters)."""
        return f"{MAILTO_PREFIX}{message_id.lower()}{self._mailto_mac(workspace_id, message_id)}@{domain}"

    def mailto_matches(self, workspace_id: str, message_id: str, mac: str) -> bool:
        return hmac.compare_digest(mac.lower(), self._mailto_mac(workspace_id, message_id))

    # forms on the pages (CSRF): the page's token plus a MAC over it and the time the form was made

    def form_token(self, purpose: Purpose, page_token: str, issued: datetime) -> str:
        stamp = str(int(issued.timestamp()))
        return f"{stamp}.{_b64(self._mac(Purpose.FORM, (purpose.value, page_token, stamp)))}"

    def check_form_token(self, purpose: Purpose, page_token: str, value: str, now: datetime) -> None:
        """Invalid (field `form`) unless `value` was made for this page in the last 24 hours."""
        stamp, _, mac = value.partition(".")
        expected = _b64(self._mac(Purpose.FORM, (purpose.value, page_token, stamp)))
        if not (
            stamp.isdigit() and len(stamp) <= 12 and hmac.compare_digest(mac.encode(), expected.encode())
        ):
            raise Invalid.one("form", "this form was not made by this page; reload the page and try again")
        issued = datetime.fromtimestamp(int(stamp), tz=now.tzinfo)
        if not now - FORM_MAX_AGE <= issued <= now + FORM_SKEW:
            raise Invalid.one("form", "this page is more than a day old; reload it and try again")


def parse_mailto(address: str) -> tuple[str, str] | None:
    """(send id, MAC) from an `unsubscribe+…@domain` recipient address, or None for other addresses."""
    local = address.strip().strip("<>").rpartition("@")[0].lower()
    if not local.startswith(MAILTO_PREFIX):
        return None
    rest = local.removeprefix(MAILTO_PREFIX)
    if len(rest) <= _MAILTO_MAC_CHARS or not rest.isalnum():
        return None
    return rest[:-_MAILTO_MAC_CHARS], rest[-_MAILTO_MAC_CHARS:]
