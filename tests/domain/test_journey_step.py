"""The pure step function, scenario by scenario: submit inputs to a run, assert state, commands and
the trace's reasons. No database, no clock: time is an argument."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from nurture.domain.conditions.nodes import SubscriptionStatus
from nurture.domain.contact_view import ContactView, MessageEvent, MessageEventKind
from nurture.domain.journeys.parsing import parse_journey
from nurture.domain.journeys.runs import (
    ContactChanged,
    Converted,
    Due,
    EventSeen,
    Logged,
    RunState,
    RunStatus,
    SendMessage,
    Start,
    UpdateProfile,
    WebhookAnswered,
    WebhookCall,
)
from nurture.domain.journeys.step import Definition, Stepped, correlation_of, step
from tests.domain.builders import contact, event

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "journeys"  # documents the tests step through
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday


def definition(data: dict[str, Any] | str) -> Definition:
    raw = yaml.safe_load((EXAMPLES / f"{data}.yaml").read_text()) if isinstance(data, str) else data
    journey, graph = parse_journey(raw)
    return Definition(journey, graph, "j1", 1)


def new_run(
    d: Definition, when: datetime = T0, contact_id: str = "c1", correlation: str | None = None
) -> RunState:
    return RunState("r1", "w1", contact_id, when, d.journey.nodes[0].id, correlation=correlation)


def view(**fields: Any) -> ContactView:
    return ContactView(contact=contact(email="a@example.com", **fields))


def traced(result: Stepped) -> list[str]:
    return [f"{c.action}: {c.reason}" for c in result.commands if isinstance(c, Logged)]


def sends(result: Stepped) -> list[SendMessage]:
    return [c for c in result.commands if isinstance(c, SendMessage)]


class TestAbandonedCart:
    d = definition("abandoned-cart")
    cart = event("Cart Updated", T0, cart_id="c-17")

    def started(self) -> Stepped:
        run = new_run(self.d, correlation=correlation_of(self.d.journey, self.cart))
        return step(self.d, run, Start(self.cart), view(), T0)

    def test_waits_an_hour_then_reminds_and_waits_for_the_order(self) -> None:
        first = self.started()
        assert first.state.status is RunStatus.WAITING
        assert first.state.wake_at == T0 + timedelta(hours=1)
        assert first.state.correlation == "c-17"
        assert first.state.context["event"]["properties"] == {"cart_id": "c-17"}
        assert sends(first) == []
        woke = step(self.d, first.state, Due(), view(), T0 + timedelta(hours=1))
        [sent] = sends(woke)
        assert (sent.node, sent.template, sent.topic) == ("reminder", "Abandoned cart reminder", "newsletter")
        assert sent.source_key == "r1:reminder:1"
        assert woke.state.node == "bought"
        assert woke.state.wake_at == T0 + timedelta(hours=1, days=1)

    def test_a_timer_not_yet_due_changes_nothing(self) -> None:
        first = self.started()
        early = step(self.d, first.state, Due(), view(), T0 + timedelta(minutes=59))
        assert early.state == first.state
        assert early.commands == []

    def test_the_order_for_this_cart_converts_and_ends_the_run_while_it_waits(self) -> None:
        first = self.started()
        order = event("Order Completed", T0 + timedelta(minutes=20), cart_id="c-17")
        done = step(self.d, first.state, EventSeen(order), view(), T0 + timedelta(minutes=20))
        assert done.state.status is RunStatus.EXITED
        assert done.state.converted_at == T0 + timedelta(minutes=20)
        assert any(isinstance(c, Converted) for c in done.commands)
        assert "converted: Order Completed at 2026-11-20 10:20 UTC" in traced(done)

    def test_an_order_for_another_cart_changes_nothing(self) -> None:
        first = self.started()
        other = event("Order Completed", T0 + timedelta(minutes=20), cart_id="c-99")
        after = step(self.d, first.state, EventSeen(other), view(), T0 + timedelta(minutes=20))
        assert after.state.status is RunStatus.WAITING
        assert after.state.converted_at is None

    def test_no_order_and_an_opened_reminder_earn_the_incentive(self) -> None:
        first = self.started()
        woke = step(self.d, first.state, Due(), view(), T0 + timedelta(hours=1))
        [reminder] = sends(woke)
        later = T0 + timedelta(hours=25)
        opened = MessageEvent(MessageEventKind.OPENED, reminder.send_id, T0 + timedelta(hours=2))
        seen = ContactView(contact=view().contact, message_events=[opened])
        final = step(self.d, woke.state, Due(), seen, later)
        assert [s.template for s in sends(final)] == ["Abandoned cart incentive"]
        assert final.state.status is RunStatus.COMPLETED
        assert "branch: 'opened' → yes: the message sent by node 'reminder' was opened" in traced(final)

    def test_no_order_and_an_unopened_reminder_end_the_run(self) -> None:
        first = self.started()
        woke = step(self.d, first.state, Due(), view(), T0 + timedelta(hours=1))
        final = step(self.d, woke.state, Due(), view(), T0 + timedelta(hours=25))
        assert sends(final) == []
        assert "branch: 'opened' → no: the message sent by node 'reminder' was not opened" in traced(final)
        assert final.state.status is RunStatus.COMPLETED

    def test_stepping_the_same_state_twice_asks_for_the_same_send(self) -> None:
        first = self.started()
        again = [step(self.d, first.state, Due(), view(), T0 + timedelta(hours=1)) for _ in range(2)]
        assert sends(again[0]) == sends(again[1])

    def test_unsubscribing_from_email_ends_a_marketing_run(self) -> None:
        first = self.started()
        gone = ContactView(
            contact=view().contact, subscriptions={("email", None): SubscriptionStatus.UNSUBSCRIBED}
        )
        after = step(self.d, first.state, Due(), gone, T0 + timedelta(hours=1))
        assert after.state.status is RunStatus.EXITED
        assert sends(after) == []
        assert after.state.reason == "unsubscribed from email"


class TestWelcomeSeries:
    d = definition("welcome-series")

    def test_held_until_office_hours_in_the_contacts_zone(self) -> None:
        berlin = view(timezone="Europe/Berlin")
        first = step(self.d, new_run(self.d), Start(event("Signed Up", T0)), berlin, T0)
        assert [s.template for s in sends(first)] == ["Welcome"]
        sunday = T0 + timedelta(days=2)  # Sunday 11:00 Berlin: outside mon-fri
        held = step(self.d, first.state, Due(), berlin, sunday)
        # Monday 23 November 09:00 in Berlin is 08:00 UTC (winter time)
        assert held.state.wake_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        assert held.state.node == "office-hours"
        assert any(
            "held for the window mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin" in t for t in traced(held)
        )

    def test_the_window_follows_daylight_saving_time(self) -> None:
        berlin = view(timezone="Europe/Berlin")
        spring = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)  # a Friday; DST starts on Sunday 29 March
        run = new_run(self.d, when=spring)
        first = step(self.d, run, Start(None), berlin, spring)
        held = step(self.d, first.state, Due(), berlin, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
        # Monday 30 March 09:00 in Berlin is 07:00 UTC (summer time)
        assert held.state.wake_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)

    def test_a_contact_without_zone_uses_the_fallback(self) -> None:
        first = step(self.d, new_run(self.d), Start(None), view(), T0)
        held = step(self.d, first.state, Due(), view(), T0 + timedelta(days=2))
        assert held.state.wake_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def test_the_series_runs_to_its_end_and_tags_the_contact(self) -> None:
        state = step(self.d, new_run(self.d), Start(None), view(), T0).state
        now = T0
        templates: list[str] = []
        commands = []
        while not state.ended:
            assert state.wake_at is not None
            now = state.wake_at
            result = step(self.d, state, Due(), view(), now)
            templates += [s.template or "" for s in sends(result)]
            commands += result.commands
            state = result.state
        assert templates == ["Getting started", "Tips and tricks"]
        assert any(isinstance(c, UpdateProfile) and c.add_tags == ["onboarded"] for c in commands)
        assert state.status is RunStatus.COMPLETED


def _journey(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any) -> Definition:
    return definition({"name": "t", "trigger": {"type": "manual"}, "nodes": nodes, "edges": edges, **extra})


def test_a_random_split_is_deterministic_per_contact_and_follows_the_percentages() -> None:
    d = _journey(
        [
            {
                "id": "ab",
                "type": "random_split",
                "variants": [{"name": "a", "percent": 30}, {"name": "b", "percent": 70}],
            },
            {"id": "x", "type": "update_contact", "add_tags": ["a"]},
            {"id": "y", "type": "update_contact", "add_tags": ["b"]},
        ],
        [{"from": "ab", "port": "a", "to": "x"}, {"from": "ab", "port": "b", "to": "y"}],
    )
    landed: dict[str, int] = {"a": 0, "b": 0}
    for n in range(4000):
        run = new_run(d, contact_id=f"c{n}")
        first = step(d, run, Start(None), view(), T0)
        again = step(d, run, Start(None), view(), T0)
        tags = [c.add_tags for c in first.commands if isinstance(c, UpdateProfile)]
        assert tags == [c.add_tags for c in again.commands if isinstance(c, UpdateProfile)]
        landed[tags[0][0]] += 1
    assert 0.27 < landed["a"] / 4000 < 0.33


def test_a_webhook_answer_is_kept_for_a_later_branch() -> None:
    d = _journey(
        [
            {"id": "check", "type": "webhook", "url": "https://crm.example/check", "save_as": "crm"},
            {
                "id": "vip",
                "type": "condition",
                "context": [{"path": "webhook.crm.body.vip", "operator": {"op": "equals", "value": True}}],
            },
            {"id": "tag", "type": "update_contact", "add_tags": ["vip"]},
        ],
        [{"from": "check", "to": "vip"}, {"from": "vip", "port": "yes", "to": "tag"}],
    )
    calling = step(d, new_run(d), Start(None), view(), T0)
    [call] = [c for c in calling.commands if isinstance(c, WebhookCall)]
    assert (call.url, call.method, call.key) == ("https://crm.example/check", "POST", "r1:check:1")
    assert calling.state.status is RunStatus.CALLING
    done = step(d, calling.state, WebhookAnswered(200, {"vip": True}), view(), T0)
    assert done.state.context["webhook"]["crm"] == {"status": 200, "body": {"vip": True}, "error": None}
    assert any(isinstance(c, UpdateProfile) for c in done.commands)


def test_a_split_takes_the_first_matching_branch_or_other() -> None:
    d = _journey(
        [
            {
                "id": "plan",
                "type": "split",
                "field": "attributes.plan",
                "branches": [
                    {"name": "pro", "operator": {"op": "equals", "value": "pro"}},
                    {"name": "free", "operator": {"op": "in", "values": ["free", "trial"]}},
                ],
            },
            {"id": "p", "type": "update_contact", "add_tags": ["p"]},
            {"id": "f", "type": "update_contact", "add_tags": ["f"]},
            {"id": "o", "type": "update_contact", "add_tags": ["o"]},
        ],
        [
            {"from": "plan", "port": "pro", "to": "p"},
            {"from": "plan", "port": "free", "to": "f"},
            {"from": "plan", "port": "other", "to": "o"},
        ],
    )

    def tag(**attributes: Any) -> list[str]:
        result = step(d, new_run(d), Start(None), view(attributes=attributes), T0)
        return [t for c in result.commands if isinstance(c, UpdateProfile) for t in c.add_tags]

    assert tag(plan="pro") == ["p"]
    assert tag(plan="trial") == ["f"]
    assert tag() == ["o"]


def test_a_loop_through_a_wait_sends_once_per_round_with_its_own_key() -> None:
    d = _journey(
        [
            {"id": "nudge", "type": "send", "template": "Nudge"},
            {"id": "week", "type": "delay", "duration": "7d"},
        ],
        [{"from": "nudge", "to": "week"}, {"from": "week", "to": "nudge"}],
        category="transactional",
    )
    state = step(d, new_run(d), Start(None), view(), T0).state
    keys = []
    for week in range(1, 4):
        result = step(d, state, Due(), view(), T0 + timedelta(days=7 * week))
        keys += [s.source_key for s in sends(result)]
        state = result.state
    assert keys == ["r1:nudge:2", "r1:nudge:3", "r1:nudge:4"]


def test_an_exit_condition_ends_a_waiting_run_when_the_contact_changes() -> None:
    d = _journey(
        [{"id": "wait", "type": "delay", "duration": "3d"}, {"id": "s", "type": "send", "template": "x"}],
        [{"from": "wait", "to": "s"}],
        exit=[{"condition": {"type": "tag", "tag": "customer"}}],
    )
    waiting = step(d, new_run(d), Start(None), view(), T0).state
    tagged = replace(ContactView(contact=view().contact), tags=frozenset({"customer"}))
    after = step(d, waiting, ContactChanged(), tagged, T0 + timedelta(hours=1))
    assert after.state.status is RunStatus.EXITED
    assert after.state.reason == "exit criterion holds: tagged 'customer'"
