"""Fixtures of the email channel tests: a DKIM test key and dkimpy's DNS hook serving its public key;
a self-signed certificate for the TLS servers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from nurture.domain.messages.delivery import DkimKey
from tests.channels.email.builders import pem
from tests.channels.email.smtp_server import Certificate, make_certificate


@pytest.fixture(scope="session")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def key(private_key: rsa.RSAPrivateKey) -> DkimKey:
    return DkimKey(domain="shop.example", selector="s2026", private_key=pem(private_key))


@pytest.fixture(scope="session")
def dns(private_key: rsa.RSAPrivateKey) -> Callable[..., bytes | None]:
    """dkimpy's DNS hook: the TXT record of s2026._domainkey.shop.example, and nothing else."""
    public = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"s2026._domainkey.shop.example." else None

    return dnsfunc


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(Path(tmp_path_factory.mktemp("tls")))
