"""Identity resolution, as a marketer would tell it: who is this event about, and when do two profiles
turn out to be one person? Driven through the ingest service and read back through the admin API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from nurture.bootstrap import Container
from nurture.domain.errors import Invalid
from nurture.domain.profile import parse_traits
from nurture.services.clock import ManualClock
from nurture.services.identity import IdentityGraph
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import contact_identities, contacts, events
from tests.conftest import START, ingest, secret

# Messages, spelled the way Segment's libraries send them.


def _ids(user: str | None, anon: str | None) -> dict[str, str]:
    out = {}
    if user is not None:
        out["userId"] = user
    if anon is not None:
        out["anonymousId"] = anon
    return out


def identify(user: str | None = None, anon: str | None = None, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", **_ids(user, anon), "traits": traits}


def track(event: str, user: str | None = None, anon: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, **_ids(user, anon), **extra}


def alias(previous: str, user: str) -> dict[str, Any]:
    return {"type": "alias", "previousId": previous, "userId": user}


# Reading the outcome: which contact does an identity find, and what is on it.


def owner(container: Container, workspace_id: str, ref: str) -> str | None:
    """The contact id that `kind:value` (user:u1, anon:a1, email:x@y) finds, if any."""
    kind, _, value = ref.partition(":")
    kind = {"user": "user_id", "anon": "anonymous_id", "email": "email"}[kind]
    with container.db.read() as conn:
        found: str | None = conn.execute(
            select(contact_identities.c.contact_id).where(
                contact_identities.c.workspace_id == workspace_id,
                contact_identities.c.kind == kind,
                contact_identities.c.value == value,
            )
        ).scalar()
    return found


def contact_ids(container: Container, workspace_id: str) -> set[str]:
    with container.db.read() as conn:
        return set(
            conn.execute(select(contacts.c.id).where(contacts.c.workspace_id == workspace_id)).scalars()
        )


def event_count(container: Container, workspace_id: str, contact_id: str) -> int:
    with container.db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    events.c.workspace_id == workspace_id, events.c.contact_id == contact_id
                )
            ).scalar_one()
        )


def get_contact(client: TestClient, workspace: NewWorkspace, contact_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/contacts/{contact_id}", headers=secret(workspace))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def event_names(client: TestClient, workspace: NewWorkspace, contact_id: str) -> list[str | None]:
    response = client.get(f"/api/v1/contacts/{contact_id}/events?limit=500", headers=secret(workspace))
    assert response.status_code == 200, response.text
    return [e["name"] for e in response.json()["data"]]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# Who is who: scenario table. Each story is a list of calls and the people the system should end up
# knowing, each described by the identities that find them and how many events they carry.


@dataclass(frozen=True)
class Story:
    title: str
    calls: list[dict[str, Any]]
    people: list[set[str]]
    events: list[int]


STORIES = [
    Story(
        "an anonymous visitor views two pages: one anonymous contact with both events",
        [track("Viewed Pricing", anon="a1"), track("Viewed Blog", anon="a1")],
        [{"anon:a1"}],
        [2],
    ),
    Story(
        "a signed-in user is found by userId every time",
        [identify(user="u1"), track("Opened App", user="u1"), track("Opened App", user="u1")],
        [{"user:u1"}],
        [3],
    ),
    Story(
        "a visitor browses, then signs up: the browsing history belongs to the new account",
        [track("Viewed Pricing", anon="a1"), identify(user="u1", anon="a1", email="ann@example.com")],
        [{"anon:a1", "user:u1", "email:ann@example.com"}],
        [2],
    ),
    Story(
        "a customer browses logged out on a new device, then logs in: the anonymous profile joins theirs",
        [
            identify(user="u1", email="ann@example.com"),
            track("Viewed Pricing", anon="a2"),
            track("Added to Cart", anon="a2"),
            identify(user="u1", anon="a2"),
        ],
        [{"user:u1", "anon:a2", "email:ann@example.com"}],
        [4],
    ),
    Story(
        "a track call with both ids joins the anonymous profile to the known one",
        [identify(user="u1"), track("Viewed Pricing", anon="a2"), track("Signed In", user="u1", anon="a2")],
        [{"user:u1", "anon:a2"}],
        [3],
    ),
    Story(
        "a newsletter subscriber (email only) later creates an account: found by email, one contact",
        [identify(anon="a1", email="ann@example.com"), identify(user="u1", email="Ann@Example.com")],
        [{"anon:a1", "email:ann@example.com", "user:u1"}],
        [2],
    ),
    Story(
        "a visitor types the email of a known customer: the visit is on the customer",
        [identify(user="u1", email="ann@example.com"), identify(anon="a9", email="ann@example.com")],
        [{"user:u1", "email:ann@example.com", "anon:a9"}],
        [2],
    ),
    Story(
        "a cart on the laptop and a signup on the phone merge when the user logs in on both",
        [
            track("Added to Cart", anon="laptop"),
            identify(anon="phone", email="ann@example.com"),
            identify(user="u1", anon="laptop"),
            identify(user="u1", anon="phone"),
        ],
        [{"anon:laptop", "anon:phone", "email:ann@example.com", "user:u1"}],
        [4],
    ),
    Story(
        "userId, anonymousId and email of one identify find two anonymous profiles: all become one",
        [
            track("Viewed Pricing", anon="a1"),
            identify(anon="a2", email="ann@example.com"),
            identify(user="u1", anon="a1", email="ann@example.com"),
        ],
        [{"anon:a1", "anon:a2", "email:ann@example.com", "user:u1"}],
        [3],
    ),
    Story(
        "a subscriber who browses anonymously logs in to their account: their one profile joins it once",
        [
            identify(anon="a1", email="ann@example.com"),
            identify(user="u1"),
            identify(user="u1", anon="a1", email="ann@example.com"),
        ],
        [{"anon:a1", "email:ann@example.com", "user:u1"}],
        [3],
    ),
    Story(
        "two people share a laptop: the second login never takes over the first person's profile",
        [identify(user="u1", anon="shared"), identify(user="u2", anon="shared"), track("Bought", user="u2")],
        [{"user:u1", "anon:shared"}, {"user:u2"}],
        [1, 2],
    ),
    Story(
        "a contact known by another userId is never merged, even when the email is the same",
        [identify(user="u1", email="ann@example.com"), identify(user="u2", email="ann@example.com")],
        [{"user:u1", "email:ann@example.com"}, {"user:u2"}],
        [1, 1],
    ),
    Story(
        "alias: the anonymous profile from before signup joins the user",
        [
            track("Viewed Pricing", anon="a1"),
            identify(user="u1"),
            alias("a1", "u1"),
            track("Bought", user="u1"),
        ],
        [{"anon:a1", "user:u1"}],
        [4],
    ),
    Story(
        "alias of an id never seen before records it, so later events with it find the user",
        [alias("a5", "u1"), track("Viewed Pricing", anon="a5")],
        [{"user:u1", "anon:a5"}],
        [2],
    ),
    Story(
        "alias of an old user id (account migration) merges both user ids into one contact",
        [identify(user="old", email="ann@example.com"), identify(user="new"), alias("old", "new")],
        [{"user:old", "user:new", "email:ann@example.com"}],
        [3],
    ),
    Story(
        "alias never takes a profile that belongs to another user",
        [identify(user="u1", anon="a1"), alias("a1", "u2")],
        [{"user:u1", "anon:a1"}, {"user:u2"}],
        [1, 1],
    ),
]


@pytest.mark.parametrize("requests", ["one request", "one request per call"])
@pytest.mark.parametrize("story", STORIES, ids=[s.title for s in STORIES])
def test_who_is_who(container: Container, workspace: NewWorkspace, story: Story, requests: str) -> None:
    if requests == "one request":
        ingest(container, workspace.id, *story.calls)
    else:
        for call in story.calls:
            ingest(container, workspace.id, call)

    people: list[str] = []
    for refs in story.people:
        found = {ref: owner(container, workspace.id, ref) for ref in refs}
        assert len(set(found.values())) == 1, f"one person, several contacts: {found}"
        [contact_id] = set(found.values())
        assert contact_id is not None, f"nobody found by {refs}"
        people.append(contact_id)
    assert len(set(people)) == len(people), "two people share one contact"
    assert contact_ids(container, workspace.id) == set(people)
    assert [event_count(container, workspace.id, p) for p in people] == story.events


def test_the_merged_away_id_leads_to_the_survivor_with_all_its_events(
    container: Container, client: TestClient, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ingest(container, workspace.id, identify(user="u1", email="ann@example.com", firstName="Ann"))
    known = owner(container, workspace.id, "user:u1")
    clock.advance(timedelta(minutes=5))
    ingest(container, workspace.id, track("Viewed Pricing", anon="a1"), track("Added to Cart", anon="a1"))
    anonymous = owner(container, workspace.id, "anon:a1")
    assert anonymous is not None
    assert known is not None
    assert anonymous != known

    clock.advance(timedelta(minutes=5))
    ingest(container, workspace.id, identify(user="u1", anon="a1"))

    assert contact_ids(container, workspace.id) == {known}
    survivor = get_contact(client, workspace, anonymous)
    assert survivor["id"] == known
    assert survivor["user_id"] == "u1"
    assert survivor["anonymous_ids"] == ["a1"]
    assert Counter(event_names(client, workspace, anonymous)) == {
        "Added to Cart": 1,
        "Viewed Pricing": 1,
        None: 2,
    }
    assert event_count(container, workspace.id, known) == 4

    export = client.get(f"/api/v1/contacts/{known}/export", headers=secret(workspace)).json()
    assert [m["merged_id"] for m in export["merged"]] == [anonymous]


def test_merges_chain_so_every_old_id_leads_to_the_last_survivor(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ingest(container, workspace.id, track("Viewed Pricing", anon="a1"))
    first = owner(container, workspace.id, "anon:a1")
    ingest(container, workspace.id, identify(anon="a2", email="ann@example.com"))
    second = owner(container, workspace.id, "anon:a2")
    ingest(container, workspace.id, identify(anon="a1", email="ann@example.com"))  # a1's profile joins a2's
    ingest(container, workspace.id, identify(user="u1"))
    ingest(container, workspace.id, identify(user="u1", anon="a2"))  # and that one joins u1's

    last = owner(container, workspace.id, "user:u1")
    assert len({first, second, last}) == 3
    for old in (first, second, last):
        assert get_contact(client, workspace, str(old))["id"] == last
    assert event_count(container, workspace.id, str(last)) == 5


def test_a_merge_inside_one_request_leaves_no_trace_of_the_short_lived_contact(
    container: Container, workspace: NewWorkspace
) -> None:
    result = ingest(
        container,
        workspace.id,
        track("Viewed Pricing", anon="a1"),
        identify(user="u1"),
        identify(user="u1", anon="a1"),
    )
    assert result.stored == 3
    [only] = contact_ids(container, workspace.id)
    assert only == owner(container, workspace.id, "anon:a1") == owner(container, workspace.id, "user:u1")
    assert event_count(container, workspace.id, only) == 3


# Traits


def test_traits_merge_and_a_null_trait_unsets_a_core_field_or_removes_an_attribute(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ingest(
        container,
        workspace.id,
        identify(user="u1", firstName="Ann", phone="+1 415 555 0123", plan="free", seats=3),
    )
    ingest(container, workspace.id, identify(user="u1", lastName="Lee", plan="pro", beta=True))
    contact = get_contact(client, workspace, str(owner(container, workspace.id, "user:u1")))
    assert (contact["first_name"], contact["last_name"], contact["phone"]) == ("Ann", "Lee", "+14155550123")
    assert contact["attributes"] == {"plan": "pro", "seats": 3, "beta": True}

    ingest(container, workspace.id, identify(user="u1", firstName=None, phone=None, seats=None))
    contact = get_contact(client, workspace, contact["id"])
    assert (contact["first_name"], contact["last_name"], contact["phone"]) == (None, "Lee", None)
    assert contact["attributes"] == {"plan": "pro", "beta": True}


def test_changing_the_email_trait_moves_the_email_identity(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ingest(container, workspace.id, identify(user="u1", email="ann@old.example"))
    ingest(container, workspace.id, identify(user="u1", email="ANN@new.example"))
    contact_id = owner(container, workspace.id, "user:u1")
    assert owner(container, workspace.id, "email:ann@new.example") == contact_id
    assert owner(container, workspace.id, "email:ann@old.example") is None
    assert get_contact(client, workspace, str(contact_id))["email"] == "ann@new.example"

    ingest(
        container, workspace.id, identify(anon="a1", email="ann@old.example")
    )  # the old address is free again
    assert owner(container, workspace.id, "anon:a1") != contact_id


def test_when_profiles_merge_the_known_profile_wins_and_the_anonymous_one_fills_gaps(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    ingest(container, workspace.id, identify(user="u1", firstName="Ann", plan="pro"))
    ingest(
        container,
        workspace.id,
        identify(anon="a1", firstName="Annie", lastName="Lee", plan="free", utm_source="ad", locale="de-de"),
    )
    ingest(container, workspace.id, identify(user="u1", anon="a1"))
    contact = get_contact(client, workspace, str(owner(container, workspace.id, "user:u1")))
    assert (contact["first_name"], contact["last_name"], contact["locale"]) == ("Ann", "Lee", "de-DE")
    assert contact["attributes"] == {"plan": "pro", "utm_source": "ad"}


def test_a_bad_trait_rejects_the_whole_request_naming_the_field(
    container: Container, workspace: NewWorkspace
) -> None:
    with pytest.raises(Invalid) as caught:
        ingest(container, workspace.id, identify(user="u1"), identify(user="u2", email="not-an-address"))
    assert [e.field for e in caught.value.errors] == ["batch[1].traits.email"]
    assert contact_ids(container, workspace.id) == set()


# Device context


@pytest.mark.parametrize(
    ("profile", "context", "expected"),
    [
        ({}, {"timezone": "Europe/Berlin", "locale": "de-de"}, ("Europe/Berlin", "de-DE")),
        (
            {"timezone": "America/New_York"},
            {"timezone": "Europe/Berlin", "locale": "en-US"},
            ("America/New_York", "en-US"),
        ),
        ({"locale": "fr"}, {"timezone": "Europe/Paris", "locale": "de-DE"}, ("Europe/Paris", "fr")),
        ({}, {"timezone": "Moon/Base", "locale": "not a locale"}, (None, None)),
        ({}, {"timezone": 5, "locale": None}, (None, None)),
    ],
    ids=[
        "fills an empty profile",
        "keeps the time zone",
        "keeps the locale",
        "ignores bad values",
        "ignores non-text",
    ],
)
def test_the_device_time_zone_and_locale_fill_only_empty_profile_fields(
    container: Container,
    client: TestClient,
    workspace: NewWorkspace,
    profile: dict[str, str],
    context: dict[str, Any],
    expected: tuple[str | None, str | None],
) -> None:
    ingest(container, workspace.id, identify(user="u1", **profile))
    ingest(container, workspace.id, track("Opened App", user="u1", context=context))
    contact = get_contact(client, workspace, str(owner(container, workspace.id, "user:u1")))
    assert (contact["timezone"], contact["locale"]) == expected


def test_a_time_zone_in_the_traits_wins_over_the_device(
    container: Container, client: TestClient, workspace: NewWorkspace
) -> None:
    message = identify(user="u1", timezone="Asia/Tokyo")
    message["context"] = {"timezone": "Europe/Berlin", "locale": "de-DE"}
    ingest(container, workspace.id, message)
    contact = get_contact(client, workspace, str(owner(container, workspace.id, "user:u1")))
    assert (contact["timezone"], contact["locale"]) == ("Asia/Tokyo", "de-DE")


# Times


def test_created_updated_and_last_seen_times(
    container: Container, client: TestClient, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ingest(container, workspace.id, identify(user="u1", plan="free"))
    contact_id = str(owner(container, workspace.id, "user:u1"))

    def times() -> tuple[datetime, datetime, datetime | None]:
        c = get_contact(client, workspace, contact_id)
        return at(c["created_at"]), at(c["updated_at"]), c["last_seen_at"] and at(c["last_seen_at"])

    assert times() == (START, START, START)

    one_hour = clock.advance(timedelta(hours=1))
    ingest(container, workspace.id, track("Opened App", user="u1"))
    assert times() == (START, START, one_hour), "an event is a visit, not a profile change"

    two_hours = clock.advance(timedelta(hours=1))
    ingest(container, workspace.id, identify(user="u1", plan="free"))
    assert times() == (START, START, two_hours), "the same traits again change nothing"

    three_hours = clock.advance(timedelta(hours=1))
    ingest(container, workspace.id, identify(user="u1", plan="pro"))
    assert times() == (START, three_hours, three_hours)

    clock.advance(timedelta(hours=1))
    late = (START + timedelta(minutes=10)).isoformat()
    ingest(container, workspace.id, track("Opened App", user="u1", timestamp=late))
    assert times()[2] == three_hours, "a late-arriving old event does not move last seen backwards"

    now = clock.advance(timedelta(hours=1))
    future = (now + timedelta(days=3)).isoformat()
    ingest(container, workspace.id, track("Opened App", user="u1", timestamp=future))
    assert times()[2] == now, "a device clock in the future cannot put last seen in the future"


def test_a_profile_write_never_moves_last_seen_back(
    container: Container, client: TestClient, workspace: NewWorkspace, clock: ManualClock
) -> None:
    """A transaction that loaded a contact before another one stored a later visit writes its profile
    change without putting the older `last_seen_at` back."""
    ingest(container, workspace.id, identify(user="u1", plan="free"))
    contact_id = str(owner(container, workspace.id, "user:u1"))
    visit = START + timedelta(hours=2)
    with container.db.write() as conn:
        graph = IdentityGraph(conn, workspace.id, START + timedelta(hours=1))
        contact = graph.resolve(user_id="u1", anonymous_id=None, email=None)
        # meanwhile (another request) a later visit is stored
        conn.execute(
            update(contacts)
            .where(contacts.c.workspace_id == workspace.id, contacts.c.id == contact_id)
            .values(last_seen_at=visit)
        )
        graph.seen(contact, START + timedelta(hours=1))
        assert graph.apply(contact, parse_traits({"plan": "pro"}, "traits"))
        graph.flush()
    stored = get_contact(client, workspace, contact_id)
    assert stored["attributes"] == {"plan": "pro"}
    assert at(stored["last_seen_at"]) == visit


def test_a_merged_contact_keeps_the_earliest_creation_and_the_latest_visit(
    container: Container, client: TestClient, workspace: NewWorkspace, clock: ManualClock
) -> None:
    ingest(container, workspace.id, track("Viewed Pricing", anon="a1"))
    later = clock.advance(timedelta(days=1))
    ingest(container, workspace.id, identify(user="u1"))
    latest = clock.advance(timedelta(days=1))
    ingest(container, workspace.id, track("Viewed Blog", anon="a1"))
    merged_at = clock.advance(timedelta(days=1))
    ingest(container, workspace.id, {**identify(user="u1", anon="a1"), "timestamp": later.isoformat()})

    contact = get_contact(client, workspace, str(owner(container, workspace.id, "user:u1")))
    assert at(contact["created_at"]) == START
    assert at(contact["last_seen_at"]) == latest
    assert at(contact["updated_at"]) == merged_at


# Property: whatever order calls arrive in, the books stay consistent.

USERS = ["u1", "u2", "u3"]
ANONS = ["a1", "a2", "a3"]
EMAILS = ["ann@example.com", "bob@example.com"]

calls = st.one_of(
    st.builds(
        lambda user, anon, email: identify(user=user, anon=anon, **({"email": email} if email else {})),
        st.sampled_from([None, *USERS]),
        st.sampled_from([None, *ANONS]),
        st.sampled_from([None, *EMAILS]),
    ).filter(lambda m: "userId" in m or "anonymousId" in m),
    st.builds(
        lambda user, anon: track("Clicked", user=user, anon=anon),
        st.sampled_from([None, *USERS]),
        st.sampled_from([None, *ANONS]),
    ).filter(lambda m: "userId" in m or "anonymousId" in m),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(st.lists(calls, min_size=1, max_size=4), min_size=1, max_size=5))
def test_every_event_lands_on_exactly_one_contact_and_every_identity_finds_at_most_one(
    container: Container, requests: list[list[dict[str, Any]]]
) -> None:
    workspace_id = container.workspaces.create("property").id  # a clean slate for each example
    sent = []
    for number, request in enumerate(requests):
        messages = [{**m, "messageId": f"m{number}-{i}"} for i, m in enumerate(request)]
        ingest(container, workspace_id, *messages)
        sent.extend(messages)

    with container.db.read() as conn:
        existing = set(
            conn.execute(select(contacts.c.id).where(contacts.c.workspace_id == workspace_id)).scalars()
        )
        stored = {
            r.message_id: r.contact_id
            for r in conn.execute(
                select(events.c.message_id, events.c.contact_id).where(events.c.workspace_id == workspace_id)
            )
        }
        identities = conn.execute(
            select(
                contact_identities.c.kind, contact_identities.c.value, contact_identities.c.contact_id
            ).where(contact_identities.c.workspace_id == workspace_id)
        ).all()

    assert set(stored) == {m["messageId"] for m in sent}, "every event is stored once"
    assert set(stored.values()) <= existing, "no event points at a contact that is gone"
    assert {contact_id for _, _, contact_id in identities} <= existing, (
        "no identity points at a contact that is gone"
    )
    assert len({(kind, value) for kind, value, _ in identities}) == len(identities)
    user_ids_per_contact: dict[str, set[str]] = {}
    for kind, value, contact_id in identities:
        if kind == "user_id":
            user_ids_per_contact.setdefault(contact_id, set()).add(value)
    assert all(len(v) == 1 for v in user_ids_per_contact.values()), "without alias, one user id per contact"
    assert all(
        any(kind != "email" for kind, _, c in identities if c == contact_id) for contact_id in existing
    ), "every contact can still be found by a user or anonymous id"

    find = {(kind, value): contact_id for kind, value, contact_id in identities}
    for message in sent:
        on = stored[message["messageId"]]
        if "userId" in message:
            assert find[("user_id", message["userId"])] == on, "an event with a userId is on that user"
        elif message["type"] == "track":
            assert find[("anonymous_id", message["anonymousId"])] == on, (
                "an anonymous event is on its visitor"
            )
