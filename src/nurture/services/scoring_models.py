"""Scoring through the admin API: models (create, read, replace, delete, rescore), a contact's scores
with the per-rule breakdown, its score history, and points added by hand."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.activities import ChangeKind
from nurture.domain.catalog import check_condition, check_event_filters
from nurture.domain.contacts import Page
from nurture.domain.errors import Conflict, FieldError, Invalid, NotFound
from nurture.domain.scoring import (
    ConditionRule,
    HistoryEntry,
    PointsKind,
    RuleBreakdown,
    ScoringModel,
    breakdown,
    check_against_workspace,
    check_manual_points,
    expires_at,
    model_from_stored,
    parse_model,
)
from nurture.services import audience_interest, lifecycle
from nurture.services.catalog import workspace_catalog
from nurture.services.clock import Clock
from nurture.services.paging import decode_id_cursor, decode_time_cursor, encode_id_cursor, encode_time_cursor
from nurture.services.scoring import grant_manual, rescore_contacts, workspace_models
from nurture.store import activities
from nurture.store import contacts as contact_store
from nurture.store import scoring as store
from nurture.store.db import Database
from nurture.store.ids import new_id

MAX_PAGE = 500
RESCORE_BATCH = 200


@dataclass(frozen=True)
class Model:
    """A stored scoring model."""

    id: str
    model: ScoringModel
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ContactScore:
    """A contact's score in one model and why: the stored score (what segments read) and the
    per-rule breakdown as of that moment."""

    model_id: str
    model_name: str
    score: float
    updated_at: datetime | None
    rules: list[RuleBreakdown]


@dataclass(frozen=True)
class RescoreReport:
    contacts: int
    changed: int


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
    return limit


class ScoringService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # ---- models ----

    def list(self, workspace_id: str, *, cursor: str | None = None, limit: int = 50) -> Page[Model]:
        limit = _limit(limit)
        with self.db.read() as conn:
            rows = store.models(conn, workspace_id, after=decode_id_cursor(cursor), limit=limit + 1)
        items = [self._of(r) for r in rows[:limit]]
        return Page(items, encode_id_cursor(items[-1].id) if len(rows) > limit else None)

    def get(self, workspace_id: str, model_id: str) -> Model:
        with self.db.read() as conn:
            return self._get(conn, workspace_id, model_id)

    def create(self, workspace_id: str, body: Mapping[str, Any]) -> Model:
        model = parse_model(body)
        now = self.clock.now()
        with self.db.write() as conn:
            self._check(conn, workspace_id, model, None)
            audience_interest.changed(conn, workspace_id, now)
            row = store.ModelRow(new_id(), model.name, model.definition(), now, now)
            store.insert_model(conn, workspace_id, row)
        return Model(row.id, model, now, now)

    def replace(self, workspace_id: str, model_id: str, body: Mapping[str, Any]) -> Model:
        """A new definition. New event rules score new events (rescore to apply them to the past);
        condition rules, decay and thresholds apply to every contact with a score in the model at
        the next `decay_due` (they are all made due now)."""
        model = parse_model(body)
        now = self.clock.now()
        with self.db.write() as conn:
            before = self._get(conn, workspace_id, model_id)
            self._check(conn, workspace_id, model, model_id)
            audience_interest.changed(conn, workspace_id, now)
            store.update_model(conn, workspace_id, model_id, model.name, model.definition(), now)
            if before.model.decay != model.decay:
                store.reset_expiry(
                    conn, workspace_id, model_id, lambda at: expires_at(model.decay, PointsKind.EVENT, at)
                )
            store.make_due(conn, workspace_id, model_id, now)
        return Model(model_id, model, before.created_at, now)

    def delete(self, workspace_id: str, model_id: str) -> None:
        """Delete a model, its scores and their history; segments reading it then read 0."""
        now = self.clock.now()
        with self.db.write() as conn:
            self._get(conn, workspace_id, model_id)
            for _, other in workspace_models(conn, workspace_id):
                if model_id in other.score_models():
                    raise Conflict(f"scoring model {other.name!r} reads this model's score; change it first")
            audience_interest.changed(conn, workspace_id, now)
            for contact_id in store.delete_model(conn, workspace_id, model_id):
                activities.enqueue_change(
                    conn, workspace_id, contact_id, ChangeKind.SCORE, now, name=model_id
                )

    def rescore(self, workspace_id: str, model_id: str) -> RescoreReport:
        """Recompute every contact's score in the model from stored events and current conditions
        (manual points stay), RESCORE_BATCH contacts per transaction. Cost: one pass over the
        workspace's contacts and the events the rules name."""
        with self.db.read() as conn:
            model = self._get(conn, workspace_id, model_id).model
        after: str | None = None
        contacts = changed = 0
        while True:
            now = self.clock.now()
            with self.db.write() as conn:
                ids = store.contact_ids(conn, workspace_id, after=after, limit=RESCORE_BATCH)
                if not ids:
                    return RescoreReport(contacts, changed)
                changed += rescore_contacts(conn, workspace_id, model_id, model, ids, now)
            contacts += len(ids)
            after = ids[-1]

    # ---- a contact's scores ----

    def scores(self, workspace_id: str, contact_id: str) -> builtins.list[ContactScore]:
        """Every model's score for the contact (0 when never scored), with the rules behind it."""
        with self.db.read() as conn:
            contact_id = self._contact(conn, workspace_id, contact_id)
            stored = store.scores_of(conn, workspace_id, contact_id)
            out = []
            for model_id, model in workspace_models(conn, workspace_id):
                out.append(self._score(conn, workspace_id, contact_id, model_id, model, stored.get(model_id)))
        return out

    def history(
        self, workspace_id: str, contact_id: str, model_id: str, *, cursor: str | None, limit: int = 50
    ) -> Page[HistoryEntry]:
        limit = _limit(limit)
        with self.db.read() as conn:
            contact_id = self._contact(conn, workspace_id, contact_id)
            self._get(conn, workspace_id, model_id)
            rows = store.history(
                conn, workspace_id, model_id, contact_id, before=decode_time_cursor(cursor), limit=limit + 1
            )
        items = rows[:limit]
        more = len(rows) > limit
        return Page(items, encode_time_cursor(items[-1].occurred_at, items[-1].id) if more else None)

    def add_points(
        self, workspace_id: str, contact_id: str, model_id: str, points: object, reason: object
    ) -> ContactScore:
        """Points given by hand (they decay like event points); thresholds apply as for any change."""
        amount, why = check_manual_points(points, reason)
        now = self.clock.now()
        with self.db.write() as conn:
            contact_id = self._contact(conn, workspace_id, contact_id)
            model = self._get(conn, workspace_id, model_id).model
            store.lock_contact(conn, workspace_id, contact_id)
            grant_manual(conn, workspace_id, contact_id, model_id, model, amount, why, now)
            stored = store.stored_score(conn, workspace_id, model_id, contact_id)
            return self._score(conn, workspace_id, contact_id, model_id, model, stored)

    # ---- helpers ----

    @staticmethod
    def _score(
        conn: Connection,
        workspace_id: str,
        contact_id: str,
        model_id: str,
        model: ScoringModel,
        stored: store.StoredScore | None,
    ) -> ContactScore:
        if stored is None:
            return ContactScore(model_id, model.name, 0.0, None, [])
        changes = store.changes_for_score(conn, workspace_id, model_id, contact_id, None)
        lines = breakdown(changes, model.decay, stored.updated_at)
        return ContactScore(model_id, model.name, stored.score, stored.updated_at, lines)

    def _check(self, conn: Connection, workspace_id: str, model: ScoringModel, model_id: str | None) -> None:
        if store.name_taken(conn, workspace_id, model.name, other_than=model_id):
            raise Conflict(f"a scoring model named {model.name!r} exists already")
        others = dict(workspace_models(conn, workspace_id))
        check_against_workspace(model, model_id, lifecycle.stages(conn, workspace_id), others)
        known = workspace_catalog(conn, workspace_id)
        errors: builtins.list[FieldError] = []
        for index, rule in enumerate(model.rules):
            if isinstance(rule, ConditionRule):
                errors += check_condition(rule.condition, known, f"rules[{index}].condition")
            else:
                errors += check_event_filters(rule.name, rule.where, known, f"rules[{index}]")
        if errors:
            raise Invalid(errors)

    @staticmethod
    def _of(row: store.ModelRow) -> Model:
        return Model(row.id, model_from_stored(row.name, row.definition), row.created_at, row.updated_at)

    def _get(self, conn: Connection, workspace_id: str, model_id: str) -> Model:
        row = store.get_model(conn, workspace_id, model_id)
        if row is None:
            raise NotFound(f"no scoring model {model_id} in this workspace")
        return self._of(row)

    @staticmethod
    def _contact(conn: Connection, workspace_id: str, contact_id: str) -> str:
        """The contact's id, following a merge; NotFound when the workspace has no such contact."""
        if store.contact_exists(conn, workspace_id, contact_id):
            return contact_id
        merged = contact_store.merged_into(conn, workspace_id, contact_id)
        if merged is not None:
            return merged
        raise NotFound(f"no contact {contact_id} in this workspace")
