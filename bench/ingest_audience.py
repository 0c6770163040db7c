"""`--audience`: the ingest runs with segments and a journey defined, so every request also does the
audience work a real workspace makes it do (queueing the changes segments read, the journey inbox),
and the embedded workers process that queue while the run is measured."""

from __future__ import annotations

from bench.audience_live import _api
from bench.servers import Server
from bench.workload import EVENT_NAMES

SEGMENTS = [
    {
        "name": "Added to cart in the last day",
        "condition": {"type": "event", "name": "Product Added", "window": {"kind": "last_days", "days": 1}},
    },
    {
        "name": "Paying plans",
        "condition": {
            "type": "attribute",
            "field": "attributes.plan",
            "operator": {"op": "in", "values": ["pro", "enterprise"]},
        },
    },
    {
        "name": "Seen this week",
        "condition": {
            "type": "attribute",
            "field": "last_seen_at",
            "operator": {"op": "within_last_days", "days": 7},
        },
    },
]
JOURNEY = {
    "name": "Order follow-up",
    "trigger": {"type": "event", "event": "Order Completed"},
    "entry": {"reentry": "always"},
    "nodes": [
        {"id": "wait", "type": "delay", "duration": "1d"},
        {"id": "tag", "type": "update_contact", "add_tags": ["customer"]},
    ],
    "edges": [{"from": "wait", "to": "tag"}],
}
assert JOURNEY["trigger"]["event"] in EVENT_NAMES  # type: ignore[index]


def define(server: Server) -> None:
    """Declare the traits the segments read (the workload's identify calls carry them), create the
    segments and publish the journey."""
    status, body = _api(
        server, server.secret_key, "POST", "/api/v1/catalog/attributes", {"name": "plan", "types": ["string"]}
    )
    if status != 201:
        raise RuntimeError(f"attribute not declared: {status} {body}")
    for segment in SEGMENTS:
        status, body = _api(server, server.secret_key, "POST", "/api/v1/segments", segment)
        if status not in (200, 201):
            raise RuntimeError(f"segment not created: {status} {body}")
    status, body = _api(server, server.secret_key, "POST", "/api/v1/journeys", JOURNEY)
    if status not in (200, 201):
        raise RuntimeError(f"journey not published: {status} {body}")
