"""Messaging metrics (issue 4, point 9): per template, journey node or campaign, how many distinct
messages were sent, delivered, bounced, opened by a person, clicked, led to an unsubscribe or a
complaint. Counted from `message_events`; test sends are left out."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

from nurture.domain.contact_view import MessageEventKind
from nurture.domain.errors import Invalid
from nurture.store import message_metrics as store
from nurture.store.db import Database

KINDS = tuple(k.value for k in MessageEventKind)


@dataclass(frozen=True)
class Counts:
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    opened: int = 0  # unique human opens: machine opens (privacy proxies, scanners) left out
    clicked: int = 0  # unique: messages with at least one click
    unsubscribed: int = 0
    complained: int = 0

    @classmethod
    def of(cls, pairs: builtins.list[tuple[str, int]]) -> Counts:
        return cls(**{kind: int(n) for kind, n in pairs if kind in KINDS})


@dataclass(frozen=True)
class TemplateCounts:
    template_id: str | None
    counts: Counts = field(default_factory=Counts)


class MetricsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def counts(
        self,
        workspace_id: str,
        *,
        template_id: str | None = None,
        journey_id: str | None = None,
        node_id: str | None = None,
        campaign_id: str | None = None,
    ) -> Counts:
        """Counts for the messages matching every filter given (none: the whole workspace)."""
        if node_id is not None and journey_id is None:
            raise Invalid.one("node_id", "needs journey_id: node ids are per journey")
        given = {"template_id": template_id, "journey_id": journey_id, "node_id": node_id}
        given["campaign_id"] = campaign_id
        filters = {name: value for name, value in given.items() if value is not None}
        with self.db.read() as conn:
            rows = store.counts(conn, workspace_id, filters)
        return Counts.of([(kind, n) for kind, n in rows])

    def by_template(self, workspace_id: str) -> builtins.list[TemplateCounts]:
        """Counts for every template that has sent anything, most sent first."""
        with self.db.read() as conn:
            rows = store.counts(conn, workspace_id, {}, by_template=True)
        grouped: dict[str | None, builtins.list[tuple[str, int]]] = {}
        for template_id, kind, n in rows:
            grouped.setdefault(template_id, []).append((kind, n))
        out = [TemplateCounts(t, Counts.of(pairs)) for t, pairs in grouped.items()]
        return sorted(out, key=lambda t: (-t.counts.sent, t.template_id or ""))
