"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can be told how to
answer: per recipient at RCPT or after DATA, per sender at MAIL, or not at all (a timeout). It counts
the connections that said EHLO and can drop them all, as a server closing idle connections does."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "mailer", "p@ss:word"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: bytes | None


@dataclass
class Recorder:
    """The aiosmtpd handler: records messages; `rcpt`, `data` and `mail` map an address to the
    reply it gets at that stage; `hang` makes DATA never answer for a recipient."""

    received: list[Received] = field(default_factory=list)
    rcpt: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    mail: dict[str, str] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    servers: list[SMTP] = field(default_factory=list)
    release: asyncio.Event | None = None

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        if server not in self.servers:  # EHLO comes again after STARTTLS, on the same connection
            self.servers.append(server)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.mail:
            return self.mail[address]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt:
            return self.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipient = envelope.rcpt_tos[0]
        if recipient in self.hang:
            self.release = self.release or asyncio.Event()
            await self.release.wait()
        if recipient in self.data:
            return self.data[recipient]
        content = envelope.original_content
        assert isinstance(content, bytes)
        assert envelope.mail_from is not None
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), content, tls, login))
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """An aiosmtpd Controller on 127.0.0.1 with a `Recorder`; `**options` go to aiosmtpd's SMTP
    (tls_context, require_starttls, authenticator, auth_required) and `ssl_context` makes it smtps."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **options: Any) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, ssl_context=ssl_context, **options
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.recorder.release is not None:
            self.controller.loop.call_soon_threadsafe(self.recorder.release.set)
        self.controller.stop()

    @property
    def connections(self) -> int:
        """Connections that began an SMTP session (said EHLO)."""
        return len(self.recorder.servers)

    def drop_all(self) -> None:
        """Close every connection from the server side, and return once that is done."""

        async def drop() -> None:
            for server in self.recorder.servers:
                if server.transport is not None:
                    server.transport.close()

        asyncio.run_coroutine_threadsafe(drop(), self.controller.loop).result()

    def url(self, scheme: str = "smtp", query: str = "", credentials: str = "") -> str:
        return f"{scheme}://{credentials}127.0.0.1:{self.port}{'?' + query if query else ''}"


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1, made for the test; `server()` and `client()` give
    the TLS contexts of each side (the client trusts exactly this certificate)."""

    cert_file: Path
    key_file: Path
    pem: bytes

    def server(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.pem.decode())


def make_certificate(directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(cert_file, key_file, pem)
