"""DKIM signatures (RFC 6376): dkimpy's canonicalization, header selection and folding, with the RSA
step done by OpenSSL through `cryptography`.

dkimpy signs with its own pure-Python RSA (`pow` on big integers): about 160 signatures/s per core for
a 2048-bit key, which alone would hold the email channel below its target. The same PKCS#1 v1.5
signature from OpenSSL takes a twentieth of the time. RSA PKCS#1 v1.5 is deterministic, so the header
written here is byte for byte the one `dkim.sign` writes (a test holds it to that), and receivers
verify it like any other.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy

from nurture.domain.errors import Invalid
from nurture.domain.messages.delivery import DkimKey

# What a signature covers, when present. From is signed once more than it occurs, so a From added on
# the way breaks the signature (dkimpy's default "frozen" header).
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"reply-to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
_CANONICALIZATION = b"relaxed/simple"  # dkimpy's default: header folding may change on the way
_POLICY = CanonicalizationPolicy.from_c_value(_CANONICALIZATION)
_NAME = b"DKIM-Signature"
_MIN_BITS = 1024


@dataclass(frozen=True)
class _Signer:
    key: rsa.RSAPrivateKey
    domain: bytes
    selector: bytes


@lru_cache(maxsize=256)
def _signer(key: DkimKey) -> _Signer:
    # loading checks the key's consistency, which costs milliseconds: once per key per process
    try:
        private = serialization.load_pem_private_key(key.private_key, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise Invalid.one("dkim.private_key", "is not an unencrypted PEM private key") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise Invalid.one("dkim.private_key", "must be an RSA key (rsa-sha256)")
    if private.key_size < _MIN_BITS:
        raise Invalid.one("dkim.private_key", f"has {private.key_size} bits; use at least 2048")
    for field, value in (("dkim.domain", key.domain), ("dkim.selector", key.selector)):
        if not value or not value.isascii() or any(c in value for c in " ;=\r\n\t"):
            raise Invalid.one(field, "must be an ASCII domain name")
    return _Signer(private, key.domain.lower().encode("ascii"), key.selector.encode("ascii"))


def check_dkim_key(key: DkimKey) -> None:
    """Raise `Invalid` naming the field (`dkim.private_key`, `dkim.domain`, `dkim.selector`) when the
    key cannot sign: for sender settings to call when they are saved."""
    _signer(key)


def dkim_signature(headers: list[tuple[bytes, bytes]], body: bytes, key: DkimKey, *, timestamp: int) -> bytes:
    """The `DKIM-Signature:` field (ending in CRLF) for a message made of `headers` (name, value as
    written after the colon, with its CRLF) and `body`, signed at `timestamp` (the t= tag)."""
    signer = _signer(key)
    present = {name.lower() for name, _ in headers}
    include = (*(name for name in SIGNED_HEADERS if name in present), b"from")
    body_hash = base64.b64encode(hashlib.sha256(_POLICY.canonicalize_body(body)).digest())
    fields = [
        (b"v", b"1"),
        (b"a", b"rsa-sha256"),
        (b"c", _CANONICALIZATION),
        (b"d", signer.domain),
        (b"i", b"@" + signer.domain),
        (b"q", b"dns/txt"),
        (b"s", signer.selector),
        (b"t", str(timestamp).encode("ascii")),
        (b"h", b" : ".join(include)),
        (b"bh", body_hash),
        (b"b", b"0" * 60),  # dkimpy's placeholder: b= folds onto its own line before it is filled in
    ]
    value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_NAME), linesep=b"\r\n")
    unsigned = (_NAME, b" " + dkim.RE_BTAG.sub(b"\\1", value))
    hasher = hashlib.sha256()
    dkim.hash_headers(hasher, _POLICY, _POLICY.canonicalize_headers(headers), include, unsigned, {})
    signature = signer.key.sign(hasher.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    fields[-1] = (b"b", base64.b64encode(signature))
    folded: bytes = dkim.fold(
        b"; ".join(b"=".join(f) for f in fields) + b"\r\n", namelen=len(_NAME), linesep=b"\r\n"
    )
    return _NAME + b": " + folded
