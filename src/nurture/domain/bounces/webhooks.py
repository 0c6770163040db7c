"""Per-provider webhook configuration (what a signature is checked with) and reading one request:
verify by the provider's scheme, then parse into `DeliveryReport`s."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nurture.domain.bounces.delivery import DeliveryReport, Provider
from nurture.domain.bounces.providers import mailgun, postmark, sendgrid, ses
from nurture.domain.errors import FieldError, Invalid, NotFound

MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Received:
    """What one webhook request carried: reports, or an SNS subscription to confirm."""

    reports: list[DeliveryReport] = field(default_factory=list)
    subscribe_url: str | None = None  # SNS SubscriptionConfirmation: visit it (GET) to confirm


def check_provider(provider: str) -> str:
    if provider not in Provider.ALL:
        raise NotFound(f"no delivery webhook for provider {provider!r}: use one of {', '.join(Provider.ALL)}")
    return provider


def check_config(provider: str, raw: Any) -> dict[str, Any]:
    """The settings a provider's signature needs, checked; errors name the field."""
    if provider not in Provider.ALL:
        raise Invalid.one("provider", f"must be one of {', '.join(Provider.ALL)}")
    if not isinstance(raw, dict):
        raise Invalid.one("", "must be a JSON object")
    if provider == Provider.SENDGRID:
        return {"public_key": _sendgrid_key(raw.get("public_key"))}
    if provider == Provider.MAILGUN:
        return {"signing_key": _secret(raw.get("signing_key"), "signing_key", required=True)}
    if provider == Provider.POSTMARK:
        password = _secret(raw.get("basic_password"), "basic_password", required=False)
        return {"basic_password": password} if password else {}
    return _ses_config(raw)


def _secret(value: object, name: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
        raise Invalid.one(name, f"must be a string of at least {MIN_SECRET_LENGTH} characters")
    return value.strip()


def _sendgrid_key(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid.one(
            "public_key", "is required: the verification key SendGrid shows for the signed webhook"
        )
    try:
        key = serialization.load_der_public_key(base64.b64decode(value.strip(), validate=True))
    except (ValueError, binascii.Error):
        raise Invalid.one("public_key", "is not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise Invalid.one("public_key", "is not an ECDSA public key")
    return value.strip()


def _ses_config(raw: dict[str, Any]) -> dict[str, Any]:
    pem, arns = raw.get("certificates_pem"), raw.get("topic_arns", [])
    errors = []
    if not isinstance(pem, str) or "BEGIN CERTIFICATE" not in pem:
        errors.append(FieldError("certificates_pem", "is required: the PEM of the SNS signing certificate"))
    else:
        try:
            x509.load_pem_x509_certificates(pem.encode())
        except ValueError as exc:
            errors.append(FieldError("certificates_pem", f"is not a PEM certificate: {exc}"))
    if not isinstance(arns, list) or not all(isinstance(a, str) and a.startswith("arn:") for a in arns):
        errors.append(FieldError("topic_arns", "must be a list of SNS topic ARNs (arn:aws:sns:…)"))
    if errors:
        raise Invalid(errors)
    return {"certificates_pem": pem, "topic_arns": list(arns)}


def read(
    provider: str, config: dict[str, Any], body: bytes, headers: dict[str, str], now: datetime
) -> Received:
    """Verify one request (Unauthorized if it fails), then parse it (Invalid naming the field)."""
    if provider == Provider.SENDGRID:
        sendgrid.verify(body, headers, config["public_key"], now)
        return Received(sendgrid.parse(body))
    if provider == Provider.MAILGUN:
        mailgun.verify(body, config["signing_key"], now)
        return Received(mailgun.parse(body))
    if provider == Provider.POSTMARK:
        if config.get("basic_password"):
            postmark.verify_basic(headers.get("authorization"), config["basic_password"])
        return Received(postmark.parse(body))
    message = ses.envelope(body)
    ses.verify(message, config["certificates_pem"], config.get("topic_arns", []))
    if message.type == "SubscriptionConfirmation":
        return Received(subscribe_url=message.subscribe_url)
    return Received(ses.parse(message))
