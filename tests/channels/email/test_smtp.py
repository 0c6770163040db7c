"""The SMTP transport against a real server (aiosmtpd on loopback): what arrives parses and verifies,
connections are reused across batches and reopened when dropped, every reply maps to its outcome per
recipient, and STARTTLS, implicit TLS and AUTH work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import dkim
import pytest

from nurture.channels.email.smtp import SmtpTransport
from nurture.domain.errors import Invalid
from nurture.domain.messages.delivery import DkimKey, Outcome, SenderConfig
from tests.channels.email.builders import DATE, UNSUBSCRIBE, email
from tests.channels.email.smtp_server import PASSWORD, USER, Certificate, SmtpServer, authenticate


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


@pytest.fixture
def transport(certificate: Certificate) -> Iterator[SmtpTransport]:
    sending = SmtpTransport(now=lambda: DATE, tls_context=certificate.client(), local_hostname="nurture.test")
    yield sending
    sending.close()


def sender(url: str | None, dkim_key: DkimKey | None = None, rate: float | None = None) -> SenderConfig:
    return SenderConfig(id="snd1", smtp_url=url, rate_per_second=rate, dkim=dkim_key)


def emails(count: int, *, domain: str = "example.org") -> list:  # type: ignore[type-arg]
    return [email(message_id=f"m{n}", to=f"person{n}@{domain}", headers=UNSUBSCRIBE) for n in range(count)]


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_batch_arrives_as_signed_multipart_alternative(
    server: SmtpServer, transport: SmtpTransport, key: DkimKey, dns: Callable[..., bytes | None]
) -> None:
    results = transport.send_many(sender(server.url(), key), emails(3))
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert [r.reply_code for r in results] == [250] * 3
    assert [r.status for r in results] == ["2.0.0"] * 3
    assert sorted(r.provider_id or "" for r in results) == ["Q1", "Q2", "Q3"]
    received = sorted(server.recorder.received, key=lambda r: r.rcpt_tos)
    assert [r.rcpt_tos for r in received] == [
        ["person0@example.org"],
        ["person1@example.org"],
        ["person2@example.org"],
    ]
    for n, message in enumerate(received):
        assert message.mail_from == "news@shop.example"
        assert dkim.verify(message.data, dnsfunc=dns)
        parsed = parse(message.data)
        assert parsed.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
        assert parsed["Message-ID"] == f"<m{n}@shop.example>"
        assert parsed["To"] == f"person{n}@example.org"
        assert parsed["Subject"] == "Your cart is waiting"
        assert parsed["Date"].datetime == DATE
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert parsed["List-Unsubscribe"] == UNSUBSCRIBE[0][1]


def test_connections_are_reused_across_batches(server: SmtpServer, transport: SmtpTransport) -> None:
    url = server.url(query="connections=2")
    first = transport.send_many(sender(url), emails(10))
    second = transport.send_many(sender(url), emails(7))
    assert {r.outcome for r in first + second} == {Outcome.ACCEPTED}
    assert len(server.recorder.received) == 17
    assert server.connections == 2
    assert transport.connections_opened() == 2


def test_a_dropped_connection_is_reopened(server: SmtpServer, transport: SmtpTransport) -> None:
    url = server.url(query="connections=2")
    assert {r.outcome for r in transport.send_many(sender(url), emails(4))} == {Outcome.ACCEPTED}
    server.drop_all()  # as a server closing idle connections does
    assert {r.outcome for r in transport.send_many(sender(url), emails(4))} == {Outcome.ACCEPTED}
    assert len(server.recorder.received) == 8
    assert server.connections == 4


def test_each_recipient_gets_the_outcome_of_its_reply(server: SmtpServer, transport: SmtpTransport) -> None:
    recorder = server.recorder
    recorder.rcpt["later@example.org"] = "451 4.3.0 Temporary lookup failure"
    recorder.rcpt["gone@example.org"] = (
        "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"
    )
    recorder.rcpt["blocked@example.org"] = "550 5.7.1 Client host rejected: blocked by policy"
    recorder.rcpt["nocode@example.org"] = "550 No such user here"
    recorder.data["spam@example.org"] = "554 5.7.1 Message rejected as spam"
    recorder.data["full@example.org"] = "452 4.2.2 Mailbox full"
    names = ["ok1", "later", "gone", "blocked", "nocode", "spam", "full", "ok2"]
    batch = [email(message_id=name, to=f"{name}@example.org") for name in names]
    results = transport.send_many(sender(server.url(query="connections=1")), batch)
    assert [(r.outcome, r.reply_code, r.status) for r in results] == [
        (Outcome.ACCEPTED, 250, "2.0.0"),
        (Outcome.RETRY, 451, "4.3.0"),
        (Outcome.HARD_BOUNCE, 550, "5.1.1"),
        (Outcome.FAILED, 550, "5.7.1"),
        (Outcome.HARD_BOUNCE, 550, None),
        (Outcome.FAILED, 554, "5.7.1"),
        (Outcome.RETRY, 452, "4.2.2"),
        (Outcome.ACCEPTED, 250, "2.0.0"),
    ]
    assert results[2].detail == "<gone@example.org>: Recipient address rejected: User unknown"
    # every refusal was reset on the same connection, which carried the next message
    assert server.connections == 1
    assert [r.rcpt_tos for r in recorder.received] == [["ok1@example.org"], ["ok2@example.org"]]


def test_a_refused_sender_is_failed_not_a_bounce(server: SmtpServer, transport: SmtpTransport) -> None:
    server.recorder.mail["news@shop.example"] = "553 5.1.8 <news@shop.example>: Sender address rejected"
    results = transport.send_many(sender(server.url()), emails(2))
    assert [(r.outcome, r.status) for r in results] == [(Outcome.FAILED, "5.1.8")] * 2


def test_a_server_that_stops_answering_is_a_retry(server: SmtpServer, transport: SmtpTransport) -> None:
    server.recorder.hang.add("person1@example.org")
    results = transport.send_many(sender(server.url(query="connections=1&timeout=0.3")), emails(3))
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.RETRY, Outcome.ACCEPTED]
    assert results[1].detail is not None
    assert "connection lost" in results[1].detail
    assert server.connections == 2  # the timed-out connection was closed and another opened


def test_nothing_listening_is_a_retry_for_every_message(transport: SmtpTransport) -> None:
    with SmtpServer() as gone:
        url = gone.url()
    results = transport.send_many(sender(url), emails(3))
    assert [r.outcome for r in results] == [Outcome.RETRY] * 3
    assert all((r.detail or "").startswith("cannot connect") for r in results)


def test_starttls_and_auth(certificate: Certificate, transport: SmtpTransport) -> None:
    options = {
        "tls_context": certificate.server(),
        "require_starttls": True,
        "authenticator": authenticate,
        "auth_required": True,
    }
    with SmtpServer(**options) as secure:
        credentials = f"{USER}:p%40ss%3Aword@"
        for scheme in ("smtp+starttls", "smtp"):  # required, and opportunistic when offered
            results = transport.send_many(sender(secure.url(scheme, credentials=credentials)), emails(2))
            assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
        assert len(secure.recorder.received) == 4
        assert all(r.tls and r.login == USER.encode() for r in secure.recorder.received)
        assert PASSWORD == "p@ss:word"

        wrong = transport.send_many(
            sender(secure.url("smtp+starttls", credentials=f"{USER}:nope@")), emails(1)
        )
        assert wrong[0].outcome is Outcome.RETRY
        assert wrong[0].reply_code == 535
        # without STARTTLS the server refuses the mail (530: the configuration, so it waits)
        plain = transport.send_many(sender(secure.url(query="starttls=false")), emails(1))
        assert (plain[0].outcome, plain[0].reply_code) == (Outcome.RETRY, 530)
        # without verification a self-signed server is accepted; with it, refused
        unverified = SmtpTransport(now=lambda: DATE, local_hostname="nurture.test")
        try:
            url = secure.url("smtp+starttls", "verify=false", credentials)
            assert unverified.send_many(sender(url), emails(1))[0].outcome is Outcome.ACCEPTED
            checked = unverified.send_many(
                sender(secure.url("smtp+starttls", credentials=credentials)), emails(1)
            )
            assert checked[0].outcome is Outcome.RETRY  # the self-signed certificate is not trusted
        finally:
            unverified.close()


def test_implicit_tls(certificate: Certificate, transport: SmtpTransport) -> None:
    with SmtpServer(ssl_context=certificate.server()) as smtps:
        results = transport.send_many(sender(smtps.url("smtps")), emails(2))
        assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
        assert all(r.tls for r in smtps.recorder.received)


def test_a_message_that_cannot_be_built_fails_alone(server: SmtpServer, transport: SmtpTransport) -> None:
    batch = [email(message_id="a", to="a@example.org"), email(message_id="b", to="not an address"), email()]
    results = transport.send_many(sender(server.url()), batch)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.FAILED, Outcome.ACCEPTED]
    assert (results[1].detail or "").startswith("cannot be built")
    assert len(server.recorder.received) == 2


def test_rate_limited_sender_still_sends_everything(server: SmtpServer, transport: SmtpTransport) -> None:
    results = transport.send_many(sender(server.url(query="connections=3"), rate=500.0), emails(12))
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 12


def test_default_url_and_bad_urls(server: SmtpServer, certificate: Certificate) -> None:
    with pytest.raises(Invalid) as caught:
        SmtpTransport(default_url="smtp://host:99999")
    assert caught.value.errors[0].field == "smtp_url"
    defaulted = SmtpTransport(default_url=server.url(), now=lambda: DATE)
    try:
        assert defaulted.send_many(sender(None), emails(1))[0].outcome is Outcome.ACCEPTED
    finally:
        defaulted.close()
    bare = SmtpTransport()
    try:
        with pytest.raises(ValueError, match="no SMTP URL"):
            bare.send_many(sender(None), emails(1))
        with pytest.raises(Invalid, match="scheme 'http'"):
            bare.send_many(sender("http://example.org"), emails(1))
    finally:
        bare.close()
