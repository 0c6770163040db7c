"""SMS through Twilio's REST API, or any provider that speaks it (the base URL is configurable).

`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded `To`, `From` (or
`MessagingServiceSid`), `Body` and `StatusCallback`, HTTP Basic with the account SID and auth token.
One httpx client is kept for the transport's life, so a batch reuses one connection.

Answers become `DeliveryResult`s: 2xx accepted (`provider_id` = the message SID); 429, 5xx, timeouts
and refused connections retry; Twilio's errors for a number that cannot receive (21211 invalid,
21614 not a mobile number) or that has replied STOP (21610) are hard bounces, so the number is
suppressed; any other 4xx (credentials, a region not enabled, a body too long) fails the message.
A timeout after the provider took the message cannot be told apart from one before: the retry may send
it twice (Twilio has no idempotency key for messages).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx
import orjson

from nurture.domain.messages.delivery import DeliveryResult, Outcome, OutgoingSms
from nurture.domain.messages.sms import SmsSenderConfig

DEFAULT_TIMEOUT = 10.0
# Twilio error codes meaning the number itself cannot be messaged.
HARD_BOUNCE_CODES = frozenset({21211, 21610, 21614})


class TwilioSms:
    """A Twilio-compatible SMS transport; thread-safe, close it when done."""

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            transport=transport,
        )

    def send_many(self, config: SmsSenderConfig, messages: Sequence[OutgoingSms]) -> list[DeliveryResult]:
        """Send each message; never raises for one message's failure."""
        url = f"{config.base_url}/2010-04-01/Accounts/{quote(config.account_sid, safe='')}/Messages.json"
        auth = (config.account_sid, config.auth_token)
        return [self._send(url, auth, config, message) for message in messages]

    def _send(
        self, url: str, auth: tuple[str, str], config: SmsSenderConfig, message: OutgoingSms
    ) -> DeliveryResult:
        form = {"To": message.to, "Body": message.text}
        if config.messaging_service_sid:
            form["MessagingServiceSid"] = config.messaging_service_sid
        else:
            form["From"] = config.from_number or ""
        if config.status_callback:
            form["StatusCallback"] = callback_url(config.status_callback, message.message_id)
        try:
            response = self._client.post(url, data=form, auth=auth)
        except httpx.TimeoutException:
            return DeliveryResult(Outcome.RETRY, detail="timed out waiting for the SMS provider")
        except httpx.HTTPError as exc:
            return DeliveryResult(Outcome.RETRY, detail=f"{type(exc).__name__}: {exc}"[:500])
        return result_of(response.status_code, response.content)

    def close(self) -> None:
        self._client.close()


def callback_url(base: str, message_id: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}{urlencode({'message_id': message_id})}"


def result_of(status: int, content: bytes) -> DeliveryResult:
    """Map one API answer to a delivery result."""
    body = _json(content)
    if 200 <= status < 300:
        sid = body.get("sid")
        return DeliveryResult(
            Outcome.ACCEPTED,
            reply_code=status,
            provider_id=str(sid) if sid else None,
            detail=body.get("status"),
        )
    code = body.get("code")
    detail = str(body.get("message") or content[:300].decode("utf-8", errors="replace"))
    status_code = str(code) if code is not None else None
    if status == 429 or status >= 500:
        return DeliveryResult(Outcome.RETRY, reply_code=status, status=status_code, detail=detail)
    if isinstance(code, int) and code in HARD_BOUNCE_CODES:
        return DeliveryResult(Outcome.HARD_BOUNCE, reply_code=status, status=status_code, detail=detail)
    return DeliveryResult(Outcome.FAILED, reply_code=status, status=status_code, detail=detail)


def _json(content: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def signature(auth_token: str, url: str, params: Mapping[str, Sequence[str]]) -> str:
    """`X-Twilio-Signature`: base64 HMAC-SHA1 of the full URL followed by every POST parameter's name
    and value, sorted by name (a repeated name's values sorted too)."""
    data = url + "".join(name + value for name in sorted(params) for value in sorted(params[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_signature(auth_token: str, url: str, params: Mapping[str, Sequence[str]], given: str) -> bool:
    """Whether `given` signs the request. Twilio signs the URL as it called it, with or without the
    default port, so both spellings are accepted (as Twilio's own validators do)."""
    if not given:
        return False
    return any(
        hmac.compare_digest(signature(auth_token, candidate, params), given) for candidate in _spellings(url)
    )


def _spellings(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    with_port = urlunsplit((parts.scheme, f"{host}:{parts.port or default}", parts.path, parts.query, ""))
    without = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
    if parts.port is not None and parts.port != default:
        return [url]
    return list(dict.fromkeys([url, without, with_port]))
