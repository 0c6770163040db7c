"""Simulating a draft journey, with no side effects: on a scripted stream of Segment-format calls
(one JSON object per line, each with its timestamp), or on the workspace's stored history since a
date (read only). The domain's `simulate` plays the world; this module reads the inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.journeys.parsing import parse_journey
from nurture.domain.journeys.simulate import DEFAULT_HORIZON, SimEvent, SimResult, message_policy, simulate
from nurture.domain.journeys.step import Definition
from nurture.domain.messages.settings import MessagingSettings
from nurture.domain.profile import parse_traits
from nurture.domain.tracking import MessageType, parse_message
from nurture.services.messaging_settings import load as load_settings
from nurture.store import events as event_store
from nurture.store.contact_views import load_views
from nurture.store.db import Database

MAX_LINES = 1_000_000


def read_stream(
    lines: Iterable[str | bytes], label: Callable[[int], str] = "line {}".format
) -> list[SimEvent]:
    """Segment-format calls, one per line: identify (traits) and track (event, properties) drive the
    simulation; other kinds are accepted and skipped. Errors name the line (`label` of its number)."""
    found: list[SimEvent] = []
    errors: list[FieldError] = []
    aliases: dict[str, str] = {}  # anonymous id → the user id an identify tied it to
    for number, line in enumerate(lines, start=1):
        if number > MAX_LINES:
            raise Invalid.one(label(number), f"at most {MAX_LINES:,} lines")
        if not line.strip():
            continue
        where = label(number)
        try:
            message = parse_message(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            errors.append(FieldError(where, f"not JSON: {exc}"))
            continue
        except Invalid as invalid:
            errors += invalid.prefixed(where).errors
            continue
        when = message.timestamp or message.originalTimestamp
        if when is None:
            errors.append(FieldError(f"{where}.timestamp", "each call needs its timestamp in a simulation"))
            continue
        if message.userId and message.anonymousId:
            aliases[str(message.anonymousId)] = str(message.userId)
        key = str(message.userId or aliases.get(str(message.anonymousId), str(message.anonymousId)))
        if message.type is MessageType.IDENTIFY:
            traits = {k: v for _, given in message.identify_traits() for k, v in given.items()}
            try:
                parse_traits(traits)
            except Invalid as invalid:
                errors += invalid.prefixed(where).errors
                continue
            found.append(SimEvent(key, "identify", when, traits=traits))
        elif message.type is MessageType.TRACK:
            found.append(SimEvent(key, "track", when, message.event, dict(message.properties or {})))
    if errors:
        raise Invalid(errors)
    return found


def _definition(document: Any) -> Definition:
    journey, graph = parse_journey(document)
    return Definition(journey, graph, "draft", 0)


def simulate_stream(
    document: Any,
    lines: Iterable[str | bytes],
    horizon: timedelta = DEFAULT_HORIZON,
    settings: MessagingSettings | None = None,
    label: Callable[[int], str] = "line {}".format,
) -> SimResult:
    """With `settings` (a workspace's messaging settings), sends obey its consent rules, cap and
    quiet hours."""
    definition = _definition(document)
    policy = message_policy(settings) if settings is not None else None
    return simulate(definition, read_stream(lines, label), horizon=horizon, policy=policy)


def workspace_settings(db: Database, workspace_id: str) -> MessagingSettings:
    with db.read() as conn:
        return load_settings(conn, workspace_id)


def simulate_history(
    db: Database, workspace_id: str, document: Any, since: datetime, horizon: timedelta = DEFAULT_HORIZON
) -> SimResult:
    """Replay the workspace's tracked events since `since` through a draft, starting each contact
    from its stored profile (read only: nothing is written)."""
    definition = _definition(document)
    with db.read() as conn:
        stored = event_store.tracked_since(conn, workspace_id, since)
        loaded = load_views(conn, workspace_id, {contact_id for contact_id, _ in stored})
        policy = message_policy(load_settings(conn, workspace_id))
    # each contact starts as it was at `since`: the events after it are replayed one by one
    views = {k: replace(v, events=[e for e in v.events if e.timestamp < since]) for k, v in loaded.items()}
    events = [
        SimEvent(contact_id, "track", e.timestamp, e.name, dict(e.properties)) for contact_id, e in stored
    ]
    return simulate(definition, events, start_views=views, horizon=horizon, policy=policy)


def result_json(result: SimResult) -> dict[str, Any]:
    """The machine-readable simulation: per contact its steps (time, node, action; for sends the
    channel and template) and messages, then the population's figures."""
    return {
        "from": result.started.isoformat() if result.started else None,
        "until": result.ended.isoformat() if result.ended else None,
        "contacts": [
            {
                "contact": c.key,
                "runs": c.runs,
                "steps": [
                    {
                        "at": s.at.isoformat(),
                        "run": s.run,
                        "node": s.node,
                        "action": s.action,
                        "reason": s.reason,
                        **({"channel": s.channel, "template": s.template} if s.channel else {}),
                    }
                    for s in c.steps
                ],
                "messages": [
                    {
                        "at": m.at.isoformat(),
                        "node": m.node,
                        "channel": m.channel,
                        "template": m.template,
                        "held_until": m.held_until.isoformat() if m.held_until else None,
                    }
                    for m in c.messages
                ],
            }
            for c in result.contacts.values()
        ],
        "population": {
            "entered": result.entered,
            "completed": result.completed,
            "exited": result.exited,
            "failed": result.failed,
            "converted": result.converted,
            "still_waiting": result.still_waiting,
            "funnel": result.funnel,
            "messages_per_contact": {str(k): v for k, v in result.messages_per_contact.items()},
            "stopped_by_policy": result.stopped,
        },
    }
