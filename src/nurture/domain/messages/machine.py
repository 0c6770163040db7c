"""Which opens and clicks were made by machines rather than people: Apple Mail Privacy Protection
fetching images for the recipient, and security gateways and link scanners fetching everything in a
message as it arrives. Such hits are recorded all the same, flagged `machine: true` with the rule that
matched, and left out of "unique human" opens and clicks.

The rules, from what ESPs document about these fetchers (SocketLabs, Listrak and others on MPP;
scanner behaviour as deliverability practitioners describe it):

    head_request   a HEAD request: browsers and mail clients GET; scanners probe links with HEAD
    apple_mpp      an open whose user agent is exactly `Mozilla/5.0` (the MPP proxy's generic agent),
                   or any hit from Apple's own network 17.0.0.0/8 (MPP prefetch, Mail link checks)
    scanner        a user agent naming a security gateway or a generic HTTP client or bot
                   (Barracuda, Mimecast, Proofpoint, Safe Links, curl, python-requests, headless browsers…)
    no_user_agent  no user agent at all (every mail client and browser sends one)
    too_fast       within 10 seconds of the message being sent: before a person could have read it

Image proxies that fetch when the person opens the message (Gmail's GoogleImageProxy, Yahoo's
YahooMailProxy) count as human. Apple's Private Relay egress ranges are not bundled: they are large,
change often and are shared by people browsing with Private Relay.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
MPP_USER_AGENT = "Mozilla/5.0"
TOO_FAST = timedelta(seconds=10)
_SCANNERS = re.compile(
    r"barracuda|mimecast|proofpoint|messagelabs|symantec|forcepoint|trend ?micro|sophos|fortiguard"
    r"|zscaler|ironport|safelinks|safe links|bingpreview|linkcheck|scanner|crawler|spider|bot\b|bot/"
    r"|python-requests|python-urllib|aiohttp|httpx|curl/|wget/|go-http-client|okhttp|java/|libwww"
    r"|headlesschrome|phantomjs",
    re.IGNORECASE,
)


class Hit(StrEnum):
    OPEN = "open"
    CLICK = "click"


@dataclass(frozen=True)
class Visit:
    """What a request to a tracking link tells about who made it."""

    method: str  # GET or HEAD
    user_agent: str | None
    ip: str | None


def machine_reason(hit: Hit, visit: Visit, at: datetime, sent_at: datetime | None) -> str | None:
    """The rule that marks this hit as a machine's, or None for a person's."""
    agent = (visit.user_agent or "").strip()
    if visit.method.upper() == "HEAD":
        return "head_request"
    if (hit is Hit.OPEN and agent == MPP_USER_AGENT) or _apple(visit.ip):
        return "apple_mpp"
    if _SCANNERS.search(agent):
        return "scanner"
    if not agent:
        return "no_user_agent"
    if sent_at is not None and at - sent_at < TOO_FAST:
        return "too_fast"
    return None


def _apple(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in APPLE_NETWORK
