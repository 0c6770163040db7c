"""Prometheus metrics, exposed at GET /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_INGESTED = Counter(
    "nurture_events_ingested_total", "Tracking messages accepted, client retries included", ["type"]
)
EVENTS_DUPLICATE = Counter(
    "nurture_events_duplicate_total", "Accepted tracking messages whose messageId was stored already"
)
HTTP_REQUESTS = Histogram(
    "nurture_http_request_duration_seconds",
    "HTTP request duration by route and status",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
