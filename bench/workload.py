"""Realistic tracking traffic, generated deterministically from a seed.

A pool of people: half are known users (userId, and an anonymousId from before they logged in), half
are anonymous visitors. Most calls are `track` with a few hundred bytes of properties and a browser
context; some are `identify` with traits; a few are anonymous calls from a known user's old device,
which makes the server merge two profiles. Every message has a unique messageId.

Each message also yields the rows a minimal writer would store for it (`Rows`), so the ceiling writes
exactly the same data as the server.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EVENT_NAMES = (
    "Product Viewed",
    "Product Added",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
    "Signed In",
    "Article Read",
    "Video Played",
)
PLANS = ("free", "starter", "pro", "enterprise")
CATEGORIES = ("shoes", "shirts", "bags", "watches", "outdoor", "kitchen", "books")
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


def ulid(rng: random.Random, millis: int) -> str:
    """A ULID from a seeded generator, so ids are repeatable between the HTTP run and the ceiling."""
    value = millis << 80 | rng.getrandbits(80)
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


@dataclass(frozen=True)
class Person:
    index: int
    contact_id: str
    user_id: str | None
    anonymous_id: str
    email: str | None


@dataclass
class Rows:
    """What one request stores at least: events, the contacts it touches, the identities it uses."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    contacts: dict[str, Person] = field(default_factory=dict)
    identities: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class Workload:
    """Pre-built HTTP requests plus, for each request, the rows it stores (for the ceiling)."""

    requests: list[bytes]
    rows: list[Rows]
    events_per_request: int
    body_bytes: int


class Generator:
    def __init__(self, seed: int, people: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.millis = int(now.timestamp() * 1000)
        self.people = [self._person(i) for i in range(people)]
        self.counter = 0
        self.run_tag = f"{seed:x}"

    def _person(self, index: int) -> Person:
        known = index % 2 == 0
        return Person(
            index=index,
            contact_id=ulid(self.rng, self.millis - 86_400_000 + index),
            user_id=f"user-{index:07d}" if known else None,
            anonymous_id=f"anon-{ulid(self.rng, self.millis).lower()}",
            email=f"person{index}@example.com" if known else None,
        )

    def message(self, kind: str) -> tuple[dict[str, Any], Person]:
        """One Segment message of `kind` (track or identify) for a random person."""
        person = self.rng.choice(self.people)
        self.counter += 1
        at = self.now - timedelta(milliseconds=self.rng.randrange(0, 60_000))
        message: dict[str, Any] = {
            "type": kind,
            "messageId": f"bench-{self.run_tag}-{self.counter:09d}",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "context": {
                "library": {"name": "analytics.js", "version": "2.11.1"},
                "ip": f"10.{person.index % 250}.{self.counter % 250}.7",
                "userAgent": USER_AGENT,
                "locale": "en-US",
                "page": {"path": "/products/42", "referrer": "https://www.google.com/", "title": "Shop"},
            },
        }
        if person.user_id is None or self.rng.random() < 0.02:
            # an anonymous visitor, or a known user's old device before login (leads to a merge)
            message["anonymousId"] = person.anonymous_id
        else:
            message["userId"] = person.user_id
            if self.rng.random() < 0.4:
                message["anonymousId"] = person.anonymous_id
        if kind == "identify" and person.user_id is not None:
            message["userId"] = person.user_id
            message["traits"] = {
                "email": person.email,
                "firstName": f"First{person.index}",
                "lastName": f"Last{person.index}",
                "plan": self.rng.choice(PLANS),
                "company": {"name": f"Company {person.index % 97}", "employees": person.index % 500},
                "logins": self.rng.randrange(1, 200),
            }
        else:
            message["type"] = kind = "track"
            message["event"] = self.rng.choice(EVENT_NAMES)
            message["properties"] = {
                "product_id": f"sku-{self.rng.randrange(100_000):06d}",
                "name": "Trail running shoe, waterproof, size 42",
                "category": self.rng.choice(CATEGORIES),
                "price": round(self.rng.uniform(5, 400), 2),
                "currency": "EUR",
                "quantity": self.rng.randrange(1, 4),
                "url": f"https://shop.example.com/products/{self.rng.randrange(100_000)}",
                "image_url": f"https://cdn.example.com/img/{self.rng.randrange(100_000)}.jpg",
                "coupon": None,
                "in_stock": True,
            }
        return message, person

    def rows_for(self, messages: list[tuple[dict[str, Any], Person]], received_at: datetime) -> Rows:
        rows = Rows()
        for message, person in messages:
            user_id = message.get("userId")
            anonymous_id = message.get("anonymousId")
            rows.contacts[person.contact_id] = person
            if user_id:
                rows.identities.add(("user_id", user_id, person.contact_id))
            if anonymous_id:
                rows.identities.add(("anonymous_id", anonymous_id, person.contact_id))
            if message["type"] == "identify" and person.email:
                rows.identities.add(("email", person.email, person.contact_id))
            name = message.get("event")
            properties = message.get("properties") or message.get("traits") or {}
            timestamp = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
            rows.events.append(
                (
                    ulid(self.rng, self.millis),
                    person.contact_id,
                    message["messageId"],
                    message["type"],
                    name,
                    user_id,
                    anonymous_id,
                    properties,
                    message["context"],
                    timestamp,
                    timestamp,
                    received_at,
                )
            )
        return rows


def _request(path: str, body: bytes, write_key: str, host: str) -> bytes:
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def build(
    *,
    seed: int,
    parts: list[tuple[int, int]],
    write_key: str,
    host: str,
    people: int = 20_000,
    identify_share: float = 0.05,
) -> list[Workload]:
    """One workload per `(requests, events_per_request)` part, all about the same people: requests to
    `/v1/batch` when events_per_request > 1, to `/v1/track` when it is 1."""
    now = datetime.now(UTC)
    gen = Generator(seed, people, now)
    return [
        _part(gen, requests, per_request, write_key, host, identify_share, now)
        for requests, per_request in parts
    ]


def _part(
    gen: Generator,
    requests: int,
    events_per_request: int,
    write_key: str,
    host: str,
    identify_share: float,
    now: datetime,
) -> Workload:
    out: list[bytes] = []
    all_rows: list[Rows] = []
    total_bytes = 0
    for _ in range(requests):
        if events_per_request == 1:
            pair = gen.message("track")
            body = orjson.dumps(pair[0])
            path = "/v1/track"
            batch = [pair]
        else:
            batch = [
                gen.message("identify" if gen.rng.random() < identify_share else "track")
                for _ in range(events_per_request)
            ]
            body = orjson.dumps(
                {"batch": [m for m, _ in batch], "sentAt": now.isoformat().replace("+00:00", "Z")}
            )
            path = "/v1/batch"
        total_bytes += len(body)
        out.append(_request(path, body, write_key, host))
        all_rows.append(gen.rows_for(batch, now))
    return Workload(out, all_rows, events_per_request, total_bytes // max(requests, 1))
