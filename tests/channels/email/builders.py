"""Outgoing emails and keys for the channel tests."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from nurture.domain.messages.delivery import OutgoingEmail

DATE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
UNSUBSCRIBE = (
    ("List-Unsubscribe", "<https://nurture.example/u/tok>, <mailto:unsub@nurture.example?subject=tok>"),
    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
)


def email(**changes: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "message_id": "k3v6xq2m4n5p7r8s9t0u1w2y3z",
        "from_email": "news@shop.example",
        "from_name": "Example Shop",
        "to": "alice@example.org",
        "subject": "Your cart is waiting",
        "html": "<p>Hi Alice</p>",
        "text": "Hi Alice",
        "reply_to": None,
        "headers": (),
    }
    fields.update(changes)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
