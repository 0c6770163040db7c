"""The Segment HTTP Tracking API message format: validation, limits and timestamp resolution.

Everything here is pure: the caller passes the parsed JSON body and the time it was received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from nurture.domain.errors import FieldError, Invalid

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ID_LENGTH = 255


class MessageType(StrEnum):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once converted to UTC") from None


# Some clients send numeric ids; Segment stores them as strings (coerced by pydantic's core, which
# costs a fraction of a Python validator per field).
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, coerce_numbers_to_str=True)]
Timestamp = Annotated[datetime | None, BeforeValidator(lambda v: v or None), AfterValidator(_utc)]


class TrackingMessage(BaseModel):
    """One identify/track/page/screen/group/alias call, as Segment's libraries send it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: MessageType
    messageId: Identifier | None = None
    userId: Identifier | None = None
    anonymousId: Identifier | None = None
    event: Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)] | None = None
    name: Annotated[str, Field(max_length=MAX_ID_LENGTH)] | None = None
    groupId: Identifier | None = None
    previousId: Identifier | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    timestamp: Timestamp = None
    originalTimestamp: Timestamp = None
    sentAt: Timestamp = None

    @model_validator(mode="before")
    @classmethod
    def _lower_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            kind = data["type"].lower()
            if kind != data["type"]:
                data = {**data, "type": kind}
        return data

    @model_validator(mode="after")
    def _required_ids(self) -> TrackingMessage:
        if self.type is MessageType.ALIAS:
            if not self.previousId:
                raise _missing("previousId", "alias needs the previousId being merged")
            if not self.userId:
                raise _missing("userId", "alias needs the userId to merge into")
            return self
        if not self.userId and not self.anonymousId:
            raise _missing("userId", "either userId or anonymousId is required")
        if self.type is MessageType.TRACK and not self.event:
            raise _missing("event", "track needs an event name")
        if self.type is MessageType.GROUP and not self.groupId:
            raise _missing("groupId", "group needs a groupId")
        return self

    def identify_traits(self) -> list[tuple[str, dict[str, Any]]]:
        """An identify's traits with the field they were sent in, the winning one last: RudderStack's
        libraries send them in `context.traits`, Segment's at the top level."""
        found: list[tuple[str, dict[str, Any]]] = []
        nested = (self.context or {}).get("traits")
        if isinstance(nested, dict) and nested:
            found.append(("context.traits", nested))
        if self.traits:
            found.append(("traits", self.traits))
        return found


class _MissingField(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


def _missing(field_name: str, message: str) -> _MissingField:
    return _MissingField(field_name, message)


@dataclass(frozen=True)
class EventTimes:
    """The four Segment times of one event, all UTC."""

    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    received_at: datetime


def resolve_times(
    message: TrackingMessage, batch_sent_at: datetime | None, received_at: datetime
) -> EventTimes:
    """Segment's rule: `timestamp = receivedAt - (sentAt - originalTimestamp)` when the client sent both.

    That corrects a client clock that is off (the skew cancels out); without `sentAt` the client's
    time is taken as it is, and without any client time the event happened when it was received.
    Raises Invalid when the correction falls outside the calendar (times millennia apart).
    """
    original = _utc(message.originalTimestamp or message.timestamp)
    sent_at = _utc(message.sentAt or batch_sent_at)
    if original is not None and sent_at is not None:
        try:
            timestamp = received_at - (sent_at - original)
        except OverflowError:
            field_name = "originalTimestamp" if message.originalTimestamp else "timestamp"
            raise Invalid.one(
                field_name, f"is {abs(sent_at - original).days} days away from sentAt; check the client clock"
            ) from None
    else:
        timestamp = original or received_at
    return EventTimes(timestamp, original, sent_at, received_at)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _errors_from(exc: ValidationError, prefix: tuple[int | str, ...]) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, _MissingField):
            errors.append(FieldError(_path((*prefix, cause.field_name)), str(cause)))
        else:
            errors.append(FieldError(_path(prefix + loc), err["msg"]))
    return errors


def parse_message(
    item: Any, path: tuple[int | str, ...] = (), forced_type: MessageType | None = None
) -> TrackingMessage:
    """Validate one message (its size included); raise Invalid naming the offending field."""
    if not isinstance(item, dict):
        raise Invalid.one(_path(path) or "body", "must be a JSON object")
    size = len(orjson.dumps(item))
    if size > MAX_EVENT_BYTES:
        raise Invalid.one(
            _path(path) or "body", f"event is {size} bytes; the limit is {MAX_EVENT_BYTES} (32 KB)"
        )
    if forced_type is not None:
        item = {**item, "type": forced_type.value}
    try:
        return TrackingMessage.model_validate(item)
    except ValidationError as exc:
        raise Invalid(_errors_from(exc, path)) from None


@dataclass(frozen=True)
class Batch:
    """A validated request: its messages, the write key given in the body, and the batch `sentAt`.

    `single` marks the body of `/v1/track` and its siblings, whose error paths carry no `batch[i]`.
    """

    messages: list[TrackingMessage]
    write_key: str | None
    sent_at: datetime | None
    single: bool = False


def parse_body_size(raw_length: int, limit: int) -> None:
    if raw_length > limit:
        raise Invalid.one("body", f"request is {raw_length} bytes; the limit is {limit} bytes")


def parse_batch(body: Any) -> Batch:
    """Validate a `/v1/batch` body; the whole batch is rejected if any message is invalid."""
    if not isinstance(body, dict):
        raise Invalid.one("body", "must be a JSON object with a `batch` array")
    items = body.get("batch")
    if not isinstance(items, list):
        raise Invalid.one("batch", "must be an array of messages")
    errors: list[FieldError] = []
    messages: list[TrackingMessage] = []
    for index, item in enumerate(items):
        try:
            messages.append(parse_message(item, ("batch", index)))
        except Invalid as exc:
            errors.extend(exc.errors)
    sent_at = _parse_time(body.get("sentAt"), "sentAt", errors)
    write_key = body.get("writeKey")
    if write_key is not None and not isinstance(write_key, str):
        errors.append(FieldError("writeKey", "must be a string"))
    if errors:
        raise Invalid(errors)
    return Batch(messages, write_key, sent_at)


def parse_single(body: Any, kind: MessageType) -> Batch:
    """Validate the body of `/v1/track` and its siblings: one message whose type the route gives."""
    message = parse_message(body, (), forced_type=kind)
    write_key = body.get("writeKey")
    return Batch([message], write_key if isinstance(write_key, str) else None, None, single=True)


class _TimeHolder(BaseModel):
    value: Timestamp


def _parse_time(value: Any, field_name: str, errors: list[FieldError]) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return _utc(_TimeHolder(value=value).value)
    except ValidationError:
        errors.append(FieldError(field_name, "must be an ISO-8601 date-time"))
        return None


def message_size(item: dict[str, Any]) -> int:
    return len(orjson.dumps(item))
