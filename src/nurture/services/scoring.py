"""Lead scoring in the caller's transaction: the entry points the audience worker calls.

- `score_events`: newly stored events → event-rule points (and condition rules that read those events);
- `rescore_conditions`: a profile, membership, score or merge change → condition rules re-evaluated;
- `decay_due`: scores whose decay, expiry or time-relative condition moves them now.

Each writes `score_changes` rows, re-stores `contact_scores` (rounded, with its next `due_at`),
records threshold crossings, moves the lifecycle stage forward and queues a SCORE change when a
score changed. The contact row is locked first, so scoring one contact never interleaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection

from nurture.domain.activities import ActivityKind, ChangeKind
from nurture.domain.conditions.references import references
from nurture.domain.contact_view import ContactView
from nurture.domain.evaluate import evaluate
from nurture.domain.next_change import next_change_time
from nurture.domain.scoring import (
    MANUAL_RULE,
    EventRule,
    PointsKind,
    ScoringModel,
    allowance,
    condition_delta,
    crossings,
    expires_at,
    model_from_stored,
    next_recompute,
    oldest_counted,
    rounded,
    rule_matches,
    score_at,
)
from nurture.domain.scoring.definition import SCORED_EVENT_TYPES, Frequency
from nurture.services import lifecycle
from nurture.services.journeys.inbox import note_score
from nurture.store import activities, contact_views
from nurture.store import contacts as contact_store
from nurture.store import scoring as store

EPSILON = 1e-9


class StoredEvent(Protocol):
    """What scoring reads of an `events` row (a row, or `nurture.domain.contacts.Event`)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...
    @property
    def timestamp(self) -> datetime: ...


@dataclass
class ScoredContact:
    """One contact being scored in this transaction; its view is loaded at most once."""

    conn: Connection
    workspace_id: str
    id: str
    _view: ContactView | None = field(default=None, init=False)

    def view(self) -> ContactView:
        if self._view is None:
            self._view = contact_views.load_view(self.conn, self.workspace_id, self.id)
            assert self._view is not None, "the contact is locked, so it exists"
        return self._view

    def rescored(self, model_id: str, score: float) -> None:
        """Keep a loaded view current, for models whose conditions read this model's score."""
        if self._view is not None:
            self._view = replace(self._view, scores={**self._view.scores, model_id: score})


def workspace_models(conn: Connection, workspace_id: str) -> list[tuple[str, ScoringModel]]:
    return [(row.id, model_from_stored(row.name, row.definition)) for row in store.models(conn, workspace_id)]


def _live(conn: Connection, workspace_id: str, contact_id: str) -> str | None:
    """Lock the contact (following a merge to the contact it became); None if it is gone."""
    if store.lock_contact(conn, workspace_id, contact_id):
        return contact_id
    merged = contact_store.merged_into(conn, workspace_id, contact_id)
    if merged is not None and store.lock_contact(conn, workspace_id, merged):
        return merged
    return None


Models = Sequence[tuple[str, ScoringModel]]


def score_events(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    events: Sequence[StoredEvent],
    now: datetime,
    models: Models | None = None,
) -> list[str]:
    """Score newly stored events of one contact in every model (`models`: the workspace's, when the
    caller has them already); returns the ids of the models whose score changed. A retried event
    never scores twice (dedupe keys); an event dated in the future counts from `now`."""
    live = _live(conn, workspace_id, contact_id)
    if live is None:
        return []
    contact = ScoredContact(conn, workspace_id, live)
    scored = sorted(
        (e for e in events if e.type in SCORED_EVENT_TYPES and e.name), key=lambda e: (e.timestamp, e.id)
    )
    names = {e.name for e in scored}
    changed = []
    for model_id, model in workspace_models(conn, workspace_id) if models is None else models:
        granted = _grant_events(conn, workspace_id, model_id, model, live, scored, now)
        reading = [r for r in model.condition_rules() if references(r.condition).event_names & names]
        if (granted or reading) and recompute(contact, model_id, model, now, conditions=bool(reading)):
            changed.append(model_id)
    return changed


def rescore_conditions(
    conn: Connection, workspace_id: str, contact_id: str, now: datetime, models: Models | None = None
) -> list[str]:
    """Re-evaluate every condition rule for one contact (after a profile, membership, score or merge
    change); returns the ids of the models whose score changed."""
    live = _live(conn, workspace_id, contact_id)
    if live is None:
        return []
    contact = ScoredContact(conn, workspace_id, live)
    changed = []
    for model_id, model in workspace_models(conn, workspace_id) if models is None else models:
        if model.condition_rules() and recompute(contact, model_id, model, now, conditions=True):
            changed.append(model_id)
    return changed


def decay_due(conn: Connection, now: datetime, limit: int = 500) -> int:
    """Recompute up to `limit` scores whose `due_at` has come (any workspace); returns how many were
    recomputed. Concurrent workers skip contacts another one holds (PostgreSQL)."""
    due = store.due_scores(conn, now, limit)
    by_contact: dict[tuple[str, str], list[str]] = {}
    for workspace_id, model_id, contact_id in due:
        by_contact.setdefault((workspace_id, contact_id), []).append(model_id)
    done = 0
    models: dict[str, dict[str, ScoringModel]] = {}
    for workspace_id in sorted({w for w, _ in by_contact}):
        ids = sorted(c for w, c in by_contact if w == workspace_id)
        locked = store.lock_free_contacts(conn, workspace_id, ids)
        known = models.setdefault(workspace_id, dict(workspace_models(conn, workspace_id)))
        for contact_id in ids:
            if contact_id not in locked:
                continue
            contact = ScoredContact(conn, workspace_id, contact_id)
            for model_id in by_contact[(workspace_id, contact_id)]:
                current = store.stored_score(conn, workspace_id, model_id, contact_id)
                model = known.get(model_id)
                if model is None or current is None or current.due_at is None or current.due_at > now:
                    continue  # another worker was first
                recompute(contact, model_id, model, now, conditions=True)
                done += 1
    return done


def _grant_events(
    conn: Connection,
    workspace_id: str,
    model_id: str,
    model: ScoringModel,
    contact_id: str,
    scored: Sequence[StoredEvent],
    now: datetime,
    *,
    fresh: bool = False,
) -> bool:
    """Write the points `scored` (in time order) earn under the model's event rules; `fresh`: the
    contact has no event points in the model (a rescore deleted them), so nothing needs reading."""
    candidates: list[tuple[EventRule, StoredEvent, str]] = []
    for event in scored:
        for rule in model.event_rules():
            if rule_matches(rule, event.name, event.properties, now):
                once = rule.frequency is Frequency.ONCE
                key = f"once:{rule.id}" if once else f"event:{rule.id}:{event.id}"
                candidates.append((rule, event, key))
    if not candidates:
        return False
    keys = {key for _, _, key in candidates}
    taken = set() if fresh else store.existing_keys(conn, workspace_id, model_id, contact_id, keys)
    grants: dict[str, list[tuple[datetime, float]]] = {}
    rows = []
    for rule, event, key in candidates:
        if key in taken:
            continue
        taken.add(key)
        at = min(event.timestamp, now)
        points = rule.points
        if rule.cap is not None:
            period = timedelta(days=rule.cap.days)
            if rule.id not in grants and fresh:
                grants[rule.id] = []
            elif rule.id not in grants:
                times = [min(e.timestamp, now) for _, e, _ in candidates]
                grants[rule.id] = store.rule_grants(
                    conn,
                    workspace_id,
                    model_id,
                    contact_id,
                    rule.id,
                    min(times) - period,
                    max(times) + period,
                )
            points = allowance(rule.cap, rule.points, at, grants[rule.id])
            if abs(points) < EPSILON:
                continue
            grants[rule.id].append((at, points))
        rows.append(
            {
                "workspace_id": workspace_id,
                "model_id": model_id,
                "contact_id": contact_id,
                "rule_id": rule.id,
                "kind": PointsKind.EVENT.value,
                "points": points,
                "event_id": event.id,
                "reason": None,
                "occurred_at": at,
                "expires_at": expires_at(model.decay, PointsKind.EVENT, at),
                "dedupe_key": key,
            }
        )
    store.insert_changes(conn, rows)
    return bool(rows)


def _apply_conditions(
    contact: ScoredContact, model_id: str, model: ScoringModel, now: datetime
) -> datetime | None:
    """Bring each condition rule's points in line with whether its condition holds now (a rule no
    longer in the model gives its points back); returns when time alone may next change one."""
    conn, workspace_id = contact.conn, contact.workspace_id
    totals = store.condition_totals(conn, workspace_id, model_id, contact.id)
    deltas: dict[str, float] = {}
    due: datetime | None = None
    for rule in model.condition_rules():
        view = contact.view()
        holds = evaluate(rule.condition, view, now)
        deltas[rule.id] = condition_delta(rule, holds, totals.get(rule.id, 0.0))
        moment = next_change_time(rule.condition, view, now)
        if moment is not None and (due is None or moment < due):
            due = moment
    for rule_id, total in totals.items():
        if rule_id not in deltas:
            deltas[rule_id] = -total
    store.insert_changes(
        conn,
        [
            {
                "workspace_id": workspace_id,
                "model_id": model_id,
                "contact_id": contact.id,
                "rule_id": rule_id,
                "kind": PointsKind.CONDITION.value,
                "points": delta,
                "event_id": None,
                "reason": None,
                "occurred_at": now,
                "expires_at": None,
                "dedupe_key": None,
            }
            for rule_id, delta in sorted(deltas.items())
            if abs(delta) > EPSILON
        ],
    )
    return due


def recompute(
    contact: ScoredContact, model_id: str, model: ScoringModel, now: datetime, *, conditions: bool
) -> bool:
    """Re-store the contact's score in one model; apply thresholds and queue a change if it moved.
    Returns whether the stored score changed."""
    conn, workspace_id = contact.conn, contact.workspace_id
    condition_due = _apply_conditions(contact, model_id, model, now) if conditions else None
    current = store.stored_score(conn, workspace_id, model_id, contact.id)
    changes = store.changes_for_score(
        conn, workspace_id, model_id, contact.id, oldest_counted(model.decay, now)
    )
    new = rounded(score_at(changes, model.decay, now))
    due = next_recompute(changes, model.decay, model.thresholds, now)
    if conditions:
        due = _earliest(due, condition_due)
    elif current is not None and current.due_at is not None and current.due_at > now:
        due = _earliest(due, current.due_at)  # a condition's next change, unknown without the view
    if due is not None and due <= now:
        due = now + timedelta(seconds=1)
    old = current.score if current is not None else 0.0
    if current is None and not changes:
        return False
    if current is None or new != old or due != current.due_at:
        store.save_score(conn, workspace_id, model_id, contact.id, new, now, due, exists=current is not None)
    if new == old:
        return False
    contact.rescored(model_id, new)
    _thresholds(conn, workspace_id, contact.id, model_id, model, old, new, now)
    note_score(conn, workspace_id, contact.id, model_id, old, new, now)
    activities.enqueue_change(conn, workspace_id, contact.id, ChangeKind.SCORE, now, name=model_id)
    return True


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _thresholds(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    model_id: str,
    model: ScoringModel,
    old: float,
    new: float,
    now: datetime,
) -> None:
    """Record each threshold the score passed; reaching one moves the stage forward (never back)."""
    passed = crossings(model.thresholds, old, new)
    for crossing in passed:
        activities.record(
            conn,
            workspace_id,
            contact_id,
            ActivityKind.SCORE_THRESHOLD_CROSSED,
            now,
            subject_id=model_id,
            data={
                "model": model_id,
                "threshold": crossing.threshold.score,
                "stage": crossing.threshold.stage,
                "score": new,
                "direction": crossing.direction,
            },
        )
    reached = [c.threshold for c in passed if c.direction == "up"]
    if not reached:
        return
    target = reached[-1]
    if target.stage not in lifecycle.stages(conn, workspace_id):
        return  # the workspace no longer has that stage (set_stages refuses this; old data may not)
    lifecycle.change_stage(
        conn,
        workspace_id,
        contact_id,
        target.stage,
        now,
        {"source": "score", "model": model_id, "threshold": target.score, "score": new},
        forward_only=True,
    )


def rescore_contacts(
    conn: Connection,
    workspace_id: str,
    model_id: str,
    model: ScoringModel,
    contact_ids: Sequence[str],
    now: datetime,
) -> int:
    """Recompute one model for these contacts from their stored events and current conditions (manual
    points stay); returns how many scores changed. Used after a model's rules change."""
    locked = sorted(store.lock_contacts(conn, workspace_id, contact_ids))
    store.delete_derived_changes(conn, workspace_id, model_id, locked)
    names = {rule.name for rule in model.event_rules()}
    by_contact: dict[str, list[Any]] = {}
    for row in store.events_named(conn, workspace_id, locked, names):
        by_contact.setdefault(row.contact_id, []).append(row)
    changed = 0
    for contact_id in locked:
        found = by_contact.get(contact_id, [])
        _grant_events(conn, workspace_id, model_id, model, contact_id, found, now, fresh=True)
        contact = ScoredContact(conn, workspace_id, contact_id)
        if recompute(contact, model_id, model, now, conditions=bool(model.condition_rules())):
            changed += 1
    return changed


def grant_manual(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    model_id: str,
    model: ScoringModel,
    points: float,
    reason: str | None,
    now: datetime,
    dedupe_key: str | None = None,
) -> bool:
    """Points given by hand or by a journey (they decay like event points), for a locked contact;
    thresholds apply as for any change. A `dedupe_key` given before grants nothing. Returns whether
    the stored score changed."""
    if dedupe_key is not None and store.existing_keys(conn, workspace_id, model_id, contact_id, {dedupe_key}):
        return False
    store.insert_changes(
        conn,
        [
            {
                "workspace_id": workspace_id,
                "model_id": model_id,
                "contact_id": contact_id,
                "rule_id": MANUAL_RULE,
                "kind": PointsKind.MANUAL.value,
                "points": points,
                "event_id": None,
                "reason": reason,
                "occurred_at": now,
                "expires_at": expires_at(model.decay, PointsKind.MANUAL, now),
                "dedupe_key": dedupe_key,
            }
        ],
    )
    return recompute(ScoredContact(conn, workspace_id, contact_id), model_id, model, now, conditions=False)
