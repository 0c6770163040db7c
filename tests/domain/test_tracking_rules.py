"""The Segment message rules of `nurture.domain.tracking`: validation, limits, timestamp correction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nurture.domain.errors import Invalid
from nurture.domain.tracking import (
    MAX_EVENT_BYTES,
    MessageType,
    TrackingMessage,
    parse_batch,
    parse_single,
    resolve_times,
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def fields_of(exc: pytest.ExceptionInfo[Invalid]) -> list[str]:
    return [error.field for error in exc.value.errors]


def track(**extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u1", "event": "Signed Up", **extra}


# parse_single


def test_single_takes_its_type_from_the_route() -> None:
    batch = parse_single({"type": "track", "userId": "u1", "traits": {"plan": "pro"}}, MessageType.IDENTIFY)
    assert [m.type for m in batch.messages] == [MessageType.IDENTIFY]
    assert batch.messages[0].traits == {"plan": "pro"}


def test_single_reads_the_write_key_from_the_body() -> None:
    assert parse_single({**track(), "writeKey": "nw_abc"}, MessageType.TRACK).write_key == "nw_abc"
    assert parse_single(track(), MessageType.TRACK).write_key is None
    assert parse_single({**track(), "writeKey": 7}, MessageType.TRACK).write_key is None


def test_numeric_ids_become_strings() -> None:
    message = parse_single({"userId": 42, "anonymousId": 1.5, "event": "x"}, MessageType.TRACK).messages[0]
    assert (message.userId, message.anonymousId) == ("42", "1.5")


@pytest.mark.parametrize(
    ("body", "kind", "field"),
    [
        ([1, 2], MessageType.TRACK, "body"),
        ("text", MessageType.IDENTIFY, "body"),
        ({"event": "x"}, MessageType.TRACK, "userId"),
        ({"userId": "", "event": "x"}, MessageType.TRACK, "userId"),
        ({"userId": "u" * 256, "event": "x"}, MessageType.TRACK, "userId"),
        ({"userId": "u1"}, MessageType.TRACK, "event"),
        ({"userId": "u1", "event": ""}, MessageType.TRACK, "event"),
        ({"userId": "u1"}, MessageType.GROUP, "groupId"),
        ({"userId": "u1"}, MessageType.ALIAS, "previousId"),
        ({"previousId": "a1"}, MessageType.ALIAS, "userId"),
        ({"userId": "u1", "timestamp": "yesterday"}, MessageType.IDENTIFY, "timestamp"),
        ({"userId": "u1", "sentAt": "2026-13-01T00:00:00Z"}, MessageType.PAGE, "sentAt"),
        ({"userId": "u1", "timestamp": "0001-01-01T00:00:00+01:00"}, MessageType.PAGE, "timestamp"),
        ({"userId": "u1", "sentAt": "9999-12-31T23:59:59-01:00"}, MessageType.PAGE, "sentAt"),
        ({"userId": "u1", "traits": ["email"]}, MessageType.IDENTIFY, "traits"),
        ({"userId": "u1", "properties": "cheap"}, MessageType.PAGE, "properties"),
        (
            {"userId": "u1", "event": "x", "properties": {"blob": "x" * MAX_EVENT_BYTES}},
            MessageType.TRACK,
            "body",
        ),
    ],
)
def test_single_rejects_naming_the_field(body: Any, kind: MessageType, field: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_single(body, kind)
    assert fields_of(exc) == [field]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, []),
        ({"traits": {"plan": "pro"}}, [("traits", {"plan": "pro"})]),
        ({"context": {"traits": {"plan": "free"}}}, [("context.traits", {"plan": "free"})]),
        (
            {"context": {"traits": {"plan": "free"}}, "traits": {"plan": "pro"}},
            [("context.traits", {"plan": "free"}), ("traits", {"plan": "pro"})],
        ),
        ({"context": {"traits": "free"}, "traits": {}}, []),
    ],
)
def test_identify_traits_put_top_level_traits_last(
    fields: dict[str, Any], expected: list[tuple[str, dict[str, Any]]]
) -> None:
    message = parse_single({"userId": "u1", **fields}, MessageType.IDENTIFY).messages[0]
    assert message.identify_traits() == expected


# parse_batch


def test_batch_keeps_order_types_write_key_and_sent_at() -> None:
    batch = parse_batch(
        {
            "batch": [
                {"type": "Identify", "userId": "u1"},
                track(),
                {"type": "alias", "previousId": "a1", "userId": "u1"},
            ],
            "writeKey": "nw_abc",
            "sentAt": "2026-03-02T11:30:00+02:00",
        }
    )
    assert [m.type for m in batch.messages] == [MessageType.IDENTIFY, MessageType.TRACK, MessageType.ALIAS]
    assert batch.write_key == "nw_abc"
    assert batch.sent_at == T0


def test_only_single_bodies_are_marked_single() -> None:
    assert parse_single(track(), MessageType.TRACK).single
    assert not parse_batch({"batch": [track()]}).single


def test_empty_batch_is_valid() -> None:
    assert parse_batch({"batch": []}).messages == []


def test_batch_reports_every_bad_message_by_index() -> None:
    with pytest.raises(Invalid) as exc:
        parse_batch(
            {
                "batch": [
                    track(),
                    {"type": "track", "event": "no ids"},
                    track(),
                    "not an object",
                    {"type": "purchase", "userId": "u1"},
                    {"type": "track", "userId": "u1"},
                    track(timestamp="soon"),
                ],
                "sentAt": "later",
                "writeKey": ["nw_abc"],
            }
        )
    assert fields_of(exc) == [
        "batch[1].userId",
        "batch[3]",
        "batch[4].type",
        "batch[5].event",
        "batch[6].timestamp",
        "sentAt",
        "writeKey",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([track()], "body"),
        (None, "body"),
        ({}, "batch"),
        ({"batch": {"0": track()}}, "batch"),
        ({"batch": [{"type": "track"}]}, "batch[0].userId"),
        ({"batch": [track(), {"type": "identify"}]}, "batch[1].userId"),
        ({"batch": [track()], "sentAt": "0001-01-01T00:00:00+00:30"}, "sentAt"),
        ({"batch": [track(), track(), track(properties={"blob": "x" * MAX_EVENT_BYTES})]}, "batch[2]"),
    ],
)
def test_batch_rejects_naming_the_field(body: Any, field: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_batch(body)
    assert fields_of(exc) == [field]


def sized(size: int) -> dict[str, Any]:
    """A track message whose JSON is exactly `size` bytes."""
    item = track(properties={"blob": ""})
    item["properties"]["blob"] = "x" * (size - len(orjson.dumps(item)))
    assert len(orjson.dumps(item)) == size
    return item


def test_the_event_limit_is_32_kb_inclusive() -> None:
    assert len(parse_batch({"batch": [sized(MAX_EVENT_BYTES)]}).messages) == 1
    with pytest.raises(Invalid) as exc:
        parse_batch({"batch": [sized(MAX_EVENT_BYTES), sized(MAX_EVENT_BYTES + 1)]})
    assert fields_of(exc) == ["batch[1]"]
    assert str(MAX_EVENT_BYTES + 1) in exc.value.errors[0].message


# resolve_times


def message(**times: Any) -> TrackingMessage:
    return TrackingMessage.model_validate(track(**times))


H = timedelta(hours=1)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("times", "batch_sent_at", "expected"),
    [
        # client clock one hour fast: event 5 s before receipt, sent 1 s before receipt
        ({"timestamp": T0 - 5 * S + H, "sentAt": T0 - S + H}, None, T0 - 4 * S),
        # client clock one hour slow, originalTimestamp as analytics.js sends it
        ({"originalTimestamp": T0 - 5 * S - H, "sentAt": T0 - S - H}, None, T0 - 4 * S),
        # the batch's sentAt applies to messages without their own
        ({"timestamp": T0 - 5 * S + H}, T0 - S + H, T0 - 4 * S),
        # a message's own sentAt wins over the batch's
        ({"timestamp": T0 - 5 * S + H, "sentAt": T0 - 2 * S + H}, T0 + 9 * H, T0 - 3 * S),
        # originalTimestamp wins over timestamp
        ({"originalTimestamp": T0 - 10 * S, "timestamp": T0 - 99 * S, "sentAt": T0}, None, T0 - 10 * S),
        # no sentAt: the client's time as it is (historical import)
        ({"timestamp": T0 - 30 * 24 * H}, None, T0 - 30 * 24 * H),
        # no client time at all: the time of receipt
        ({}, None, T0),
        ({"sentAt": T0 + H}, None, T0),
    ],
)
def test_resolve_times(times: dict[str, Any], batch_sent_at: datetime | None, expected: datetime) -> None:
    assert resolve_times(message(**times), batch_sent_at, T0).timestamp == expected


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ({"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"}, "timestamp"),
        (
            {"originalTimestamp": "9999-12-31T00:00:00Z", "sentAt": "0001-01-01T00:00:00Z"},
            "originalTimestamp",
        ),
    ],
)
def test_a_correction_outside_the_calendar_names_the_client_time(times: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as exc:
        resolve_times(message(**times), None, T0)
    assert fields_of(exc) == [field]


def test_resolve_times_keeps_every_time_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    times = resolve_times(
        message(timestamp="2026-03-02T10:29:55+01:00", sentAt="2026-03-02T10:29:59+01:00"), None, T0
    )
    assert times.original_timestamp == T0 - 5 * S
    assert times.sent_at == T0 - S
    assert times.received_at == T0
    assert times.timestamp == T0 - 4 * S
    for value in (times.timestamp, times.original_timestamp, times.sent_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
    assert times.original_timestamp == datetime(2026, 3, 2, 10, 29, 55, tzinfo=berlin)


def test_naive_client_times_are_taken_as_utc() -> None:
    times = resolve_times(message(timestamp="2026-03-02T09:29:00"), None, T0)
    assert times.timestamp == T0 - 60 * S
    assert times.timestamp.tzinfo is not None


def test_missing_times_are_kept_missing() -> None:
    times = resolve_times(message(), None, T0)
    assert (times.original_timestamp, times.sent_at, times.received_at) == (None, None, T0)


moments = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; zone added below
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
skews = st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650))


@given(happened=moments, skew=skews, queued=spans, transit=spans, zone=offsets)
def test_corrected_timestamp_cancels_any_client_skew(
    happened: datetime, skew: timedelta, queued: timedelta, transit: timedelta, zone: timezone
) -> None:
    """A client whose clock is off by `skew` records the event at `happened + skew`, sends it `queued`
    later, and it arrives `transit` after that: the skew cancels and only the transit time remains."""
    original = (happened + skew).astimezone(zone)
    sent_at = (happened + queued + skew).astimezone(zone)
    received_at = happened + queued + transit
    times = resolve_times(message(timestamp=original, sentAt=sent_at), None, received_at)
    assert times.timestamp == received_at - (sent_at - original)
    assert times.timestamp == happened + transit
    assert times.original_timestamp == original
    assert times.sent_at == sent_at
    assert times.received_at == received_at
