"""DKIM: what build_message signs verifies with dkimpy against the test key (served through dkimpy's
`dnsfunc` hook), is byte for byte what dkimpy's own signer writes, and breaks when the mail changes."""

from __future__ import annotations

import re

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from nurture.channels.email.mime import build_message
from nurture.channels.email.signing import SIGNED_HEADERS, check_dkim_key
from nurture.domain.errors import Invalid
from nurture.domain.messages.delivery import DkimKey
from tests.channels.email.builders import DATE, UNSUBSCRIBE, email, pem


def tags(raw: bytes) -> dict[str, str]:
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert header.startswith("DKIM-Signature: ")
    value = re.split(r"\r\n(?=\S)", header, maxsplit=1)[0].removeprefix("DKIM-Signature: ")
    pairs = (item.split("=", 1) for item in re.sub(r"\s+", "", value).split(";") if item)
    return dict(pairs)


def test_signed_message_verifies_and_covers_the_unsubscribe_headers(key: DkimKey, dns: object) -> None:
    raw = build_message(email(reply_to="help@shop.example", headers=UNSUBSCRIBE), date=DATE, dkim=key)
    assert dkim.verify(raw, dnsfunc=dns)
    found = tags(raw)
    assert found["d"] == "shop.example"
    assert found["s"] == "s2026"
    assert found["a"] == "rsa-sha256"
    assert found["t"] == str(int(DATE.timestamp()))
    assert found["h"].split(":") == [name.decode() for name in SIGNED_HEADERS] + ["from"]
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998


def test_only_present_headers_are_signed(key: DkimKey, dns: object) -> None:
    raw = build_message(email(html=None), date=DATE, dkim=key)
    assert dkim.verify(raw, dnsfunc=dns)
    assert tags(raw)["h"] == "from:to:subject:date:message-id:mime-version:content-type:from"


def test_same_bytes_as_dkimpy_signing_the_same_message(key: DkimKey, monkeypatch: pytest.MonkeyPatch) -> None:
    mail = email(headers=UNSUBSCRIBE)
    unsigned = build_message(mail, date=DATE, dkim=None)
    signed = build_message(mail, date=DATE, dkim=key)
    assert signed.endswith(unsigned)
    include = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type"]
    include += [b"list-unsubscribe", b"list-unsubscribe-post", b"from"]
    monkeypatch.setattr(dkim.time, "time", lambda: DATE.timestamp())  # dkimpy reads the clock for t=
    theirs = dkim.sign(unsigned, b"s2026", b"shop.example", key.private_key, include_headers=include)
    assert signed[: -len(unsigned)] == theirs


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"Subject: Your cart is waiting", b"Subject: Your cart is waiting!"),
        (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nothing"),
        (b"<p>Hi Alice</p>", b"<p>Hi Mallory</p>"),
        (b"From: Example Shop", b"From: Evil Shop"),
    ],
)
def test_a_changed_message_fails(key: DkimKey, dns: object, before: bytes, after: bytes) -> None:
    raw = build_message(email(headers=UNSUBSCRIBE), date=DATE, dkim=key)
    assert before in raw
    assert not dkim.verify(raw.replace(before, after), dnsfunc=dns)


def test_an_added_from_fails(key: DkimKey, dns: object) -> None:
    raw = build_message(email(), date=DATE, dkim=key)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert not dkim.verify(head + b"\r\nFrom: ceo@shop.example\r\n\r\n" + body, dnsfunc=dns)


def test_keys_that_cannot_sign_are_refused_naming_the_field(private_key: rsa.RSAPrivateKey) -> None:
    rsa_pem = pem(private_key)
    cases = [
        (DkimKey("shop.example", "s1", b"not a key"), "dkim.private_key"),
        (DkimKey("shop.example", "s1", pem(ed25519.Ed25519PrivateKey.generate())), "dkim.private_key"),
        (DkimKey("shop example", "s1", rsa_pem), "dkim.domain"),
        (DkimKey("shop.example", "", rsa_pem), "dkim.selector"),
    ]
    for bad, field in cases:
        with pytest.raises(Invalid) as caught:
            check_dkim_key(bad)
        assert caught.value.errors[0].field == field
    check_dkim_key(DkimKey("shop.example", "s1", rsa_pem))
