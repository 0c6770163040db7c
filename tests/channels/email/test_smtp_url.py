"""SMTP URLs: the forms the README documents, their defaults, and bad ones refused naming the part."""

from __future__ import annotations

import pytest

from nurture.domain.errors import Invalid
from nurture.domain.messages.smtp_url import SmtpUrl, Tls, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", SmtpUrl("mail.example", 25, Tls.OPPORTUNISTIC)),
        ("smtp://mail.example:2525?starttls=false", SmtpUrl("mail.example", 2525, Tls.NONE)),
        ("smtp://mail.example?starttls=true", SmtpUrl("mail.example", 25, Tls.REQUIRED)),
        ("smtp+starttls://u:p@mail.example", SmtpUrl("mail.example", 587, Tls.REQUIRED, "u", "p")),
        ("SMTPS://u:p@mail.example", SmtpUrl("mail.example", 465, Tls.IMPLICIT, "u", "p")),
        ("smtps://mail.example:10465/", SmtpUrl("mail.example", 10465, Tls.IMPLICIT)),
        (
            "smtp://apikey:p%40ss%3Aw%2Fd@[::1]:25?verify=false&connections=8&timeout=2.5",
            SmtpUrl("::1", 25, Tls.OPPORTUNISTIC, "apikey", "p@ss:w/d", False, 8, 2.5),
        ),
        (
            "smtp://user%40example.org:@mail.example",
            SmtpUrl("mail.example", 25, Tls.OPPORTUNISTIC, "user@example.org", ""),
        ),
    ],
)
def test_forms_and_defaults(url: str, expected: SmtpUrl) -> None:
    assert parse_smtp_url(url) == expected


def test_password_is_not_in_the_repr() -> None:
    assert "hunter2" not in repr(parse_smtp_url("smtps://user:hunter2@mail.example"))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://mail.example", "scheme 'http'"),
        ("mail.example:25", "scheme"),
        ("smtp://", "host is missing"),
        ("smtp://:secret@mail.example", "password needs a user name"),
        ("smtp://mail.example:99999", "not a valid URL"),
        ("smtp://mail.example:port", "not a valid URL"),
        ("smtp://mail.example:0", "port must be"),
        ("smtp://mail.example/inbox", "path"),
        ("smtps://mail.example?starttls=true", "starttls: smtps:// is TLS already"),
        ("smtp://mail.example?starttls=maybe", "starttls: 'maybe' is not true or false"),
        ("smtp://mail.example?verify=", "verify: '' is not true or false"),
        ("smtp://mail.example?connections=0", "connections: '0'"),
        ("smtp://mail.example?connections=65", "connections: '65'"),
        ("smtp://mail.example?timeout=-1", "timeout: '-1'"),
        ("smtp://mail.example?timeout=nan", "timeout: 'nan'"),
        ("smtp://mail.example?tls=on", "unknown option 'tls'"),
    ],
)
def test_bad_urls_name_the_field_and_the_part(url: str, words: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_smtp_url(url, "NURTURE_SMTP_URL")
    error = caught.value.errors[0]
    assert error.field == "NURTURE_SMTP_URL"
    assert words in error.message
