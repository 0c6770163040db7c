"""The journeys shipped in examples/journeys/, loaded into the Example workspace as `make run` does,
driven by Segment e-commerce and B2B events under a virtual clock: the exact messages, recipients and
times for several contacts, exit paths included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_string
from email.policy import default
from typing import Any

import pytest
from sqlalchemy import func, select

from nurture.bootstrap import Container
from nurture.domain.contact_view import MessageEventKind
from nurture.domain.messages.engagement import MessageEventInput, MessageRef
from nurture.services import message_events
from nurture.services.clock import ManualClock
from nurture.services.contacts import ContactInput
from nurture.services.examples import journey_documents, load_examples
from nurture.store.schema import contacts, journey_runs, messages, segment_timers, templates
from tests.conftest import ingest, settle

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # the clock fixture's start, a Monday
H, D = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def example(container: Container) -> str:
    """The Example workspace with everything the shipped journeys need, as on first start."""
    seeded = container.workspaces.ensure_example()
    assert seeded is not None
    c = container
    loaded = load_examples(seeded.id, c.templates, c.segments, c.scoring, c.journeys)
    assert sorted(loaded.journeys) == sorted(d["name"] for d in journey_documents().values())
    return seeded.id


def _run_until(container: Container, clock: ManualClock, end: datetime) -> None:
    """Advance the clock from timer to timer (each run's and each segment timer's due time, in
    order) up to `end`, letting the workers do what falls due at each moment."""
    settle(container)
    while True:
        with container.db.read() as conn:
            runs = conn.execute(
                select(func.min(journey_runs.c.wake_at)).where(journey_runs.c.wake_at > clock.now())
            )
            segments = conn.execute(
                select(func.min(segment_timers.c.due_at)).where(segment_timers.c.due_at > clock.now())
            )
            due = [t for t in (runs.scalar(), segments.scalar()) if t is not None and t <= end]
        if not due:
            clock.set(end)
            settle(container)
            return
        clock.set(min(due))
        settle(container)


def _at(
    container: Container, clock: ManualClock, when: datetime, workspace_id: str, *calls: dict[str, Any]
) -> None:
    """Everything due before `when` happens, then these calls arrive at `when` and are acted on."""
    _run_until(container, clock, when)
    ingest(container, workspace_id, *calls)
    settle(container)


def _sent(
    container: Container, workspace_id: str, journey: str | None = None
) -> list[tuple[str, str, datetime]]:
    """(recipient, template, when queued) of every message (of one journey), in order."""
    with container.db.read() as conn:
        query = (
            select(contacts.c.email, templates.c.name, messages.c.created_at)
            .join(
                contacts,
                (contacts.c.workspace_id == messages.c.workspace_id)
                & (contacts.c.id == messages.c.contact_id),
            )
            .join(
                templates,
                (templates.c.workspace_id == messages.c.workspace_id)
                & (templates.c.id == messages.c.template_id),
            )
            .where(messages.c.workspace_id == workspace_id)
            .order_by(messages.c.created_at, contacts.c.email)
        )
        if journey is not None:
            query = query.where(
                messages.c.journey_id == container.journeys.get(workspace_id, journey).journey.id
            )
        return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def _contact(container: Container, workspace_id: str, user: str) -> Any:
    return container.contacts.list(workspace_id, user_id=user).items[0]


def _person(user: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com", **traits}}


def _track(user: str, event: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "properties": properties}


def _rendered(container: Container, workspace_id: str, user: str, subject: str) -> str:
    """The HTML of the message with `subject` sent to `user`, as the dispatcher built it."""
    container.dispatcher.run_once()
    listed = container.mail.newest(workspace_id, 500)
    [found] = [m for m in listed if m.rcpt_to == f"{user}@example.com" and m.subject == subject]
    raw = container.mail.get(workspace_id, found.id).raw
    html = message_from_string(raw, policy=default).get_body(("html",))
    assert html is not None
    return str(html.get_content())


def test_welcome_series_sends_three_emails_over_a_week_and_skips_the_third_for_buyers(
    container: Container, example: str, clock: ManualClock
) -> None:
    _at(container, clock, T0, example, _person("ann"), _track("ann", "Signed Up"))
    _at(container, clock, T0 + H, example, _person("bob"), _track("bob", "Signed Up"))
    _at(
        container,
        clock,
        T0 + 2 * H,
        example,
        _person("cid"),
        _track("cid", "Signed Up"),
        _track("cid", "Signed Up"),
    )
    _at(container, clock, T0 + 5 * D, example, _track("bob", "Order Completed", order_id="o-1", total=20))
    _run_until(container, clock, T0 + 10 * D)
    assert _sent(container, example) == [
        ("ann@example.com", "Welcome", T0),
        ("bob@example.com", "Welcome", T0 + H),
        ("cid@example.com", "Welcome", T0 + 2 * H),  # signed up twice: one series (re-entry: once)
        ("ann@example.com", "Getting started", T0 + 3 * D),
        ("bob@example.com", "Getting started", T0 + 3 * D + H),
        ("cid@example.com", "Getting started", T0 + 3 * D + 2 * H),
        ("bob@example.com", "Thank you for your order", T0 + 5 * D),  # the post-purchase journey
        ("ann@example.com", "Your first order", T0 + 7 * D),  # bob bought: no third email for him
        ("cid@example.com", "Your first order", T0 + 7 * D + 2 * H),
    ]
    for user in ("ann", "bob", "cid"):
        assert "onboarded" in _contact(container, example, user).tags


def test_abandoned_cart_reminds_after_an_hour_with_the_cart_then_offers_10_percent_and_an_order_ends_it(
    container: Container, example: str, clock: ManualClock
) -> None:
    tea = {"product_id": "tea-1", "name": "Sencha", "price": 12, "quantity": 2}
    pot = {"product_id": "pot-2", "name": "Teapot", "price": 18, "quantity": 1}
    m = timedelta(minutes=1)
    _at(container, clock, T0, example, _person("ann"), _track("ann", "Product Added", cart_id="c-1", **tea))
    _at(
        container,
        clock,
        T0 + 10 * m,
        example,
        _track("ann", "Checkout Started", cart_id="c-1", products=[tea, pot]),
    )
    _at(
        container,
        clock,
        T0 + 10 * m,
        example,
        _person("bob"),
        _track("bob", "Product Added", cart_id="c-2", **pot),
    )
    _at(
        container,
        clock,
        T0 + 30 * m,
        example,
        _track("bob", "Order Completed", cart_id="c-2", products=[pot]),
    )
    _at(
        container,
        clock,
        T0 + 30 * m,
        example,
        _person("cid"),
        _track("cid", "Product Added", cart_id="c-3", **tea),
    )
    _at(
        container, clock, T0 + 45 * m, example, _track("cid", "Product Added", cart_id="c-4", **pot)
    )  # a 2nd cart
    _at(
        container,
        clock,
        T0 + 20 * H,
        example,
        _track("cid", "Order Completed", cart_id="c-3", products=[tea]),
    )
    _run_until(container, clock, T0 + 3 * D)
    cart = [s for s in _sent(container, example) if s[1] in ("Your cart is waiting", "10% off your cart")]
    assert cart == [
        ("ann@example.com", "Your cart is waiting", T0 + H),  # an hour after the first product
        ("cid@example.com", "Your cart is waiting", T0 + H + 30 * m),
        ("cid@example.com", "Your cart is waiting", T0 + H + 45 * m),
        ("ann@example.com", "10% off your cart", T0 + 25 * H),
        ("cid@example.com", "10% off your cart", T0 + 25 * H + 45 * m),  # cart c-4; c-3 was ordered
    ]
    reminder = _rendered(container, example, "ann", "You left something in your cart")
    for line in ("Sencha \u00d7 2 \u2014 12", "Teapot \u00d7 1 \u2014 18", "Back to your cart</a>"):
        assert line in reminder  # the cart as last seen: the checkout's products, and a (tracked) link back
    ended = {r.correlation: (r.status, r.converted_at) for r in _runs(container, example, "Abandoned cart")}
    assert ended["c-2"] == ("exited", T0 + 30 * m)
    assert ended["c-3"] == ("exited", T0 + 20 * H)
    assert ended["c-1"][0] == ended["c-4"][0] == "completed"
    figures = container.journeys.analytics(example, "Abandoned cart")  # the messages went out above
    assert (figures.entered, figures.runs, figures.converted) == (4, {"completed": 2, "exited": 2}, 2)
    assert [(n.node, n.reached, n.exited, n.converted) for n in figures.nodes] == [
        ("wait-1h", 4, 1, 2),  # c-2 ordered within the hour
        ("reminder", 3, 0, 1),
        ("wait-24h", 3, 1, 1),  # c-3 ordered after its reminder
        ("incentive", 2, 0, 0),
    ]
    sent = {n.node: n.messages.sent for n in figures.nodes if n.messages is not None}
    assert sent == {"reminder": 3, "incentive": 2}


def _runs(container: Container, workspace_id: str, journey: str) -> list[Any]:
    found = container.journeys.get(workspace_id, journey)
    with container.db.read() as conn:
        query = select(journey_runs).where(
            journey_runs.c.workspace_id == workspace_id, journey_runs.c.journey_id == found.journey.id
        )
        return list(conn.execute(query.order_by(journey_runs.c.entered_at)))


def test_browse_abandonment_mails_the_product_viewed_twice_and_not_carted_within_two_hours(
    container: Container, example: str, clock: ManualClock
) -> None:
    lamp = {
        "product_id": "lamp-7",
        "name": "Desk lamp",
        "price": 49,
        "url": "https://shop.example.com/p/lamp-7",
    }
    chair = {"product_id": "chair-2", "name": "Chair", "price": 120}
    for user in ("ann", "bob", "cid"):
        _at(container, clock, T0, example, _person(user), _track(user, "Product Viewed", **lamp))
    _at(container, clock, T0 + 3 * H, example, _track("ann", "Product Viewed", **lamp))
    _at(container, clock, T0 + 3 * H, example, _track("bob", "Product Viewed", **lamp))
    _at(container, clock, T0 + 4 * H, example, _track("bob", "Product Added", cart_id="c-9", **lamp))
    _at(container, clock, T0 + 5 * H, example, _track("cid", "Product Viewed", **chair))  # another product
    _run_until(container, clock, T0 + 3 * D)
    assert _sent(container, example, "Browse abandonment") == [
        ("ann@example.com", "Still thinking about it?", T0 + 5 * H)
    ]
    nudge = _rendered(container, example, "ann", "Still thinking about Desk lamp?")
    assert "Desk lamp \u2014 49" in nudge
    ended = {
        f"{_email(container, example, r.contact_id)}:{r.correlation}": r.status
        for r in _runs(container, example, "Browse abandonment")
    }
    assert ended == {
        "ann@example.com:lamp-7": "completed",
        "bob@example.com:lamp-7": "exited",  # carted within two hours of the second look
        "cid@example.com:lamp-7": "completed",  # viewed once: the wait for a second look timed out
    }  # cid's chair started nothing: re-entry after 7 days keeps it to one product a week


def test_post_purchase_thanks_asks_for_a_review_then_restocks_or_cross_sells_by_category(
    container: Container, example: str, clock: ManualClock
) -> None:
    coffee = {"product_id": "beans-1", "name": "Espresso beans", "category": "Coffee", "price": 14}
    grinder = {"product_id": "grinder-3", "name": "Grinder", "category": "Kitchen", "price": 89}
    _at(
        container,
        clock,
        T0,
        example,
        _person("ann"),
        _track("ann", "Order Completed", order_id="o-1", products=[coffee]),
    )
    _at(
        container,
        clock,
        T0 + H,
        example,
        _person("bob"),
        _track("bob", "Order Completed", order_id="o-2", products=[grinder, coffee]),
    )
    _run_until(container, clock, T0 + 40 * D)
    assert _sent(container, example) == [
        ("ann@example.com", "Thank you for your order", T0),
        ("bob@example.com", "Thank you for your order", T0 + H),
        ("ann@example.com", "How was it?", T0 + 7 * D),
        ("bob@example.com", "How was it?", T0 + 7 * D + H),
        ("ann@example.com", "Time to restock?", T0 + 37 * D),  # coffee runs out
        ("bob@example.com", "You might also like", T0 + 37 * D + H),  # a grinder does not
    ]
    assert "Espresso beans" in _rendered(container, example, "ann", "Running low on Espresso beans?")


def test_re_engagement_after_90_quiet_days_ends_in_an_unsubscribe_unless_the_contact_engages(
    container: Container, example: str, clock: ManualClock
) -> None:
    for user in ("ann", "bob", "cid"):
        _at(container, clock, T0, example, _person(user), _track(user, "Page Viewed"))
    _at(container, clock, T0 + 60 * D, example, _track("cid", "Page Viewed"))  # cid comes back once
    _run_until(container, clock, T0 + 91 * D)
    quiet = T0 + 90 * D + timedelta(microseconds=1)  # ann and bob: no trace for more than 90 days
    assert _sent(container, example, "Re-engagement") == [
        ("ann@example.com", "We miss you", quiet),
        ("bob@example.com", "We miss you", quiet),
    ]
    _run_until(container, clock, T0 + 93 * D)
    _open(container, example, "bob@example.com")
    _run_until(container, clock, T0 + 152 * D)
    assert _sent(container, example, "Re-engagement")[2:] == [
        ("ann@example.com", "Last chance", quiet + 7 * D),  # bob opened "we miss you": nothing more
        (
            "cid@example.com",
            "We miss you",
            T0 + 150 * D + timedelta(microseconds=1),
        ),  # 90 days after coming back
    ]
    ann = _contact(container, example, "ann")
    assert "dormant" in ann.tags
    statuses = {(s.topic, s.status.value) for s in container.subscriptions.of_contact(example, ann.id)}
    assert {("newsletter", "unsubscribed"), ("product_updates", "unsubscribed")} <= statuses
    ledger = container.consents.of_contact(example, ann.id).items
    assert {(r.topic, r.source) for r in ledger} == {
        ("newsletter", "journey"),
        ("product_updates", "journey"),
    }
    bob = _contact(container, example, "bob")
    assert "dormant" not in bob.tags  # opened "we miss you": no last chance, still subscribed


def test_lead_nurture_makes_an_mql_at_50_points_tells_the_owner_and_nurtures_until_sql(
    container: Container, example: str, clock: ManualClock
) -> None:
    rita = container.owners.create(example, {"name": "Rita", "email": "rita@example.com"})
    rule = {"kind": "round_robin", "owner_ids": [rita.id]}
    container.routing.create_rule(example, "everyone", rule)
    _at(
        container,
        clock,
        T0,
        example,
        _person("ann"),
        _track("ann", "Signed Up"),
        _track("ann", "Pricing Viewed"),
    )
    _at(container, clock, T0, example, _person("bob"), _track("bob", "Signed Up"))
    _at(container, clock, T0 + D, example, _track("ann", "Demo Requested"))  # 10 + 10 + 30 = 50
    _at(
        container,
        clock,
        T0 + 2 * D,
        example,
        _track("bob", "Webinar Attended"),
        _track("bob", "Demo Requested"),
    )
    _at(container, clock, T0 + 9 * D, example, _track("bob", "Pricing Viewed"))
    bob_id = _contact(container, example, "bob").id
    container.contacts.change(
        example, bob_id, ContactInput({}, managed={"lifecycle_stage": "sql"}), replace=False
    )
    _run_until(container, clock, T0 + 30 * D)
    assert _sent(container, example, "Lead nurturing") == [
        ("ann@example.com", "The buyer's guide", T0 + D),
        ("bob@example.com", "The buyer's guide", T0 + 2 * D),
        ("ann@example.com", "Case study", T0 + 8 * D),
        ("bob@example.com", "Case study", T0 + 9 * D),
        ("ann@example.com", "Book a demo", T0 + 15 * D),  # bob went to SQL: his run ended
    ]
    for user in ("ann", "bob"):
        assert _contact(container, example, user).owner_id == rita.id
    assert _contact(container, example, "ann").lifecycle_stage == "mql"
    container.dispatcher.run_once()
    alerts = [m.subject for m in container.mail.newest(example, 100) if m.rcpt_to == "rita@example.com"]
    assert sorted(alerts) == [
        "[nurture] Lead nurturing: ann@example.com is a marketing-qualified lead: the lead score passed 50",
        "[nurture] Lead nurturing: bob@example.com is a marketing-qualified lead: the lead score passed 50",
    ]


def _email(container: Container, workspace_id: str, contact_id: str) -> str:
    with container.db.read() as conn:
        query = select(contacts.c.email).where(
            contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id
        )
        return str(conn.execute(query).scalar())


def _open(container: Container, workspace_id: str, email: str) -> None:
    """The recipient opens the (only) message they were sent, as the tracking pixel records it."""
    with container.db.write() as conn:
        query = (
            select(messages)
            .join(
                contacts,
                (contacts.c.workspace_id == messages.c.workspace_id)
                & (contacts.c.id == messages.c.contact_id),
            )
            .where(messages.c.workspace_id == workspace_id, contacts.c.email == email)
        )
        [row] = conn.execute(query).all()
        ref = MessageRef(row.id, row.contact_id, row.channel, row.template_id, row.journey_id, row.node_id)
        opened = MessageEventInput(ref, MessageEventKind.OPENED, container.clock.now(), {"machine": False})
        message_events.record(conn, workspace_id, [opened], container.clock.now())
    settle(container)
