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
from nurture.services.clock import ManualClock
from nurture.services.examples import journey_documents, load_examples
from nurture.store.schema import contacts, journey_runs, messages, segment_timers, templates
from tests.conftest import ingest

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


def _settle(container: Container) -> None:
    while True:
        done = container.audience.run_once()
        runs = container.journey_worker.run_once()
        if done.idle and runs.idle:
            return


def _run_until(container: Container, clock: ManualClock, end: datetime) -> None:
    """Advance the clock from timer to timer (each run's and each segment timer's due time, in
    order) up to `end`, letting the workers do what falls due at each moment."""
    _settle(container)
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
            _settle(container)
            return
        clock.set(min(due))
        _settle(container)


def _at(
    container: Container, clock: ManualClock, when: datetime, workspace_id: str, *calls: dict[str, Any]
) -> None:
    """Everything due before `when` happens, then these calls arrive at `when` and are acted on."""
    _run_until(container, clock, when)
    ingest(container, workspace_id, *calls)
    _settle(container)


def _sent(container: Container, workspace_id: str) -> list[tuple[str, str, datetime]]:
    """(recipient, template, when queued) of every message, in order."""
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


def _runs(container: Container, workspace_id: str, journey: str) -> list[Any]:
    found = container.journeys.get(workspace_id, journey)
    with container.db.read() as conn:
        query = select(journey_runs).where(
            journey_runs.c.workspace_id == workspace_id, journey_runs.c.journey_id == found.journey.id
        )
        return list(conn.execute(query.order_by(journey_runs.c.entered_at)))
