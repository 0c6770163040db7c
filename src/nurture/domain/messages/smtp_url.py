"""`NURTURE_SMTP_URL` and per-sender SMTP settings, as one URL.

    smtp://user:pass@host:port            plain; STARTTLS when the server offers it (port 25)
    smtp://host?starttls=false            plain, never STARTTLS (a local relay)
    smtp+starttls://user:pass@host        STARTTLS required (port 587)
    smtps://user:pass@host                TLS from the first byte (port 465)

Query options: `starttls=true|false` (smtp:// only), `verify=false` (accept any certificate: a relay
with a self-signed one), `connections=N` (open connections kept per server, default 4), `timeout=S`
(seconds per command, default 30). User and password are percent-decoded (`p%40ss` is `p@ss`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit

from nurture.domain.errors import Invalid


class Tls(StrEnum):
    IMPLICIT = "implicit"  # smtps://
    REQUIRED = "required"  # STARTTLS or fail
    OPPORTUNISTIC = "opportunistic"  # STARTTLS when offered
    NONE = "none"


_SCHEMES = {
    "smtp": (Tls.OPPORTUNISTIC, 25),
    "smtp+starttls": (Tls.REQUIRED, 587),
    "smtps": (Tls.IMPLICIT, 465),
}
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_MAX_CONNECTIONS = 64


@dataclass(frozen=True)
class SmtpUrl:
    """Where and how to connect; the password never shows in a repr or a log line."""

    host: str
    port: int
    tls: Tls
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: bool = True
    connections: int = 4
    timeout: float = 30.0


def parse_smtp_url(url: str, field_name: str = "smtp_url") -> SmtpUrl:
    """Parse an SMTP URL; `Invalid` at `field_name` says which part is wrong and what is expected."""

    def bad(message: str) -> Invalid:
        return Invalid.one(field_name, message)

    try:
        parts = urlsplit(url.strip())
        port_given = parts.port
    except ValueError as err:
        raise bad(f"not a valid URL ({err}); expected smtp://user:password@host:port") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise bad(f"scheme {scheme or '(none)'!r} is not one of smtp, smtp+starttls, smtps")
    tls, default_port = _SCHEMES[scheme]
    if not parts.hostname:
        raise bad("host is missing; expected smtp://host or smtp://user:password@host:port")
    if parts.path not in ("", "/") or parts.fragment:
        raise bad("has a path or fragment; an SMTP URL ends after host:port (options go after '?')")
    if port_given == 0:
        raise bad("port must be from 1 to 65535")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise bad("a password needs a user name (smtp://user:password@host)")
    verify, connections, timeout = True, 4, 30.0
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        flag = _BOOLEANS.get(value.lower())
        if name in ("starttls", "verify") and flag is None:
            raise bad(f"{name}: {value!r} is not true or false")
        if name == "starttls":
            if tls is Tls.IMPLICIT:
                raise bad("starttls: smtps:// is TLS already; use smtp:// or smtp+starttls://")
            tls = Tls.REQUIRED if flag else Tls.NONE
        elif name == "verify":
            verify = bool(flag)
        elif name == "connections":
            if not value.isdigit() or not 1 <= int(value) <= _MAX_CONNECTIONS:
                raise bad(f"connections: {value!r} is not a whole number from 1 to {_MAX_CONNECTIONS}")
            connections = int(value)
        elif name == "timeout":
            timeout = _seconds(value)
            if not 0 < timeout <= 600:
                raise bad(f"timeout: {value!r} is not a number of seconds above 0 and at most 600")
        else:
            raise bad(f"unknown option {name!r}; use starttls, verify, connections or timeout")
    return SmtpUrl(
        parts.hostname, port_given or default_port, tls, username, password, verify, connections, timeout
    )


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return -1.0
