"""Simulation on a scripted stream: per-contact steps and messages with their times, the population's
funnel, no side effects; bad input lines named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from nurture.bootstrap import Container
from nurture.domain.contact_view import ContactView
from nurture.domain.errors import Invalid
from nurture.domain.journeys.parsing import parse_journey
from nurture.domain.journeys.simulate import simulate
from nurture.domain.journeys.step import Definition
from nurture.domain.messages.settings import MessagingSettings
from nurture.services.journeys.simulation import read_stream, result_json, simulate_history, simulate_stream
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import events, journey_runs
from tests.conftest import ingest

ROOT = Path(__file__).resolve().parents[2]
CART = yaml.safe_load((ROOT / "tests" / "data" / "journeys" / "abandoned-cart.yaml").read_text())
STREAM = (ROOT / "tests" / "data" / "events" / "carts.jsonl").read_text().splitlines()


def test_the_abandoned_cart_journey_on_a_scripted_stream() -> None:
    result = result_json(simulate_stream(CART, STREAM, timedelta(days=7)))
    by_contact = {c["contact"]: c for c in result["contacts"]}
    # ann: reminded an hour after her cart, never opens, never buys: no incentive
    ann = by_contact["ann"]
    assert [(m["at"], m["node"], m["channel"], m["template"]) for m in ann["messages"]] == [
        ("2026-11-20T10:05:00+00:00", "reminder", "email", "Abandoned cart reminder")
    ]
    sends = [s for s in ann["steps"] if s["action"] == "send"]
    assert sends == [
        {
            "at": "2026-11-20T10:05:00+00:00",
            "run": 1,
            "node": "reminder",
            "action": "send",
            "reason": "email 'Abandoned cart reminder'",
            "channel": "email",
            "template": "Abandoned cart reminder",
        }
    ]
    # bob bought within the hour: converted and out, nothing sent
    bob = by_contact["bob"]
    assert bob["messages"] == []
    assert any(s["action"] == "converted" for s in bob["steps"])
    # the anonymous visitor has no email: the entry condition keeps them out
    assert "visitor-9" not in by_contact
    population = result["population"]
    assert (population["entered"], population["converted"], population["completed"]) == (2, 1, 1)
    assert population["funnel"] == {
        "wait-1h": 2,
        "reminder": 1,
        "bought": 1,
        "opened": 1,
        "incentive": 0,
        "done": 0,
    }
    assert population["messages_per_contact"] == {"0": 1, "1": 1}


def test_a_policy_can_hold_or_stop_sends() -> None:
    journey, graph = parse_journey(CART)
    events = read_stream(STREAM)

    def quiet_until_nine(
        view: ContactView, channel: str, category: str, topic: str | None, at: datetime
    ) -> Any:
        if view.contact.user_id == "bob":
            return None, "frequency cap"
        return at.replace(hour=23), "quiet hours"

    result = simulate(Definition(journey, graph, "draft", 0), events, policy=quiet_until_nine)
    [message] = result.contacts["ann"].messages
    assert message.held_until == datetime(2026, 11, 20, 23, 5, tzinfo=UTC)
    assert result.stopped == {"deferred: quiet hours": 1}


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("{not json", "line 1"),
        ('{"type": "track", "userId": "a", "timestamp": "2026-11-20T09:00:00Z"}', "line 1.event"),
        ('{"type": "track", "userId": "a", "event": "X"}', "line 1.timestamp"),
        (
            '{"type": "identify", "userId": "a", "traits": {"email": "nope"}, "timestamp": "2026-11-20"}',
            "line 1.traits.email",
        ),
    ],
)
def test_bad_lines_are_named(line: str, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        read_stream([line])
    assert [e.field for e in caught.value.errors] == [field]


def test_an_empty_stream_simulates_nothing() -> None:
    result = result_json(simulate_stream(CART, []))
    assert result["contacts"] == []
    assert result["population"]["entered"] == 0


def test_a_draft_replays_the_stored_history_without_writing_anything(
    container: Container, workspace: NewWorkspace
) -> None:
    ingest(
        container,
        workspace.id,
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@example.com"}},
        {
            "type": "track",
            "userId": "ann",
            "event": "Cart Updated",
            "properties": {"cart_id": "c-1"},
            "timestamp": "2026-02-20T09:00:00Z",
        },
        {
            "type": "track",
            "userId": "ann",
            "event": "Cart Updated",
            "properties": {"cart_id": "c-old"},
            "timestamp": "2026-01-01T09:00:00Z",
        },
    )
    with container.db.read() as conn:
        before = conn.execute(select(func.count()).select_from(events)).scalar()
    since = datetime(2026, 2, 1, tzinfo=UTC)
    result = result_json(simulate_history(container.db, workspace.id, CART, since, timedelta(days=3)))
    [ann] = result["contacts"]
    assert [m["at"] for m in ann["messages"]] == ["2026-02-20T10:00:00+00:00"]  # c-old is before `since`
    assert result["population"]["entered"] == 1
    with container.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == before
        assert conn.execute(select(func.count()).select_from(journey_runs)).scalar() == 0


def _journey(name: str) -> dict[str, Any]:
    path = ROOT / "tests" / "data" / "journeys" / f"{name}.yaml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _call(kind: str, user: str, at: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "userId": user, "timestamp": at, **fields})


def test_post_purchase_welcomes_first_buyers_and_asks_for_a_review_after_delivery() -> None:
    stream = [
        _call("identify", "ann", "2026-11-01T09:00:00Z", traits={"email": "ann@example.com"}),
        _call("track", "ann", "2026-11-02T09:00:00Z", event="Order Completed", properties={"order_id": "o1"}),
        _call("track", "ann", "2026-11-04T12:00:00Z", event="Order Delivered", properties={"order_id": "o1"}),
        _call("track", "ann", "2026-11-10T09:00:00Z", event="Order Completed", properties={"order_id": "o2"}),
    ]
    result = result_json(simulate_stream(_journey("post-purchase"), stream, timedelta(days=20)))
    [ann] = result["contacts"]
    assert [(m["at"][:16], m["template"]) for m in ann["messages"]] == [
        ("2026-11-02T09:00", "Welcome to the family"),
        ("2026-11-07T12:00", "How was it?"),  # 3 days after delivery
        ("2026-11-10T09:00", "Thank you for your order"),  # the second order is not a first order
        ("2026-11-23T09:00", "How was it?"),  # never delivered: 10-day timeout, then 3 days
    ]
    assert result["population"]["entered"] == 2


def test_browse_abandonment_nudges_those_who_came_back_and_skips_those_who_bought() -> None:
    viewed = {"event": "Product Viewed", "properties": {"product_id": "p1"}}
    stream = [
        _call("identify", "ann", "2026-11-01T09:00:00Z", traits={"email": "ann@example.com"}),
        _call("identify", "bob", "2026-11-01T09:00:00Z", traits={"email": "bob@example.com"}),
        _call("track", "ann", "2026-11-02T09:00:00Z", **viewed),
        _call("track", "ann", "2026-11-02T15:00:00Z", **viewed),
        _call("track", "bob", "2026-11-02T09:00:00Z", **viewed),
        _call("track", "bob", "2026-11-02T11:00:00Z", event="Order Completed", properties={"order_id": "o"}),
    ]
    result = result_json(simulate_stream(_journey("browse-abandonment"), stream, timedelta(days=3)))
    by_contact = {c["contact"]: c for c in result["contacts"]}
    assert [m["template"] for m in by_contact["ann"]["messages"]] == ["Still thinking about it"]
    assert by_contact["bob"]["messages"] == []
    assert result["population"]["exited"] == 1


def test_the_workspaces_quiet_hours_and_cap_hold_or_stop_simulated_sends() -> None:
    quiet = MessagingSettings.model_validate({"quiet_hours": {"start": "10:00", "end": "12:00"}})
    result = result_json(simulate_stream(CART, STREAM, timedelta(days=7), quiet))
    [ann] = [c for c in result["contacts"] if c["contact"] == "ann"]
    # reminded an hour after 09:05 UTC: 10:05 is quiet in Berlin too (11:05), held to 12:00 Berlin
    assert [m["held_until"] for m in ann["messages"]] == ["2026-11-20T11:00:00+00:00"]
    assert result["population"]["stopped_by_policy"] == {"deferred: quiet hours": 1}
    capped = MessagingSettings.model_validate(
        {"frequency_cap": {"max_messages": 1, "window_hours": 24, "over_cap": "skip"}}
    )
    twice = [
        *STREAM,
        _call("track", "ann", "2026-11-20T10:30:00Z", event="Cart Updated", properties={"cart_id": "c-9"}),
    ]
    result = result_json(simulate_stream(CART, twice, timedelta(days=7), capped))
    assert result["population"]["stopped_by_policy"] == {"frequency cap": 1}
