"""The hand-built MIME: whatever goes in, Python's own parser (policy=default) reads back the same
subject, names, addresses, text and HTML, and every line is CRLF-terminated and at most 998 octets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.channels.email.mime import build_message
from tests.channels.email.builders import DATE, UNSUBSCRIBE, email


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects, message.defects
    return message


def content(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    value = part.get_content()
    assert isinstance(value, str)
    return value.replace("\r\n", "\n")


def phrase(raw: bytes) -> str:
    """The display name as written in the From field, unfolded."""
    value = message_from_bytes(raw, policy=policy.compat32)["From"].replace("\r\n", "")
    return value.rpartition(" <")[0] if value.endswith(">") else ""


def display_name(raw: bytes) -> str:
    """The From display name read by RFC 2047's rules (email.header's decoder, which follows them)."""
    written = phrase(raw)
    if written.startswith('"'):
        return written[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return str(make_header(decode_header(written)))


def lines_ok(raw: bytes) -> None:
    assert raw.endswith(b"\r\n")
    for line in raw[:-2].split(b"\r\n"):
        assert b"\r" not in line
        assert b"\n" not in line
        assert len(line) <= 998


def test_multipart_alternative_with_every_header_in_order() -> None:
    raw = build_message(
        email(reply_to="help@shop.example", headers=(*UNSUBSCRIBE, ("Feedback-ID", "c1:news:shop"))),
        date=DATE,
        dkim=None,
    )
    lines_ok(raw)
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in message.iter_parts()] == ["utf-8", "utf-8"]
    assert message["Message-ID"] == "<k3v6xq2m4n5p7r8s9t0u1w2y3z@shop.example>"
    assert message["Date"].datetime == DATE
    assert message["From"].addresses[0].display_name == "Example Shop"
    assert message["From"].addresses[0].addr_spec == "news@shop.example"
    assert message["To"] == "alice@example.org"
    assert message["Reply-To"] == "help@shop.example"
    assert message["MIME-Version"] == "1.0"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    names = [name.lower() for name in message]
    assert names == [
        "date",
        "from",
        "to",
        "reply-to",
        "subject",
        "message-id",
        "mime-version",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "feedback-id",
        "content-type",
    ]
    assert message["List-Unsubscribe"] == UNSUBSCRIBE[0][1]
    assert content(message, "plain") == "Hi Alice"
    assert content(message, "html") == "<p>Hi Alice</p>"


def test_text_only_is_a_single_text_plain_part() -> None:
    message = parse(build_message(email(html=None, text="Just text.\n"), date=DATE, dkim=None))
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()
    assert message.get_content().replace("\r\n", "\n") == "Just text.\n"


def test_non_ascii_names_and_subjects_are_encoded_words_and_addresses_idna() -> None:
    raw = build_message(
        email(from_name="Zoë's Café, Inc.", subject="Ваш заказ готов ✓"),
        date=DATE,
        dkim=None,
    )
    assert raw.isascii()
    message = parse(raw)
    assert message["Subject"] == "Ваш заказ готов ✓"
    assert message["From"].addresses[0].display_name == "Zoë's Café, Inc."
    # an internationalised domain is written in its ASCII form; a local part must be ASCII already
    with pytest.raises(ValueError, match="SMTPUTF8"):
        build_message(email(to="jürgen@example.org"), date=DATE, dkim=None)
    assert parse(build_message(email(to="a@bücher.example"), date=DATE, dkim=None))["To"] == (
        "a@xn--bcher-kva.example"
    )


def test_long_lines_are_wrapped_and_base64_is_used_where_smaller() -> None:
    html = "<table>" + "<tr><td style='padding:0'>cell</td></tr>" * 500 + "</table>"  # one 20 KB line
    cyrillic = "Привет! " * 400
    raw = build_message(email(html=html, text=cyrillic), date=DATE, dkim=None)
    lines_ok(raw)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    message = parse(raw)
    plain, rich = message.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert rich["Content-Transfer-Encoding"] == "quoted-printable"
    assert content(message, "html") == html
    assert content(message, "plain") == cyrillic


def test_date_keeps_its_offset_and_must_be_aware() -> None:
    paris = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert parse(build_message(email(), date=paris, dkim=None))["Date"].datetime == paris
    with pytest.raises(ValueError, match="timezone-aware"):
        build_message(email(), date=datetime(2026, 3, 2, 9, 30), dkim=None)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"headers": (("Subject", "again"),)}, "written by the builder"),
        ({"headers": (("Bad Name", "x"),)}, "not printable ASCII"),
        ({"headers": (("X-A:b", "x"),)}, "not printable ASCII"),
        (
            {"headers": (("List-Unsubscribe", "<https://x.example/" + "u" * 1000 + ">"),)},
            "longer than a line",
        ),
        ({"to": "not-an-address"}, "not an email address"),
        ({"to": "a b@example.org"}, "not an ASCII email address"),
        ({"from_email": "news@shop.example>\r\nBcc: x@y"}, "not an ASCII email address"),
        ({"message_id": "a>b"}, "Message-ID"),
        ({"message_id": ""}, "Message-ID"),
    ],
)
def test_what_cannot_be_written_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_message(email(**changes), date=DATE, dkim=None)


def test_header_values_cannot_inject_fields() -> None:
    raw = build_message(
        email(subject="hi\r\nBcc: victim@example.org", headers=(("X-Campaign", "a\nBcc: v@example.org"),)),
        date=DATE,
        dkim=None,
    )
    message = parse(raw)
    assert message["Bcc"] is None
    assert message["Subject"] == "hi\r\nBcc: victim@example.org"


def test_long_extra_headers_fold_at_spaces_and_stay_plain() -> None:
    links = ", ".join(f"<https://nurture.example/unsubscribe/{'t' * 40}{n}>" for n in range(3))
    raw = build_message(
        email(headers=(("List-Unsubscribe", links), ("X-Note", "a   b\tc"))), date=DATE, dkim=None
    )
    lines_ok(raw)
    assert b"List-Unsubscribe: <https://nurture.example/unsubscribe/" in raw
    assert b"=?" not in raw
    message = parse(raw)
    assert message["List-Unsubscribe"] == links
    assert message["X-Note"] == "a b c"


def test_same_input_same_bytes() -> None:
    assert build_message(email(), date=DATE, dkim=None) == build_message(email(), date=DATE, dkim=None)


unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
names = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=80))


@settings(max_examples=300, deadline=None)
@given(subject=unicode_text, name=names, text=unicode_text, html=st.one_of(st.none(), unicode_text))
def test_round_trip_of_arbitrary_unicode(subject: str, name: str | None, text: str, html: str | None) -> None:
    raw = build_message(email(subject=subject, from_name=name, text=text, html=html), date=DATE, dkim=None)
    assert raw.isascii()
    lines_ok(raw)
    message = parse(raw)
    assert message["Subject"] == subject
    sender = message["From"].addresses
    assert len(sender) == 1
    assert sender[0].addr_spec == "news@shop.example"
    expected = " ".join((name or "").split())  # display names: whitespace collapsed and trimmed
    assert display_name(raw) == expected
    if sender[0].display_name != expected:
        # Python's address parser puts a space between adjacent encoded-words of a phrase, which
        # RFC 2047 (6.2) says to drop: a name too long for one encoded-word reads right elsewhere
        assert "?= =?" in phrase(raw)
    assert message["To"] == "alice@example.org"

    def lines(value: str) -> str:
        return value.replace("\r\n", "\n").replace("\r", "\n")

    if html is None:
        assert lines(message.get_content()) == lines(text)
    else:
        assert content(message, "plain") == lines(text)
        assert content(message, "html") == lines(html)
