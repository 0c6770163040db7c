"""Opaque cursors for listings: clients pass back what they were given, nothing more."""

from __future__ import annotations

import base64
from datetime import datetime

from nurture.domain.errors import Invalid


def encode_id_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_id_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise Invalid.one("cursor", "not a cursor this API returned") from None


def encode_time_cursor(at: datetime, last_id: str) -> str:
    return encode_id_cursor(f"{at.isoformat()}|{last_id}")


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    raw = decode_id_cursor(cursor)
    if raw is None:
        return None
    at, _, last_id = raw.partition("|")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise Invalid.one("cursor", "not a cursor this API returned") from None
    if moment.tzinfo is None or not last_id:
        raise Invalid.one("cursor", "not a cursor this API returned")
    return moment, last_id
