"""The journey engine against the real database: events flow from ingest through the audience worker
into the journey inbox; runs start, wait, send through the outbox, and end by exit or goal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from nurture.bootstrap import Container
from nurture.domain.errors import Conflict, Invalid
from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services.clock import ManualClock
from nurture.services.templates import TemplateInput
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import contacts, journey_runs, journey_schedules, messages, run_steps
from nurture.store.templates import find_template
from tests.conftest import ingest, settle
from tests.http_peer import RecordingServer
from tests.services.messaging import sender

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "journeys"  # documents the tests run


def _template(container: Container, workspace_id: str, name: str) -> str:
    content = Content(
        subject=name,
        body_format=BodyFormat.HTML,
        body="<p>Hi {{ contact.first_name }}</p><p>{{ workspace.postal_address }}</p>",
    )
    data = TemplateInput(name, TemplateKind.EMAIL, Category.MARKETING, content)
    return container.templates.create(workspace_id, data).id


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return loaded


def _runs(container: Container, workspace_id: str) -> list[Any]:
    with container.db.read() as conn:
        return list(
            conn.execute(
                select(journey_runs)
                .where(journey_runs.c.workspace_id == workspace_id)
                .order_by(journey_runs.c.entered_at)
            )
        )


def _outbox(container: Container, workspace_id: str) -> list[Any]:
    with container.db.read() as conn:
        return list(
            conn.execute(
                select(messages)
                .where(messages.c.workspace_id == workspace_id)
                .order_by(messages.c.created_at)
            )
        )


def _trace(container: Container, workspace_id: str, run_id: str) -> list[str]:
    with container.db.read() as conn:
        rows = conn.execute(
            select(run_steps)
            .where(run_steps.c.workspace_id == workspace_id, run_steps.c.run_id == run_id)
            .order_by(run_steps.c.seq)
        )
        return [f"{row.node}:{row.action}: {row.reason}" for row in rows]


@pytest.fixture
def cart_journey(container: Container, workspace: NewWorkspace) -> str:
    for name in ("Abandoned cart reminder", "Abandoned cart incentive"):
        _template(container, workspace.id, name)
    return container.journeys.apply(workspace.id, _example("abandoned-cart")).journey.id


def _cart(container: Container, workspace_id: str, user: str, cart: str, event: str = "Cart Updated") -> None:
    ingest(
        container,
        workspace_id,
        {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}},
        {"type": "track", "userId": user, "event": event, "properties": {"cart_id": cart}},
    )


def test_an_abandoned_cart_is_reminded_after_an_hour(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    _cart(container, workspace.id, "u1", "c-17")
    settle(container)
    [run] = _runs(container, workspace.id)
    assert (run.status, run.node, run.correlation) == ("waiting", "wait-1h", "c-17")
    assert _outbox(container, workspace.id) == []
    container.clock.advance(timedelta(hours=1))
    settle(container)
    [message] = _outbox(container, workspace.id)
    assert (message.journey_id, message.node_id, message.category, message.topic) == (
        cart_journey,
        "reminder",
        "marketing",
        "newsletter",
    )
    assert message.context["event"]["properties"] == {"cart_id": "c-17"}
    [run] = _runs(container, workspace.id)
    assert (run.status, run.node) == ("waiting", "bought")


def test_the_order_for_the_cart_ends_the_run_at_once_and_counts_as_a_conversion(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    _cart(container, workspace.id, "u1", "c-17")
    settle(container)
    container.clock.advance(timedelta(minutes=20))
    _cart(container, workspace.id, "u1", "c-17", event="Order Completed")
    settle(container)
    [run] = _runs(container, workspace.id)
    assert run.status == "exited"
    assert run.converted_at is not None
    trace = _trace(container, workspace.id, run.id)
    assert any("converted: Order Completed at" in line for line in trace), trace
    container.clock.advance(timedelta(hours=2))
    settle(container)
    assert _outbox(container, workspace.id) == []  # the reminder never goes out


def test_one_run_per_cart_and_one_live_run_per_cart(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    _cart(container, workspace.id, "u1", "c-1")
    settle(container)
    _cart(container, workspace.id, "u1", "c-2")
    settle(container)
    _cart(container, workspace.id, "u1", "c-1")  # the same cart again: its run is still live
    settle(container)
    runs = _runs(container, workspace.id)
    assert sorted(r.correlation for r in runs) == ["c-1", "c-2"]
    container.clock.advance(timedelta(hours=1))
    settle(container)
    assert len(_outbox(container, workspace.id)) == 2


def test_a_missing_template_fails_the_run_with_its_reason_and_others_go_on(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    _cart(container, workspace.id, "u1", "c-1")
    settle(container)
    # the template disappears after the journey was published
    with container.db.read() as conn:
        found = find_template(conn, workspace.id, "Abandoned cart reminder")
    assert found is not None
    container.templates.delete(workspace.id, found[0])
    container.clock.advance(timedelta(hours=1))
    settle(container)
    [run] = _runs(container, workspace.id)
    assert run.status == "failed"
    assert run.reason == "template 'Abandoned cart reminder' not found"
    assert _outbox(container, workspace.id) == []


def test_paused_journeys_hold_their_timers_until_resumed(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    _cart(container, workspace.id, "u1", "c-1")
    settle(container)
    container.journeys.set_status(workspace.id, cart_journey, "paused")
    container.clock.advance(timedelta(hours=3))
    settle(container)
    assert _outbox(container, workspace.id) == []
    _cart(container, workspace.id, "u2", "c-9")  # no new entries while paused
    settle(container)
    assert len(_runs(container, workspace.id)) == 1
    container.journeys.set_status(workspace.id, cart_journey, "active")
    settle(container)
    assert len(_outbox(container, workspace.id)) == 1


def test_archiving_ends_live_runs(container: Container, workspace: NewWorkspace, cart_journey: str) -> None:
    _cart(container, workspace.id, "u1", "c-1")
    settle(container)
    container.journeys.set_status(workspace.id, cart_journey, "archived")
    [run] = _runs(container, workspace.id)
    assert (run.status, run.reason) == ("exited", "the journey was archived")
    with pytest.raises(Conflict):
        container.journeys.set_status(workspace.id, cart_journey, "active")


def test_applying_again_publishes_a_version_only_when_the_document_changed(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    document = _example("abandoned-cart")
    again = container.journeys.apply(workspace.id, document)
    assert (again.created, again.published, again.journey.version) == (False, False, 1)
    document["nodes"][0]["duration"] = "2h"
    changed = container.journeys.apply(workspace.id, document)
    assert (changed.published, changed.journey.version) == (True, 2)
    assert [v for v, _ in container.journeys.get(workspace.id, "Abandoned cart").versions] == [1, 2]


def test_applying_refuses_references_to_what_the_workspace_does_not_have(
    container: Container, workspace: NewWorkspace
) -> None:
    with pytest.raises(Invalid) as caught:
        container.journeys.apply(workspace.id, _example("abandoned-cart"))
    assert {e.field for e in caught.value.errors} == {"nodes[reminder].template", "nodes[incentive].template"}
    assert container.journeys.list(workspace.id) == []


def test_manual_enrolment_follows_the_entry_rules(container: Container, workspace: NewWorkspace) -> None:
    _template(container, workspace.id, "Welcome")
    document = {
        "name": "Hello",
        "trigger": {"type": "manual"},
        "entry": {"reentry": "once"},
        "nodes": [{"id": "hi", "type": "send", "template": "Welcome"}],
    }
    journey = container.journeys.apply(workspace.id, document).journey
    ingest(
        container, workspace.id, {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}}
    )
    contact_id = container.contacts.list(workspace.id, user_id="u1").items[0].id
    container.journeys.enroll(workspace.id, journey.id, [contact_id])
    settle(container)
    container.journeys.enroll(workspace.id, "Hello", [contact_id])  # re-entry: once
    settle(container)
    [run] = _runs(container, workspace.id)
    assert run.status == "completed"
    assert len(_outbox(container, workspace.id)) == 1


def test_every_shipped_journey_applies_in_a_workspace_that_has_what_it_names(
    container: Container, workspace: NewWorkspace
) -> None:
    documents = {path.stem: yaml.safe_load(path.read_text()) for path in sorted(EXAMPLES.glob("*.yaml"))}
    names = {
        node["template"]
        for document in documents.values()
        for node in document["nodes"]
        if node.get("type") == "send" and node.get("template")
    }
    for name in sorted(names):
        _template(container, workspace.id, name)
    container.segments.create(
        workspace.id,
        {
            "name": "Inactive for 60 days",
            "condition": {
                "type": "event",
                "name": "Session Started",
                "performed": False,
                "window": {"kind": "last_days", "days": 60},
            },
        },
    )
    model = container.scoring.create(
        workspace.id,
        {
            "name": "Engagement",
            "rules": [{"type": "event", "id": "s", "points": 1, "name": "Session Started"}],
        },
    )
    for name, document in documents.items():
        applied = container.journeys.apply(workspace.id, document)
        assert applied.created, name
    stored = container.journeys.get(workspace.id, "Lead nurturing").document
    assert [n["model_id"] for n in stored["nodes"] if n["type"] == "score"] == [model.id]
    assert len(container.journeys.list(workspace.id)) == len(documents)


def test_a_birthday_journey_fires_at_nine_in_the_contacts_zone_every_year(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    _template(container, workspace.id, "Happy birthday")
    ingest(
        container,
        workspace.id,
        {
            "type": "identify",
            "userId": "ann",
            "traits": {"email": "ann@example.com", "birthday": "1990-03-05"},
        },
    )
    document = {
        "name": "Birthday",
        "trigger": {"type": "date", "field": "attributes.birthday", "every_year": True, "at": "09:00"},
        "entry": {"reentry": "after", "reentry_after": "300d"},
        "nodes": [{"id": "wish", "type": "send", "template": "Happy birthday"}],
    }
    container.journeys.apply(workspace.id, document)
    # a contact who arrives after the journey was published gets a timer too (in Berlin's morning)
    ingest(
        container,
        workspace.id,
        {
            "type": "identify",
            "userId": "bob",
            "traits": {"email": "bob@example.com", "birthday": "1985-03-04", "timezone": "Europe/Berlin"},
        },
    )
    settle(container)
    assert _outbox(container, workspace.id) == []
    clock.set(datetime(2026, 3, 4, 7, 59, tzinfo=UTC))
    settle(container)
    assert _outbox(container, workspace.id) == []
    clock.set(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))  # 09:00 in Berlin
    settle(container)
    assert len(_outbox(container, workspace.id)) == 1
    clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))  # 09:00 UTC for ann
    settle(container)
    assert len(_outbox(container, workspace.id)) == 2
    clock.set(datetime(2027, 3, 5, 9, 0, tzinfo=UTC))  # and again a year later
    settle(container)
    assert len(_outbox(container, workspace.id)) == 4


def test_a_schedule_enrols_the_segments_members_at_each_cron_time(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    _template(container, workspace.id, "Weekly digest")
    for user in ("ann", "bob"):
        ingest(container, workspace.id, {"type": "track", "userId": user, "event": "Signed Up"})
    segment = container.segments.create(
        workspace.id, {"name": "Signed up", "condition": {"type": "event", "name": "Signed Up"}}
    )
    settle(container)
    document = {
        "name": "Digest",
        "trigger": {
            "type": "schedule",
            "cron": "0 9 * * mon",
            "zone": "Europe/Berlin",
            "segment_id": "Signed up",
        },
        "entry": {"reentry": "always"},
        "nodes": [{"id": "digest", "type": "send", "template": "Weekly digest"}],
    }
    journey = container.journeys.apply(workspace.id, document).journey
    assert container.journeys.get(workspace.id, journey.id).document["trigger"]["segment_id"] == segment.id
    clock.set(datetime(2026, 3, 9, 7, 59, tzinfo=UTC))  # START is Monday 2 March; Monday 9 March 08:59 Berlin
    settle(container)
    assert _outbox(container, workspace.id) == []
    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    settle(container)
    assert len(_outbox(container, workspace.id)) == 2
    clock.set(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))
    settle(container)
    assert len(_outbox(container, workspace.id)) == 4


def _sent_to(container: Container, workspace_id: str) -> list[str]:
    """The email addresses of the outbox's messages, oldest first."""
    with container.db.read() as conn:
        query = (
            select(contacts.c.email)
            .join(
                messages,
                (messages.c.workspace_id == contacts.c.workspace_id)
                & (messages.c.contact_id == contacts.c.id),
            )
            .where(messages.c.workspace_id == workspace_id)
            .order_by(messages.c.created_at, contacts.c.email)
        )
        return list(conn.execute(query).scalars())


def test_a_schedule_in_the_contacts_zone_reaches_each_contact_at_that_time_where_they_live(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    _template(container, workspace.id, "Monday tips")
    container.messaging.replace(workspace.id, {"timezone": "America/New_York"})
    people = {"ann": "Asia/Tokyo", "bob": "Europe/Berlin", "cid": None}
    for user, zone in people.items():
        traits = {"email": f"{user}@example.com", **({"timezone": zone} if zone else {})}
        ingest(container, workspace.id, {"type": "identify", "userId": user, "traits": traits})
    settle(container)
    document = {
        "name": "Monday tips",
        "trigger": {"type": "schedule", "cron": "0 9 * * mon", "zone": "contact"},
        "entry": {"reentry": "always"},
        "nodes": [{"id": "tips", "type": "send", "template": "Monday tips"}],
    }
    container.journeys.apply(workspace.id, document)
    # Monday 9 March 2026, 09:00 where each lives: Tokyo (UTC+9) at 00:00 UTC, Berlin (CET) at 08:00,
    # New York (EDT since 8 March, the workspace's zone: cid has none) at 13:00
    for hour, expected in ((0, ["ann@example.com"]), (8, ["bob@example.com"]), (13, ["cid@example.com"])):
        clock.set(datetime(2026, 3, 9, hour, 0, tzinfo=UTC) - timedelta(minutes=1))
        settle(container)
        before = _sent_to(container, workspace.id)
        clock.set(datetime(2026, 3, 9, hour, 0, tzinfo=UTC))
        settle(container)
        assert _sent_to(container, workspace.id)[len(before) :] == expected
    # a new contact in Sydney brings its zone; ann moves to Berlin (Tokyo has nobody left)
    ingest(
        container,
        workspace.id,
        {
            "type": "identify",
            "userId": "dee",
            "traits": {"email": "dee@example.com", "timezone": "Australia/Sydney"},
        },
        {"type": "identify", "userId": "ann", "traits": {"timezone": "Europe/Berlin"}},
    )
    settle(container)
    sent = len(_sent_to(container, workspace.id))
    clock.set(datetime(2026, 3, 15, 22, 0, tzinfo=UTC))  # Monday 16 March 09:00 in Sydney (AEDT, UTC+11)
    settle(container)
    assert _sent_to(container, workspace.id)[sent:] == ["dee@example.com"]
    clock.set(datetime(2026, 3, 16, 0, 0, tzinfo=UTC))  # 09:00 in Tokyo: nobody lives there now
    settle(container)
    assert _sent_to(container, workspace.id)[sent:] == ["dee@example.com"]
    clock.set(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))
    settle(container)
    assert _sent_to(container, workspace.id)[sent + 1 :] == ["ann@example.com", "bob@example.com"]
    clock.set(datetime(2026, 3, 16, 13, 0, tzinfo=UTC))
    settle(container)
    assert _sent_to(container, workspace.id)[sent + 3 :] == ["cid@example.com"]
    with container.db.read() as conn:
        zones = set(conn.execute(select(journey_schedules.c.zone)).scalars())
    assert zones == {"Australia/Sydney", "Europe/Berlin", "America/New_York"}


def test_a_schedule_in_the_workspace_zone_follows_the_messaging_settings(
    container: Container, workspace: NewWorkspace, clock: ManualClock
) -> None:
    _template(container, workspace.id, "Digest")
    container.messaging.replace(workspace.id, {"timezone": "Asia/Kolkata"})  # UTC+05:30, no DST
    ingest(
        container, workspace.id, {"type": "identify", "userId": "ann", "traits": {"email": "ann@example.com"}}
    )
    settle(container)
    document = {
        "name": "Digest",
        "trigger": {"type": "schedule", "cron": "30 9 * * *", "zone": "workspace"},
        "entry": {"reentry": "always"},
        "nodes": [{"id": "digest", "type": "send", "template": "Digest"}],
    }
    container.journeys.apply(workspace.id, document)
    clock.set(datetime(2026, 3, 3, 3, 59, tzinfo=UTC))
    settle(container)
    assert _sent_to(container, workspace.id) == []
    clock.set(datetime(2026, 3, 3, 4, 0, tzinfo=UTC))  # 09:30 in Kolkata
    settle(container)
    assert _sent_to(container, workspace.id) == ["ann@example.com"]


def test_a_schedule_names_a_zone_that_exists(container: Container, workspace: NewWorkspace) -> None:
    document = {
        "name": "Digest",
        "trigger": {"type": "schedule", "cron": "0 9 * * *", "zone": "Mars/Olympus_Mons"},
        "nodes": [{"id": "done", "type": "exit"}],
    }
    with pytest.raises(Invalid) as caught:
        container.journeys.apply(workspace.id, document)
    assert [e.field for e in caught.value.errors] == ["trigger.zone"]
    assert "Mars/Olympus_Mons" in caught.value.errors[0].message
    assert container.journeys.list(workspace.id) == []


def test_publishing_keeps_runs_on_their_version_unless_a_migration_moves_them(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    for user, cart in (("u1", "c-1"), ("u2", "c-2")):
        _cart(container, workspace.id, user, cart)
    settle(container)
    document = _example("abandoned-cart")
    document["nodes"][0] = {"id": "wait-2h", "type": "delay", "duration": "2h"}
    document["edges"][0]["from"] = "wait-2h"
    preview = container.journeys.preview(workspace.id, document, {"wait-1h": "wait-2h"})
    assert [(m.version, m.node, m.runs, m.to) for m in preview] == [(1, "wait-1h", 2, "wait-2h")]
    assert {r.version for r in _runs(container, workspace.id)} == {1}  # a preview changes nothing
    with pytest.raises(Invalid) as caught:
        container.journeys.apply(workspace.id, document, {"wait-1h": "reminder"})
    assert [e.field for e in caught.value.errors] == ["migrate.wait-1h"]
    applied = container.journeys.apply(workspace.id, document, {"wait-1h": "wait-2h"})
    assert applied.journey.version == 2
    assert {(r.version, r.node) for r in _runs(container, workspace.id)} == {(2, "wait-2h")}
    container.clock.advance(timedelta(hours=1))
    settle(container)
    assert len(_outbox(container, workspace.id)) == 2  # they keep their timers: due after the old 1h


def test_without_a_migration_runs_finish_on_the_version_they_started(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    _cart(container, workspace.id, "u1", "c-1")
    settle(container)
    document = _example("abandoned-cart")
    document["nodes"][1]["template"] = "Abandoned cart incentive"  # v2 sends another template first
    container.journeys.apply(workspace.id, document)
    _cart(container, workspace.id, "u2", "c-2")
    settle(container)
    container.clock.advance(timedelta(hours=1))
    settle(container)
    with container.db.read() as conn:
        sent = {
            row.contact_id: row.template_id
            for row in conn.execute(select(messages).where(messages.c.workspace_id == workspace.id))
        }
        reminder = find_template(conn, workspace.id, "Abandoned cart reminder")
        incentive = find_template(conn, workspace.id, "Abandoned cart incentive")
    assert reminder is not None
    assert incentive is not None
    first, second = (container.contacts.list(workspace.id, user_id=u).items[0].id for u in ("u1", "u2"))
    assert sent == {first: reminder[0], second: incentive[0]}


def test_a_webhook_node_calls_out_and_a_later_branch_reads_the_answer(
    container: Container, workspace: NewWorkspace, receiver: RecordingServer
) -> None:
    receiver.answer(200, {"vip": True})
    document = {
        "name": "Ask the CRM",
        "trigger": {"type": "event", "event": "Signed Up"},
        "nodes": [
            {
                "id": "crm",
                "type": "webhook",
                "url": f"{receiver.url}/lookup",
                "body": '{"user": "{{ event.properties.user }}"}',
                "save_as": "crm",
            },
            {
                "id": "vip",
                "type": "condition",
                "context": [{"path": "webhook.crm.body.vip", "operator": {"op": "equals", "value": True}}],
            },
            {"id": "tag", "type": "update_contact", "add_tags": ["vip"]},
        ],
        "edges": [{"from": "crm", "to": "vip"}, {"from": "vip", "port": "yes", "to": "tag"}],
    }
    container.journeys.apply(workspace.id, document)
    ingest(
        container,
        workspace.id,
        {"type": "track", "userId": "ann", "event": "Signed Up", "properties": {"user": "ann"}},
    )
    settle(container)
    [request] = receiver.received
    assert request.json() == {"user": "ann"}
    assert request.headers["idempotency-key"].endswith(":crm:1")
    [run] = _runs(container, workspace.id)
    assert run.status == "completed"
    assert run.context["webhook"]["crm"] == {"status": 200, "body": {"vip": True}, "error": None}
    contact_id = container.contacts.list(workspace.id, user_id="ann").items[0].id
    assert container.contacts.get(workspace.id, contact_id).tags == ["vip"]


def test_a_notify_node_alerts_slack_and_the_named_addresses(
    container: Container, workspace: NewWorkspace, receiver: RecordingServer
) -> None:
    sender(container, workspace.id)
    receiver.answer(200, b"ok")
    document = {
        "name": "Hot lead",
        "trigger": {"type": "manual"},
        "nodes": [
            {
                "id": "tell",
                "type": "notify",
                "emails": ["sales@acme.example.com"],
                "slack_url": f"{receiver.url}/slack",
                "message": "{{ contact.email }} is ready for sales",
            }
        ],
    }
    journey = container.journeys.apply(workspace.id, document).journey
    ann = {"type": "identify", "userId": "ann", "traits": {"email": "ann@example.com"}}
    ingest(container, workspace.id, ann)
    contact_id = container.contacts.list(workspace.id, user_id="ann").items[0].id
    container.journeys.enroll(workspace.id, journey.id, [contact_id])
    settle(container)
    container.dispatcher.run_once()
    container.webhook_worker.run_once()
    [slack] = receiver.received
    assert "ann@example.com is ready for sales" in slack.body.decode()
    [mail] = container.mail.newest(workspace.id, 10)
    assert mail.rcpt_to == "sales@acme.example.com"
    assert mail.subject == "[nurture] Hot lead: ann@example.com is ready for sales"


def test_a_webhook_send_posts_one_signed_delivery_to_the_endpoint(
    container: Container, workspace: NewWorkspace, receiver: RecordingServer
) -> None:
    receiver.answer(204)
    endpoint = container.webhooks.create(
        workspace.id, {"url": f"{receiver.url}/in", "event_types": ["contact.*"]}
    )
    document = {
        "name": "Tell the shop",
        "trigger": {"type": "event", "event": "Order Completed"},
        "entry": {"reentry": "always"},
        "nodes": [{"id": "post", "type": "send", "channel": "webhook", "endpoint_id": endpoint.id}],
    }
    container.journeys.apply(workspace.id, document)
    order = {"type": "track", "userId": "ann", "event": "Order Completed", "properties": {"order_id": "o1"}}
    ingest(container, workspace.id, order)
    settle(container)
    container.webhook_worker.run_once()
    [posted] = receiver.received
    body = posted.json()
    assert isinstance(body, dict)
    assert body["type"] == "journey.send"
    assert body["data"]["node"] == "post"
    assert body["data"]["event"]["properties"] == {"order_id": "o1"}
    assert posted.headers["webhook-signature"].startswith("v1,")


def test_the_explanation_says_what_became_of_each_message(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    sender(container, workspace.id)
    container.topics.create(workspace.id, "email", "newsletter", {"label": "Newsletter"})
    _cart(container, workspace.id, "u1", "c-1")
    contact_id = container.contacts.list(workspace.id, user_id="u1").items[0].id
    container.subscriptions.set(workspace.id, contact_id, "email", "newsletter", "unsubscribed")
    settle(container)
    container.clock.advance(timedelta(hours=1))
    settle(container)
    container.dispatcher.run_once()
    [run] = container.journeys.explain(workspace.id, contact_id)
    [send] = [line for line in run.trace if line.action == "send"]
    assert "not sent: unsubscribed from topic 'newsletter'" in send.reason
    assert send.data["message"]["status"] == "skipped"


def test_a_score_crossing_its_threshold_starts_the_journey_once(
    container: Container, workspace: NewWorkspace
) -> None:
    container.scoring.create(
        workspace.id,
        {
            "name": "Engagement",
            "rules": [{"type": "event", "id": "demo", "points": 30, "name": "Demo Requested"}],
        },
    )
    document = {
        "name": "Sales ready",
        "trigger": {"type": "score", "model_id": "Engagement", "threshold": 50},
        "entry": {"reentry": "always"},
        "nodes": [{"id": "tag", "type": "update_contact", "add_tags": ["hot"]}],
    }
    container.journeys.apply(workspace.id, document)
    for _ in range(3):  # 30, 60 (crosses 50), 90 (still above: no new entry)
        ingest(container, workspace.id, {"type": "track", "userId": "ann", "event": "Demo Requested"})
        settle(container)
    runs = _runs(container, workspace.id)
    assert [r.status for r in runs] == ["completed"]


def test_two_carts_in_one_request_start_two_runs(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    ingest(
        container,
        workspace.id,
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}},
        {"type": "track", "userId": "u1", "event": "Cart Updated", "properties": {"cart_id": "c-1"}},
        {"type": "track", "userId": "u1", "event": "Cart Updated", "properties": {"cart_id": "c-2"}},
    )
    settle(container)
    assert sorted(r.correlation for r in _runs(container, workspace.id)) == ["c-1", "c-2"]


def test_runs_follow_a_merge_and_a_second_live_run_of_the_survivor_ends(
    container: Container, workspace: NewWorkspace
) -> None:
    document = {
        "name": "Viewed",
        "trigger": {"type": "event", "event": "Viewed"},
        "entry": {"reentry": "always"},
        "nodes": [
            {"id": "wait", "type": "delay", "duration": "1d"},
            {"id": "tag", "type": "update_contact", "add_tags": ["x"]},
        ],
        "edges": [{"from": "wait", "to": "tag"}],
    }
    container.journeys.apply(workspace.id, document)
    ingest(container, workspace.id, {"type": "track", "userId": "ann", "event": "Viewed"})
    ingest(container, workspace.id, {"type": "track", "anonymousId": "device-1", "event": "Viewed"})
    settle(container)
    assert len(_runs(container, workspace.id)) == 2
    ingest(container, workspace.id, {"type": "identify", "userId": "ann", "anonymousId": "device-1"})
    settle(container)
    ann = container.contacts.list(workspace.id, user_id="ann").items[0].id
    runs = _runs(container, workspace.id)
    assert {r.contact_id for r in runs} == {ann}
    assert sorted(r.status for r in runs) == ["exited", "waiting"]
    explained = container.journeys.explain(workspace.id, ann)
    assert len(explained) == 2


def test_a_webhook_that_is_down_is_retried_with_backoff_then_the_run_fails(
    container: Container, workspace: NewWorkspace, receiver: RecordingServer, clock: ManualClock
) -> None:
    receiver.answer(503)
    document = {
        "name": "Ask the CRM",
        "trigger": {"type": "manual"},
        "nodes": [{"id": "crm", "type": "webhook", "url": f"{receiver.url}/lookup"}],
    }
    journey = container.journeys.apply(workspace.id, document).journey
    ingest(container, workspace.id, {"type": "identify", "userId": "ann", "traits": {}})
    ann = container.contacts.list(workspace.id, user_id="ann").items[0].id
    container.journeys.enroll(workspace.id, journey.id, [ann])
    settle(container)
    assert len(receiver.received) == 1
    settle(container)
    assert len(receiver.received) == 1  # not again before the backoff
    for wait in (30, 120, 480, 1920):
        clock.advance(timedelta(seconds=wait))
        settle(container)
    assert len(receiver.received) == 5
    [run] = _runs(container, workspace.id)
    assert run.status == "failed"
    assert run.reason == f"webhook {receiver.url}/lookup failed 5 times: answered 503"
    assert {r.headers["idempotency-key"] for r in receiver.received} == {f"{run.id}:crm:1"}


def test_a_condition_names_segments_by_id_or_name_and_an_unknown_one_is_refused(
    container: Container, workspace: NewWorkspace
) -> None:
    segment = container.segments.create(
        workspace.id, {"name": "VIP", "condition": {"type": "tag", "tag": "vip"}}
    )
    document = {
        "name": "Not for VIPs",
        "trigger": {"type": "manual"},
        "exit": [{"condition": {"type": "segment", "segment_id": "VIP"}}],
        "nodes": [{"id": "tag", "type": "update_contact", "add_tags": ["seen"]}],
    }
    applied = container.journeys.apply(workspace.id, document).journey
    stored = container.journeys.get(workspace.id, applied.id).document
    assert stored["exit"][0]["condition"]["segment_id"] == segment.id
    document["exit"] = [
        {"condition": {"type": "not", "condition": {"type": "segment", "segment_id": "Nope"}}}
    ]
    with pytest.raises(Invalid) as caught:
        container.journeys.apply(workspace.id, document)
    assert [e.field for e in caught.value.errors] == ["exit[0].condition.condition.segment_id"]
    assert container.journeys.get(workspace.id, applied.id).journey.version == 1


def test_a_timeout_and_the_awaited_event_in_one_batch_take_one_path(
    container: Container, workspace: NewWorkspace, cart_journey: str
) -> None:
    _cart(container, workspace.id, "u1", "c-17")
    settle(container)
    container.clock.advance(timedelta(hours=1))
    settle(container)
    [run] = _runs(container, workspace.id)
    assert (run.status, run.node) == ("waiting", "bought")
    # the order arrives after the wait timed out, before any worker looked: one batch sees both
    container.clock.advance(timedelta(days=1, minutes=1))
    _cart(container, workspace.id, "u1", "c-17", event="Order Completed")
    settle(container)

    [run] = _runs(container, workspace.id)
    assert (run.status, run.converted_at is not None) == ("exited", True)
    trace = _trace(container, workspace.id, run.id)
    assert not any("timeout" in line or line.startswith("opened:") for line in trace), trace
    assert [m.node_id for m in _outbox(container, workspace.id)] == ["reminder"]
