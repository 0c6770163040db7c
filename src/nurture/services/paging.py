"""Opaque cursors for listings: clients pass back what they were given, nothing more."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from nurture.domain.errors import Invalid


def encode_id_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


# Row ids are ULIDs; a cursor that decodes to anything else was not given out by this API.
_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_NOT_OURS = "not a cursor this API returned; pass `next_cursor` of the previous page as it is"


def _decode(cursor: str) -> str:
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid.one("cursor", _NOT_OURS) from None


def decode_id_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    last_id = _decode(cursor)
    if not _ID.fullmatch(last_id):
        raise Invalid.one("cursor", _NOT_OURS)
    return last_id


def encode_time_cursor(at: datetime, last_id: str) -> str:
    return encode_id_cursor(f"{at.isoformat()}|{last_id}")


def decode_time_cursor(cursor: str | None, ids: re.Pattern[str] = _ID) -> tuple[datetime, str] | None:
    """(time, id) of a time cursor; `ids` is what the listing's ids look like (ULIDs by default)."""
    if not cursor:
        return None
    at, _, last_id = _decode(cursor).partition("|")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise Invalid.one("cursor", _NOT_OURS) from None
    if moment.tzinfo is None or not ids.fullmatch(last_id):
        raise Invalid.one("cursor", _NOT_OURS)
    return moment, last_id
