"""SQL for lead scoring: models, score changes (the history), current scores and their recompute times."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, and_, bindparam, delete, func, insert, or_, select, update

from nurture.domain.scoring import HistoryEntry, PointsKind, ScoreChange
from nurture.domain.scoring.definition import SCORED_EVENT_TYPES
from nurture.store.ids import new_id
from nurture.store.schema import contact_scores, contacts, events, score_changes, scoring_models
from nurture.store.sql import chunks, insert_ignore

# ---- models ----


@dataclass(frozen=True)
class ModelRow:
    id: str
    name: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _model(row: Any) -> ModelRow:
    return ModelRow(row.id, row.name, dict(row.definition), row.created_at, row.updated_at)


def models(
    conn: Connection, workspace_id: str, *, after: str | None = None, limit: int | None = None
) -> list[ModelRow]:
    """The workspace's models in id order (after the cursor id `after`)."""
    query = select(scoring_models).where(scoring_models.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(scoring_models.c.id > after)
    query = query.order_by(scoring_models.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [_model(r) for r in conn.execute(query)]


def get_model(conn: Connection, workspace_id: str, model_id: str) -> ModelRow | None:
    row = conn.execute(
        select(scoring_models).where(
            scoring_models.c.workspace_id == workspace_id, scoring_models.c.id == model_id
        )
    ).first()
    return _model(row) if row else None


def name_taken(conn: Connection, workspace_id: str, name: str, other_than: str | None = None) -> bool:
    query = select(scoring_models.c.id).where(
        scoring_models.c.workspace_id == workspace_id, scoring_models.c.name == name
    )
    if other_than is not None:
        query = query.where(scoring_models.c.id != other_than)
    return conn.execute(query).first() is not None


def insert_model(conn: Connection, workspace_id: str, row: ModelRow) -> None:
    conn.execute(
        insert(scoring_models).values(
            workspace_id=workspace_id,
            id=row.id,
            name=row.name,
            definition=row.definition,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
    )


def update_model(
    conn: Connection, workspace_id: str, model_id: str, name: str, definition: dict[str, Any], now: datetime
) -> None:
    conn.execute(
        update(scoring_models)
        .where(scoring_models.c.workspace_id == workspace_id, scoring_models.c.id == model_id)
        .values(name=name, definition=definition, updated_at=now)
    )


def delete_model(conn: Connection, workspace_id: str, model_id: str) -> list[str]:
    """Delete a model with its scores and history; returns the contacts that had a non-zero score."""
    scored = list(
        conn.execute(
            select(contact_scores.c.contact_id).where(
                contact_scores.c.workspace_id == workspace_id,
                contact_scores.c.model_id == model_id,
                contact_scores.c.score != 0,
            )
        ).scalars()
    )
    for table in (score_changes, contact_scores):
        conn.execute(delete(table).where(table.c.workspace_id == workspace_id, table.c.model_id == model_id))
    conn.execute(
        delete(scoring_models).where(
            scoring_models.c.workspace_id == workspace_id, scoring_models.c.id == model_id
        )
    )
    return scored


# ---- contacts ----


# Statements on the per-contact path are built once: building one costs more than running it.
_W: BindParameter[str] = bindparam("w")
_M: BindParameter[str] = bindparam("m")
_C: BindParameter[str] = bindparam("c")
_CONTACT = select(contacts.c.id).where(contacts.c.workspace_id == _W, contacts.c.id == _C)
_LOCK_CONTACT = _CONTACT.with_for_update()


def contact_exists(conn: Connection, workspace_id: str, contact_id: str) -> bool:
    return conn.execute(_CONTACT, {"w": workspace_id, "c": contact_id}).first() is not None


def lock_contact(conn: Connection, workspace_id: str, contact_id: str) -> bool:
    """Lock the contact row for this transaction (scoring, stage changes and merges of one contact take
    turns); False when there is no such contact."""
    return conn.execute(_LOCK_CONTACT, {"w": workspace_id, "c": contact_id}).first() is not None


def lock_contacts(conn: Connection, workspace_id: str, contact_ids: Sequence[str]) -> set[str]:
    """Lock these contacts (in id order); returns those that exist."""
    query = select(contacts.c.id).where(
        contacts.c.workspace_id == workspace_id, contacts.c.id.in_(contact_ids)
    )
    return set(conn.execute(query.order_by(contacts.c.id).with_for_update()).scalars())


def lock_free_contacts(conn: Connection, workspace_id: str, contact_ids: Sequence[str]) -> set[str]:
    """Lock those of `contact_ids` no other transaction holds (PostgreSQL SKIP LOCKED), for workers
    that share a queue; on SQLite every existing one (the write transaction holds the database)."""
    query = select(contacts.c.id).where(
        contacts.c.workspace_id == workspace_id, contacts.c.id.in_(contact_ids)
    )
    return set(conn.execute(query.with_for_update(skip_locked=True)).scalars())


def contact_ids(conn: Connection, workspace_id: str, *, after: str | None, limit: int) -> list[str]:
    query = select(contacts.c.id).where(contacts.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(contacts.c.id > after)
    return list(conn.execute(query.order_by(contacts.c.id).limit(limit)).scalars())


def events_named(
    conn: Connection, workspace_id: str, contact_ids: Sequence[str], names: Iterable[str]
) -> list[Any]:
    """Events of these contacts with one of `names` (track, page, screen), in time order."""
    wanted = sorted(set(names))
    if not wanted or not contact_ids:
        return []
    rows = conn.execute(
        select(
            events.c.id,
            events.c.contact_id,
            events.c.type,
            events.c.name,
            events.c.properties,
            events.c.timestamp,
        )
        .where(
            events.c.workspace_id == workspace_id,
            events.c.contact_id.in_(contact_ids),
            events.c.name.in_(wanted),
            events.c.type.in_(SCORED_EVENT_TYPES),
        )
        .order_by(events.c.contact_id, events.c.timestamp, events.c.id)
    )
    return list(rows)


# ---- score changes ----


_sc = score_changes.c
_MINE = and_(_sc.workspace_id == _W, _sc.model_id == _M, _sc.contact_id == _C)
_EXISTING_KEYS = select(_sc.dedupe_key).where(_MINE, _sc.dedupe_key.in_(bindparam("keys", expanding=True)))
_RULE_GRANTS = select(_sc.occurred_at, _sc.points).where(
    _MINE,
    _sc.rule_id == bindparam("rule"),
    _sc.kind == PointsKind.EVENT.value,
    _sc.occurred_at > bindparam("start"),
    _sc.occurred_at < bindparam("end"),
)
_ALL_CHANGES = select(_sc.rule_id, _sc.kind, _sc.points, _sc.occurred_at, _sc.event_id).where(_MINE)
_CHANGES_SINCE = _ALL_CHANGES.where(
    or_(_sc.kind == PointsKind.CONDITION.value, _sc.occurred_at >= bindparam("since"))
)
_CONDITION_TOTALS = (
    select(_sc.rule_id, func.sum(_sc.points))
    .where(_MINE, _sc.kind == PointsKind.CONDITION.value)
    .group_by(_sc.rule_id)
)


def _change(row: Any) -> ScoreChange:
    return ScoreChange(row.rule_id, PointsKind(row.kind), row.points, row.occurred_at, row.event_id)


def insert_changes(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert score changes; a dedupe key the contact has already (a retried event) is skipped."""
    if rows:
        conn.execute(insert_ignore(conn, score_changes), [{"id": new_id(), **row} for row in rows])


def existing_keys(
    conn: Connection, workspace_id: str, model_id: str, contact_id: str, keys: Iterable[str]
) -> set[str]:
    found: set[str] = set()
    for part in chunks(sorted(set(keys))):
        key = {"w": workspace_id, "m": model_id, "c": contact_id, "keys": list(part)}
        found.update(conn.execute(_EXISTING_KEYS, key).scalars())
    return found


def rule_grants(
    conn: Connection,
    workspace_id: str,
    model_id: str,
    contact_id: str,
    rule_id: str,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, float]]:
    """A rule's event grants to the contact with `start < occurred_at < end` (for caps)."""
    key = {"w": workspace_id, "m": model_id, "c": contact_id, "rule": rule_id, "start": start, "end": end}
    rows = conn.execute(_RULE_GRANTS, key)
    return [(r.occurred_at, r.points) for r in rows]


def changes_for_score(
    conn: Connection, workspace_id: str, model_id: str, contact_id: str, since: datetime | None
) -> list[ScoreChange]:
    """The changes a score at now needs: condition points and the decaying points newer than `since`
    (None: all)."""
    key = {"w": workspace_id, "m": model_id, "c": contact_id}
    if since is None:
        return [_change(r) for r in conn.execute(_ALL_CHANGES, key)]
    return [_change(r) for r in conn.execute(_CHANGES_SINCE, {**key, "since": since})]


def condition_totals(conn: Connection, workspace_id: str, model_id: str, contact_id: str) -> dict[str, float]:
    """Net points per condition rule (its points while it holds, 0 otherwise)."""
    rows = conn.execute(_CONDITION_TOTALS, {"w": workspace_id, "m": model_id, "c": contact_id})
    return {rule_id: float(total) for rule_id, total in rows}


def delete_derived_changes(
    conn: Connection, workspace_id: str, model_id: str, contact_ids: Sequence[str]
) -> None:
    """Drop event and condition points of these contacts (a full rescore recreates them); manual
    points stay."""
    conn.execute(
        delete(score_changes).where(
            score_changes.c.workspace_id == workspace_id,
            score_changes.c.model_id == model_id,
            score_changes.c.contact_id.in_(contact_ids),
            score_changes.c.kind != PointsKind.MANUAL.value,
        )
    )


def history(
    conn: Connection,
    workspace_id: str,
    model_id: str,
    contact_id: str,
    *,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[HistoryEntry]:
    """A contact's changes in one model, newest first, strictly older than the cursor (time, id)."""
    c = score_changes.c
    query = select(score_changes).where(
        c.workspace_id == workspace_id, c.model_id == model_id, c.contact_id == contact_id
    )
    if before is not None:
        at, last_id = before
        query = query.where(or_(c.occurred_at < at, and_(c.occurred_at == at, c.id < last_id)))
    rows = conn.execute(query.order_by(c.occurred_at.desc(), c.id.desc()).limit(limit))
    return [
        HistoryEntry(r.id, r.rule_id, r.kind, r.points, r.event_id, r.reason, r.occurred_at, r.expires_at)
        for r in rows
    ]


# ---- current scores ----


@dataclass(frozen=True)
class StoredScore:
    model_id: str
    score: float
    updated_at: datetime
    due_at: datetime | None


_cs = contact_scores.c
_SCORE_KEY = and_(_cs.workspace_id == _W, _cs.model_id == _M, _cs.contact_id == _C)
_STORED = select(contact_scores).where(_SCORE_KEY)
_UPDATE_SCORE = (
    update(contact_scores)
    .where(_SCORE_KEY)
    .values(score=bindparam("score"), updated_at=bindparam("now"), due_at=bindparam("due"))
)


def stored_score(conn: Connection, workspace_id: str, model_id: str, contact_id: str) -> StoredScore | None:
    row = conn.execute(_STORED, {"w": workspace_id, "m": model_id, "c": contact_id}).first()
    return StoredScore(row.model_id, row.score, row.updated_at, row.due_at) if row else None


def scores_of(conn: Connection, workspace_id: str, contact_id: str) -> dict[str, StoredScore]:
    rows = conn.execute(
        select(contact_scores).where(
            contact_scores.c.workspace_id == workspace_id, contact_scores.c.contact_id == contact_id
        )
    )
    return {r.model_id: StoredScore(r.model_id, r.score, r.updated_at, r.due_at) for r in rows}


def save_score(
    conn: Connection,
    workspace_id: str,
    model_id: str,
    contact_id: str,
    score: float,
    now: datetime,
    due_at: datetime | None,
    *,
    exists: bool,
) -> None:
    if exists:
        key = {"w": workspace_id, "m": model_id, "c": contact_id}
        conn.execute(_UPDATE_SCORE, {**key, "score": score, "now": now, "due": due_at})
    else:
        row = {"workspace_id": workspace_id, "model_id": model_id, "contact_id": contact_id}
        conn.execute(_INSERT_SCORE, {**row, "score": score, "updated_at": now, "due_at": due_at})


_INSERT_SCORE = insert(contact_scores)


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether some score waits for recomputation (a cheap read before taking the write lock)."""
    found = conn.execute(select(contact_scores.c.model_id).where(contact_scores.c.due_at <= now).limit(1))
    return found.first() is not None


def due_scores(conn: Connection, now: datetime, limit: int) -> list[tuple[str, str, str]]:
    """(workspace, model, contact) of scores due for recomputation, most overdue first."""
    rows = conn.execute(
        select(contact_scores.c.workspace_id, contact_scores.c.model_id, contact_scores.c.contact_id)
        .where(contact_scores.c.due_at <= now)
        .order_by(contact_scores.c.due_at)
        .limit(limit)
    )
    return [(r.workspace_id, r.model_id, r.contact_id) for r in rows]


def make_due(conn: Connection, workspace_id: str, model_id: str, now: datetime) -> None:
    """Every score of the model is recomputed at the next `decay_due` (after its decay changed)."""
    conn.execute(
        update(contact_scores)
        .where(contact_scores.c.workspace_id == workspace_id, contact_scores.c.model_id == model_id)
        .values(due_at=now)
    )


def reset_expiry(
    conn: Connection, workspace_id: str, model_id: str, expiry: Callable[[datetime], datetime | None]
) -> None:
    """Rewrite `expires_at` of the model's event and manual points after its decay changed."""
    c = score_changes.c
    rows = conn.execute(
        select(c.id, c.occurred_at).where(
            c.workspace_id == workspace_id, c.model_id == model_id, c.kind != PointsKind.CONDITION.value
        )
    ).all()
    statement = (
        update(score_changes)
        .where(c.workspace_id == bindparam("w_id"), c.id == bindparam("c_id"))
        .values(expires_at=bindparam("expiry"))
    )
    for part in chunks(rows, 1000):
        conn.execute(
            statement, [{"w_id": workspace_id, "c_id": r.id, "expiry": expiry(r.occurred_at)} for r in part]
        )


# ---- merges and erasure ----


# a contact's rows in these tables follow it into a merge (`move_scores`)
CONTACT_TABLES = (score_changes, contact_scores)


def move_scores(conn: Connection, workspace_id: str, source_id: str, target_id: str, now: datetime) -> None:
    """A merge: the target gets the source's event and manual points (a once-rule that both scored
    keeps the earlier grant); the source's condition points go (the merged profile's conditions are
    re-evaluated). The target's scores in the models concerned are due for recomputation now."""
    c = score_changes.c
    mine = (c.workspace_id == workspace_id) & (c.contact_id == source_id)
    conn.execute(delete(score_changes).where(mine, c.kind == PointsKind.CONDITION.value))
    keyed = conn.execute(
        select(c.id, c.model_id, c.dedupe_key, c.occurred_at).where(mine, c.dedupe_key.is_not(None))
    ).all()
    theirs = {
        (r.model_id, r.dedupe_key): (r.id, r.occurred_at)
        for r in conn.execute(
            select(c.id, c.model_id, c.dedupe_key, c.occurred_at).where(
                c.workspace_id == workspace_id, c.contact_id == target_id, c.dedupe_key.is_not(None)
            )
        )
    }
    drop: list[str] = []
    for row in keyed:
        other = theirs.get((row.model_id, row.dedupe_key))
        if other is not None:
            drop.append(other[0] if row.occurred_at < other[1] else row.id)
    for part in chunks(drop):
        conn.execute(delete(score_changes).where(c.workspace_id == workspace_id, c.id.in_(part)))
    conn.execute(update(score_changes).where(mine).values(contact_id=target_id))
    s = contact_scores.c
    moved = set(
        conn.execute(
            select(s.model_id).where(s.workspace_id == workspace_id, s.contact_id == source_id)
        ).scalars()
    )
    conn.execute(delete(contact_scores).where(s.workspace_id == workspace_id, s.contact_id == source_id))
    held = set(
        conn.execute(
            select(s.model_id).where(s.workspace_id == workspace_id, s.contact_id == target_id)
        ).scalars()
    )
    if held & moved:
        conn.execute(
            update(contact_scores)
            .where(s.workspace_id == workspace_id, s.contact_id == target_id, s.model_id.in_(held & moved))
            .values(due_at=now)
        )
    for model_id in sorted(moved - held):
        save_score(conn, workspace_id, model_id, target_id, 0.0, now, now, exists=False)


def delete_scores(conn: Connection, workspace_id: str, contact_id: str) -> None:
    """Erasure: the contact's scores and score history."""
    for table in (score_changes, contact_scores):
        conn.execute(
            delete(table).where(table.c.workspace_id == workspace_id, table.c.contact_id == contact_id)
        )
