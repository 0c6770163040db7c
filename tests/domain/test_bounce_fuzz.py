"""Malformed, truncated and mutated reports never crash the classifier (issue 6 point 5)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nurture.domain.bounces import Kind, classify_report
from tests.domain.bounce_corpus import corpus_files

FILES = [path.read_bytes() for path in corpus_files()]


@st.composite
def mutated_reports(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(FILES)))
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "charset", "boundary"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "truncate":
            del data[at:]
        elif operation == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 2000))]
        elif operation == "charset":
            data = bytearray(bytes(data).replace(b"charset=", b"charset=x-no-such-charset-", 1))
        else:
            data = bytearray(bytes(data).replace(b"boundary=", b"boundary=broken", 1))
    return bytes(data)


def _check(recipients: list) -> None:  # type: ignore[type-arg]
    assert recipients
    for recipient in recipients:
        assert isinstance(recipient.kind, Kind)
        assert recipient.reason
        if recipient.kind is Kind.UNKNOWN:
            assert recipient.address is None
            # the parser itself never gives up: only our own checks say why a report is unknown
            assert not recipient.reason.startswith("the report could not be read"), recipient.reason


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_reports())
def test_mutated_corpus_files_never_crash(data: bytes) -> None:
    _check(classify_report(data))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_crash(data: bytes) -> None:
    _check(classify_report(data))


def test_unreadable_reports_are_unknown_with_a_reason() -> None:
    cases = {
        b"": "empty",
        b"   \r\n  ": "empty",
        b"\x00\xff\xfe garbage without any header": "no mail headers",
        b"Subject: hello\r\nFrom: a@example.com\r\n\r\nNothing bounced here.\r\n": "no recipient",
        b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status"
        b"\r\n\r\nReporting-MTA: dns; mx\r\n": "no recipient",
    }
    for data, why in cases.items():
        [recipient] = classify_report(data)
        assert recipient.kind is Kind.UNKNOWN, data
        assert why in recipient.reason, (data, recipient.reason)


def test_a_truncated_report_still_reads_the_recipients_before_the_cut() -> None:
    data = next(d for d in FILES if b"Final-Recipient:" in d and b"Status: 5.1.1" in d)
    cut = data[: data.index(b"Status: 5.1.1") + len(b"Status: 5.1.1")]
    [recipient] = classify_report(cut)
    assert recipient.kind is Kind.HARD
    assert recipient.status == "5.1.1"
