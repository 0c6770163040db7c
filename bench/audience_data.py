"""A deterministic workspace for the audience benchmarks: contacts with attributes, time zones and
accounts, and two years of events in sessions (page views, product views, carts, orders with
revenue, sign-ins), generated from a seed and a fixed "now" and streamed, never held whole in memory.

Shapes:
- contacts sign up over the three years before `NOW`, in id order; 70% are known users (user id and
  email), 30% anonymous visitors; every contact has an anonymous id. 40% have a time zone.
- activity is heavy-tailed (Pareto weights; a quarter of the contacts never come back after signing
  up) and half of the contacts stop coming at some moment (churn), so recent windows are sparser
  than the whole history.
- events arrive in time order, in sessions: sign-in (known users, sometimes), page views, product
  views, then sometimes an add to cart, a checkout and an order whose `revenue` is the sum of its
  items' prices. Daily volume grows over the two years, weekends are quieter.
- prices are multiples of 0.25, so sums of revenue are exact in binary floating point and in
  `numeric` alike, and every evaluator compares the same numbers.

Rows come out as tuples in the column order of `*_COLUMNS`, with JSON as text and times as text in
UTC ("YYYY-MM-DD HH:MM:SS.ffffff"), which both SQLite (as the store writes it) and PostgreSQL (in a
session with TimeZone UTC) read as the same instant.
"""

from __future__ import annotations

import bisect
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

NOW = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
HISTORY_DAYS = 730
SIGNUP_DAYS = 1095
DAY_US = 86_400_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW_US = (NOW - EPOCH) // timedelta(microseconds=1)

CONTACTS_COLUMNS = (
    "workspace_id",
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "timezone",
    "locale",
    "attributes",
    "created_at",
    "updated_at",
    "last_seen_at",
    "lifecycle_stage",
)
IDENTITIES_COLUMNS = ("workspace_id", "kind", "value", "contact_id", "created_at")
EVENTS_COLUMNS = (
    "workspace_id",
    "id",
    "contact_id",
    "message_id",
    "type",
    "name",
    "user_id",
    "anonymous_id",
    "properties",
    "context",
    "timestamp",
    "sent_at",
    "received_at",
)
ACCOUNTS_COLUMNS = (
    "workspace_id",
    "id",
    "group_id",
    "name",
    "domain",
    "attributes",
    "created_at",
    "updated_at",
)
MEMBERS_COLUMNS = ("workspace_id", "account_id", "contact_id", "created_at")

PLANS = (("free", 0.55), ("starter", 0.22), ("pro", 0.16), ("enterprise", 0.07))
COUNTRIES = (
    ("US", 0.30),
    ("DE", 0.14),
    ("GB", 0.12),
    ("FR", 0.09),
    ("BR", 0.06),
    ("IN", 0.06),
    ("NL", 0.05),
    ("ES", 0.05),
    ("SE", 0.04),
    ("PL", 0.04),
    ("JP", 0.03),
    ("AU", 0.02),
)
TIMEZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "America/Chicago",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "Europe/Madrid",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP", "nl-NL")
COMPANY_SIZES = (1, 10, 50, 200, 1000, 5000)
FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lea",
)
LAST_NAMES = (
    "Smith",
    "Müller",
    "Martin",
    "Garcia",
    "Rossi",
    "Kowalski",
    "Tanaka",
    "Silva",
    "Jansen",
    "Öztürk",
)
CATEGORIES = ("shoes", "shirts", "bags", "watches", "outdoor", "kitchen", "books")
PAGES = ("/", "/pricing", "/blog", "/docs", "/products", "/about", "/careers", "/contact")
SIGN_IN_METHODS = ("password", "google", "magic_link")
INDUSTRIES = ("retail", "software", "finance", "health", "education", "manufacturing")


@dataclass(frozen=True)
class Scale:
    contacts: int = 1_000_000
    events: int = 10_000_000
    seed: int = 2026


_PAIRS = [a + b for a in "0123456789ABCDEFGHJKMNPQRSTVWXYZ" for b in "0123456789ABCDEFGHJKMNPQRSTVWXYZ"]
_DAYS: dict[int, str] = {}


def ulid(rng: random.Random, millis: int) -> str:
    """A ULID (48-bit milliseconds, 80 random bits) in 26 Crockford base32 characters."""
    v = millis << 80 | rng.getrandbits(80)
    p = _PAIRS
    return (
        p[v >> 120]
        + p[v >> 110 & 1023]
        + p[v >> 100 & 1023]
        + p[v >> 90 & 1023]
        + p[v >> 80 & 1023]
        + p[v >> 70 & 1023]
        + p[v >> 60 & 1023]
        + p[v >> 50 & 1023]
        + p[v >> 40 & 1023]
        + p[v >> 30 & 1023]
        + p[v >> 20 & 1023]
        + p[v >> 10 & 1023]
        + p[v & 1023]
    )


def stamp(us: int) -> str:
    """Microseconds since the epoch as the UTC text both databases read ("YYYY-MM-DD HH:MM:SS.ffffff")."""
    day, rest = divmod(us, DAY_US)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%d ")
    seconds, fraction = divmod(rest, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{fraction:06d}"


def _cumulative(weights: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    names = [name for name, _ in weights]
    total = 0.0
    cum = []
    for _, weight in weights:
        total += weight
        cum.append(total)
    return names, cum


@dataclass
class Catalog:
    """Products with a category and a price in quarters."""

    ids: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    prices: list[float] = field(default_factory=list)


@dataclass
class Generated:
    """What a generator run produced, beside the rows: counts per table."""

    contacts: int = 0
    identities: int = 0
    events: int = 0
    accounts: int = 0
    members: int = 0


class Workspace:
    """One generated workspace. Call `events()` first (it learns who was seen when and who bought),
    then `contacts()`, `identities()`, `accounts()` and `members()`; every stream is deterministic."""

    def __init__(self, workspace_id: str, scale: Scale) -> None:
        self.workspace_id = workspace_id
        self.scale = scale
        rng = random.Random(scale.seed)
        n = scale.contacts
        start = NOW_US - SIGNUP_DAYS * DAY_US
        span = (SIGNUP_DAYS - 2) * DAY_US
        self.created = array("q")
        self.churn = array("q")
        self.ids: list[str] = []
        self.known = bytearray(n)
        weights = array("d")
        total = 0.0
        for i in range(n):
            created = start + int(span * (i + rng.random()) / n)
            self.created.append(created)
            self.ids.append(ulid(rng, created // 1000))
            known = rng.random() < 0.7
            self.known[i] = known
            if rng.random() < 0.25:
                weight = 0.0
            else:
                weight = min(rng.paretovariate(1.3), 300.0) * (1.0 if known else 0.4)
            total += weight
            weights.append(total)
            gone = created + int(rng.random() * (NOW_US + 365 * DAY_US - created))
            self.churn.append(gone if rng.random() < 0.5 else NOW_US + DAY_US)
        self.cum_weights = weights
        self.last_seen = array("q", [0]) * n
        self.revenue = array("d", [0.0]) * n
        self.orders = array("q", [0]) * n
        catalog_rng = random.Random(scale.seed + 1)
        self.catalog = Catalog()
        for p in range(500):
            self.catalog.ids.append(f"sku-{p:05d}")
            self.catalog.categories.append(catalog_rng.choice(CATEGORIES))
            self.catalog.prices.append(catalog_rng.randrange(20, 1600) / 4)
        self.counts = Generated(contacts=n)

    # ---- events ----

    def _daily_targets(self) -> list[int]:
        weights = []
        first_day = NOW_US // DAY_US - HISTORY_DAYS
        for d in range(HISTORY_DAYS):
            weekday = (first_day + d + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
            weights.append((1.0 + 1.5 * d / HISTORY_DAYS) * (0.75 if weekday >= 5 else 1.0))
        total = sum(weights)
        targets = []
        done = 0
        acc = 0.0
        for w in weights:
            acc += w
            upto = round(self.scale.events * acc / total)
            targets.append(upto - done)
            done = upto
        return targets

    def raw_events(self) -> Iterator[tuple[int, str, dict[str, Any], int]]:
        """(contact index, name, properties, timestamp µs) in time order, exactly `scale.events` of them."""
        rng = random.Random(self.scale.seed + 2)
        day0 = NOW_US - HISTORY_DAYS * DAY_US
        cum = self.cum_weights
        created = self.created
        orders = 0
        owed = 0  # events a day could not have (nobody active yet) move to the next day
        for d, target in enumerate(self._daily_targets()):
            target += owed
            day_start = day0 + d * DAY_US
            eligible = bisect.bisect_left(created, day_start)
            day: list[tuple[int, str, dict[str, Any], int]] = []
            top = cum[eligible - 1] if eligible else 0.0
            misses = 0
            while len(day) < target and top > 0.0 and misses < 1000:
                c = bisect.bisect_right(cum, rng.random() * top, 0, eligible)
                at = day_start + int(rng.random() * (DAY_US - 3_600_000_000))
                if at >= self.churn[c]:
                    misses += 1
                    continue
                misses = 0
                session = self._session(rng, c, at, orders)
                orders += sum(1 for e in session if e[1] == "Order Completed")
                day.extend(session[: target - len(day)])
            owed = target - len(day)
            day.sort(key=lambda e: e[3])
            for event in day:
                c = event[0]
                self.last_seen[c] = event[3]
                if event[1] == "Order Completed":
                    self.orders[c] += 1
                    self.revenue[c] += event[2]["revenue"]
            yield from day

    def _session(
        self, rng: random.Random, c: int, at: int, orders: int
    ) -> list[tuple[int, str, dict[str, Any], int]]:
        out: list[tuple[int, str, dict[str, Any], int]] = []
        random_ = rng.random
        catalog = self.catalog

        def add(name: str, properties: dict[str, Any]) -> None:
            nonlocal at
            out.append((c, name, properties, at))
            at += 2_000_000 + int(random_() * 90_000_000)

        if self.known[c] and random_() < 0.3:
            add("Signed In", {"method": SIGN_IN_METHODS[int(random_() * 3)]})
        pages = 1
        while random_() < 0.45 and pages < 8:
            pages += 1
        for _ in range(pages):
            path = PAGES[int(random_() * len(PAGES))]
            add("Page Viewed", {"path": path, "title": path.strip("/").title() or "Home"})
        if random_() < 0.1:
            add("Search Performed", {"query": CATEGORIES[int(random_() * len(CATEGORIES))]})
        viewed: list[int] = []
        while random_() < 0.55 and len(viewed) < 5:
            p = int(random_() * 500)
            viewed.append(p)
            add(
                "Product Viewed",
                {
                    "product_id": catalog.ids[p],
                    "category": catalog.categories[p],
                    "price": catalog.prices[p],
                    "currency": "EUR",
                },
            )
        cart: list[tuple[int, int]] = []
        for p in viewed:
            if random_() < 0.35:
                quantity = 1 + int(random_() < 0.2)
                cart.append((p, quantity))
                add(
                    "Product Added",
                    {"product_id": catalog.ids[p], "price": catalog.prices[p], "quantity": quantity},
                )
        if cart and random_() < 0.5:
            value = sum(catalog.prices[p] * q for p, q in cart)
            add("Checkout Started", {"value": value, "currency": "EUR", "items": len(cart)})
            if random_() < 0.65:
                add(
                    "Order Completed",
                    {
                        "order_id": f"ord-{self.scale.seed}-{orders:09d}",
                        "revenue": value,
                        "currency": "EUR",
                        "products": [catalog.ids[p] for p, _ in cart],
                    },
                )
        if random_() < 0.05:
            add("Video Played", {"video_id": f"vid-{int(random_() * 40)}", "position": int(random_() * 300)})
        return out

    def events(self) -> Iterator[tuple[Any, ...]]:
        """Rows for `events` (EVENTS_COLUMNS)."""
        rng = random.Random(self.scale.seed + 3)
        ws = self.workspace_id
        ids = self.ids
        known = self.known
        dumps = orjson.dumps
        count = 0
        for c, name, properties, at in self.raw_events():
            count += 1
            anonymous_id = f"anon-{c:08d}"
            context = (
                f'{{"ip":"10.{c % 250}.{(c >> 8) % 250}.{c % 7}",'
                f'"library":{{"name":"analytics.js","version":"4.1.{c % 3}"}},"locale":"en-US"}}'
            )
            yield (
                ws,
                ulid(rng, at // 1000),
                ids[c],
                f"{rng.getrandbits(128):032x}",
                "track",
                name,
                f"user-{c:08d}" if known[c] else None,
                anonymous_id,
                dumps(properties).decode(),
                context,
                stamp(at),
                stamp(at + 150_000),
                stamp(at + 400_000),
            )
        self.counts.events = count

    # ---- contacts, identities, accounts ----

    def contact_attributes(self, rng: random.Random, i: int, plans: Any, countries: Any) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "plan": rng.choices(plans[0], cum_weights=plans[1])[0],
            "country": rng.choices(countries[0], cum_weights=countries[1])[0],
            "signup_date": stamp(self.created[i])[:10],
            "newsletter": rng.random() < 0.4,
        }
        if rng.random() < 0.4:
            attributes["company_size"] = rng.choice(COMPANY_SIZES)
        if self.orders[i]:
            attributes["orders"] = self.orders[i]
            attributes["lifetime_value"] = self.revenue[i]
        return attributes

    def contacts(self) -> Iterator[tuple[Any, ...]]:
        """Rows for `contacts` (CONTACTS_COLUMNS); call after `events()` has been consumed."""
        rng = random.Random(self.scale.seed + 4)
        plans = _cumulative(PLANS)
        countries = _cumulative(COUNTRIES)
        dumps = orjson.dumps
        for i in range(self.scale.contacts):
            known = self.known[i]
            seen = self.last_seen[i]
            created = stamp(self.created[i])
            attributes = self.contact_attributes(rng, i, plans, countries)
            if self.orders[i]:
                stage = "customer"
            elif known:
                stage = "lead" if rng.random() < 0.3 else "subscriber"
            else:
                stage = None
            yield (
                self.workspace_id,
                self.ids[i],
                f"user{i}@example{i % 17}.com" if known else None,
                f"+4930{rng.randrange(1_000_000, 9_999_999)}" if known and rng.random() < 0.3 else None,
                rng.choice(FIRST_NAMES) if known else None,
                rng.choice(LAST_NAMES) if known else None,
                rng.choice(TIMEZONES) if rng.random() < 0.4 else None,
                rng.choice(LOCALES) if rng.random() < 0.5 else None,
                dumps(attributes).decode(),
                created,
                stamp(max(seen, self.created[i])),
                stamp(seen) if seen else None,
                stage,
            )

    def identities(self) -> Iterator[tuple[Any, ...]]:
        """Rows for `contact_identities`: every contact's anonymous id, known users' user id and email."""
        ws = self.workspace_id
        for i in range(self.scale.contacts):
            created = stamp(self.created[i])
            contact_id = self.ids[i]
            yield (ws, "anonymous_id", f"anon-{i:08d}", contact_id, created)
            if self.known[i]:
                yield (ws, "user_id", f"user-{i:08d}", contact_id, created)
                yield (ws, "email", f"user{i}@example{i % 17}.com", contact_id, created)

    def account_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Rows for `accounts` and `account_members`: a fifth of the known users belong to one of
        `contacts / 40` companies (a few large ones, many small)."""
        rng = random.Random(self.scale.seed + 5)
        ws = self.workspace_id
        count = max(1, self.scale.contacts // 40)
        created = stamp(NOW_US - SIGNUP_DAYS * DAY_US)
        accounts = []
        account_ids = []
        for k in range(count):
            account_id = ulid(rng, (NOW_US - SIGNUP_DAYS * DAY_US) // 1000 + k)
            account_ids.append(account_id)
            attributes = {
                "industry": rng.choice(INDUSTRIES),
                "employees": rng.choice(COMPANY_SIZES),
                "tier": rng.choice(("smb", "mid", "enterprise")),
            }
            accounts.append(
                (
                    ws,
                    account_id,
                    f"group-{k:07d}",
                    f"Company {k}",
                    f"company{k}.example",
                    orjson.dumps(attributes).decode(),
                    created,
                    created,
                )
            )
        members = []
        for i in range(self.scale.contacts):
            if self.known[i] and rng.random() < 0.2:
                k = min(count - 1, int(count * rng.random() ** 2))
                members.append((ws, account_ids[k], self.ids[i], stamp(self.created[i])))
        return accounts, members
