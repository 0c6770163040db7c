"""SQL for contacts, their identities and merges."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    union_all,
    update,
)

from nurture.domain.contacts import Contact, IdentityKind
from nurture.domain.subscriptions import merge_winner
from nurture.store import audience_queue, journeys, scoring
from nurture.store import subscriptions as subscription_store
from nurture.store.schema import (
    account_members,
    activities,
    captured_mail,
    consent_records,
    contact_identities,
    contact_merges,
    contact_tags,
    contacts,
    events,
    list_members,
    message_events,
    messages,
    pending_changes,
    segment_memberships,
    subscriptions,
)
from nurture.store.sql import (
    PerDialect,
    contains_pattern,
    copy_rows,
    execute_many,
    in_chunks,
    insert_ignore,
    one_of,
)

# What ingest, import and the profile API write, in bulk. `lifecycle_stage` and `owner_id` are
# deliberately absent: they change only through their own statements (services.lifecycle,
# services.routing), so an ingest batch never overwrites a stage or owner set concurrently.
CONTACT_COLUMNS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "timezone",
    "locale",
    "attributes",
    "created_at",
    "updated_at",
    "last_seen_at",
)


def contact_from_row(row: Row[Any] | Mapping[str, Any]) -> Contact:
    m = row._mapping if isinstance(row, Row) else row
    return Contact(
        id=m["id"],
        email=m["email"],
        phone=m["phone"],
        first_name=m["first_name"],
        last_name=m["last_name"],
        timezone=m["timezone"],
        locale=m["locale"],
        attributes=dict(m["attributes"] or {}),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_seen_at=m["last_seen_at"],
        lifecycle_stage=m["lifecycle_stage"],
        owner_id=m["owner_id"],
    )


def contact_row(workspace_id: str, contact: Contact) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "id": contact.id,
        **{name: getattr(contact, name) for name in CONTACT_COLUMNS},
    }


_asked = contact_identities.alias("asked")
# every identity of every contact that one of the asked values finds, oldest first
_owners = PerDialect(
    lambda dialect: (
        select(contact_identities.c.contact_id, contact_identities.c.kind, contact_identities.c.value)
        .where(
            contact_identities.c.workspace_id == bindparam("workspace_id"),
            contact_identities.c.contact_id.in_(
                select(_asked.c.contact_id).where(
                    _asked.c.workspace_id == bindparam("workspace_id"),
                    one_of(dialect, _asked.c.kind, "kinds"),
                    one_of(dialect, _asked.c.value, "values"),
                )
            ),
        )
        .order_by(contact_identities.c.created_at, contact_identities.c.value)
    )
)


def find_owners(
    conn: Connection, workspace_id: str, keys: Iterable[tuple[IdentityKind, str]]
) -> tuple[dict[tuple[IdentityKind, str], str], dict[str, list[tuple[str, str]]]]:
    """Map (kind, value) → contact id for the identities that exist, and each of those contacts to
    all its identities (oldest first, as `identities_of` gives them): one query for every kind."""
    wanted = set(keys)
    kinds = sorted({kind.value for kind, _ in wanted})
    found: dict[tuple[IdentityKind, str], str] = {}
    identities: dict[str, list[tuple[str, str]]] = {}
    for part in in_chunks(conn, sorted({value for _, value in wanted})):
        rows = conn.execute(_owners(conn), {"workspace_id": workspace_id, "kinds": kinds, "values": part})
        in_part: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for contact_id, kind, value in rows:
            in_part[contact_id].append((kind, value))
            key = (IdentityKind(kind), value)
            if key in wanted:  # a value asked for as one kind may exist as another
                found[key] = contact_id
        for contact_id, pairs in in_part.items():
            identities.setdefault(contact_id, pairs)  # a contact found by two chunks, once
    return found, identities


_identities_of = PerDialect(
    lambda dialect: (
        select(contact_identities.c.contact_id, contact_identities.c.kind, contact_identities.c.value)
        .where(
            contact_identities.c.workspace_id == bindparam("workspace_id"),
            one_of(dialect, contact_identities.c.contact_id, "ids"),
        )
        .order_by(contact_identities.c.created_at, contact_identities.c.value)
    )
)


def _by_id(dialect: str) -> Select[Any]:
    return select(contacts).where(
        contacts.c.workspace_id == bindparam("workspace_id"), one_of(dialect, contacts.c.id, "ids")
    )


_contacts_by_id = PerDialect(_by_id)
# the same, locking the rows in id order (PostgreSQL; SQLite's writer holds the database anyway)
_lock_contacts_by_id = PerDialect(lambda dialect: _by_id(dialect).order_by(contacts.c.id).with_for_update())


def identities_of(
    conn: Connection, workspace_id: str, contact_ids: Iterable[str]
) -> dict[str, list[tuple[str, str]]]:
    """Map contact id → [(kind, value)], oldest first."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for part in in_chunks(conn, sorted(set(contact_ids))):
        rows = conn.execute(_identities_of(conn), {"workspace_id": workspace_id, "ids": part})
        for contact_id, kind, value in rows:
            out[contact_id].append((kind, value))
    return out


def load_contacts(
    conn: Connection,
    workspace_id: str,
    contact_ids: Iterable[str],
    identities: Mapping[str, list[tuple[str, str]]] | None = None,
    *,
    lock: bool = False,
) -> dict[str, Contact]:
    """Contacts by id, with their user id and anonymous ids filled in (from `identities` when the
    caller has them already, as `find_owners` gives them). With `lock`, their rows are locked until
    commit, in id order: every transaction that writes several contacts takes them in that one order,
    so two of them can never each hold a contact the other waits for."""
    ids = sorted(set(contact_ids))
    found: dict[str, Contact] = {}
    statement = (_lock_contacts_by_id if lock else _contacts_by_id)(conn)
    for part in in_chunks(conn, ids):
        for row in conn.execute(statement, {"workspace_id": workspace_id, "ids": part}):
            found[row.id] = contact_from_row(row)
    if identities is None:
        identities = identities_of(conn, workspace_id, found)
    for contact_id, contact in found.items():
        attach_identities(contact, identities.get(contact_id, ()))
    return found


def attach_identities(contact: Contact, pairs: Iterable[tuple[str, str]]) -> None:
    for kind, value in pairs:
        if kind == IdentityKind.USER_ID:
            contact.user_id = value
        elif kind == IdentityKind.ANONYMOUS_ID:
            contact.anonymous_ids.append(value)


def insert_contacts(conn: Connection, workspace_id: str, new: Sequence[Contact]) -> None:
    """New contacts (fresh ids, so nothing to conflict with): by COPY on PostgreSQL."""
    copy_rows(conn, contacts, [contact_row(workspace_id, c) for c in new])


# `last_seen_at` is not among them: it only ever moves forward, by `advance_last_seen`, so a
# transaction holding an older copy of the contact can never move it back.
_PROFILE_COLUMNS = tuple(name for name in CONTACT_COLUMNS if name != "last_seen_at")
_update_contact = (
    update(contacts)
    .where(contacts.c.workspace_id == bindparam("w_id"), contacts.c.id == bindparam("c_id"))
    .values({name: bindparam(name) for name in _PROFILE_COLUMNS})
)


def update_contacts(conn: Connection, workspace_id: str, changed: Sequence[Contact]) -> None:
    """Write the profile columns of `changed` (in id order: concurrent writers lock rows in one order)."""
    rows = [
        {"w_id": workspace_id, "c_id": c.id, **{name: getattr(c, name) for name in _PROFILE_COLUMNS}}
        for c in sorted(changed, key=lambda c: c.id)
    ]
    execute_many(conn, _update_contact, rows)


_advance_last_seen = (
    update(contacts)
    .where(
        contacts.c.workspace_id == bindparam("w_id"),
        contacts.c.id == bindparam("c_id"),
        or_(contacts.c.last_seen_at.is_(None), contacts.c.last_seen_at < bindparam("at")),
    )
    .values(last_seen_at=bindparam("at"))
)


def advance_last_seen(conn: Connection, workspace_id: str, seen: Mapping[str, datetime]) -> None:
    """Move each contact's `last_seen_at` to the given time where that is later (only that column, in
    id order)."""
    rows = [{"w_id": workspace_id, "c_id": c, "at": seen[c]} for c in sorted(seen)]
    execute_many(conn, _advance_last_seen, rows)


def insert_identities(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    execute_many(conn, insert_ignore(conn, contact_identities), rows)


def delete_identity(
    conn: Connection, workspace_id: str, kind: IdentityKind, value: str, contact_id: str
) -> None:
    conn.execute(
        delete(contact_identities).where(
            contact_identities.c.workspace_id == workspace_id,
            contact_identities.c.kind == kind.value,
            contact_identities.c.value == value,
            contact_identities.c.contact_id == contact_id,
        )
    )


# Every table holding rows of a contact that a merge moves to the survivor (or, for journey timers and
# condition points, drops); `move_contact_rows` touches only those the source has rows in.
_MOVED = (contact_identities, events, activities, messages, message_events, consent_records)
MERGED_TABLES = (
    *_MOVED,
    account_members,
    list_members,
    contact_tags,
    subscriptions,
    *scoring.CONTACT_TABLES,
    *journeys.CONTACT_TABLES,
)
_STAGE_OR_OWNER = "contacts.lifecycle_stage|owner_id"
_MERGED_INTO = "contact_merges.into_id"


def _holding_query() -> Any:
    """Which of `MERGED_TABLES` hold rows of the source (and whether it has a stage or owner, or ids
    merged into it): one EXISTS per table on its (workspace_id, contact_id) index, in one statement."""
    source: Any = bindparam("source_id")
    workspace: Any = bindparam("workspace_id")

    def named(name: str, where: Any) -> Any:
        return select(literal_column(f"'{name}'").label("name")).where(where)  # our own names

    parts = [
        named(table.name, exists().where(table.c.workspace_id == workspace, table.c.contact_id == source))
        for table in MERGED_TABLES
    ]
    parts.append(
        named(
            _STAGE_OR_OWNER,
            exists().where(
                contacts.c.workspace_id == workspace,
                contacts.c.id == source,
                or_(contacts.c.lifecycle_stage.is_not(None), contacts.c.owner_id.is_not(None)),
            ),
        )
    )
    parts.append(
        named(
            _MERGED_INTO,
            exists().where(contact_merges.c.workspace_id == workspace, contact_merges.c.into_id == source),
        )
    )
    return union_all(*parts)


_holding = _holding_query()


def move_contact_rows(
    conn: Connection, workspace_id: str, source_id: str, target_id: str, now: datetime
) -> None:
    """Point everything of `source_id` at `target_id` and delete the source (profile fields are the
    caller's job, except the stage and owner, which the target takes from the source only when it has
    none). Every per-contact table must be in `MERGED_TABLES`; one query finds the few the source has
    rows in, and only those are touched.

    Segment stays, timers and queued changes of the source are the audience worker's: it follows
    `contact_merges`, ends the source's stays (history keeps them under the source id) and evaluates
    the survivor."""
    held = set(conn.execute(_holding, {"workspace_id": workspace_id, "source_id": source_id}).scalars())
    if _STAGE_OR_OWNER in held:
        _fill_stage_and_owner(conn, workspace_id, source_id, target_id)
    for table in _MOVED:
        if table.name in held:
            conn.execute(
                update(table)
                .where(table.c.workspace_id == workspace_id, table.c.contact_id == source_id)
                .values(contact_id=target_id)
            )
    if account_members.name in held:
        _move_account_memberships(conn, workspace_id, source_id, target_id)
    if list_members.name in held:
        _union(conn, workspace_id, list_members, source_id, target_id)
    if contact_tags.name in held:
        _union(conn, workspace_id, contact_tags, source_id, target_id)
    if subscriptions.name in held:
        _merge_subscriptions(conn, workspace_id, source_id, target_id)
    if held.intersection(t.name for t in scoring.CONTACT_TABLES):
        scoring.move_scores(conn, workspace_id, source_id, target_id, now)
    if held.intersection(t.name for t in journeys.CONTACT_TABLES):
        journeys.move_contact(conn, workspace_id, source_id, target_id, now)
    if _MERGED_INTO in held:
        conn.execute(
            update(contact_merges)
            .where(contact_merges.c.workspace_id == workspace_id, contact_merges.c.into_id == source_id)
            .values(into_id=target_id)
        )
    conn.execute(
        contact_merges.insert().values(
            workspace_id=workspace_id, merged_id=source_id, into_id=target_id, merged_at=now
        )
    )
    conn.execute(delete(contacts).where(contacts.c.workspace_id == workspace_id, contacts.c.id == source_id))


def _move_account_memberships(conn: Connection, workspace_id: str, source_id: str, target_id: str) -> None:
    memberships = conn.execute(
        select(account_members.c.account_id, account_members.c.created_at).where(
            account_members.c.workspace_id == workspace_id, account_members.c.contact_id == source_id
        )
    ).all()
    if memberships:
        conn.execute(
            insert_ignore(conn, account_members),
            [
                {"workspace_id": workspace_id, "account_id": a, "contact_id": target_id, "created_at": t}
                for a, t in memberships
            ],
        )
        conn.execute(
            delete(account_members).where(
                account_members.c.workspace_id == workspace_id, account_members.c.contact_id == source_id
            )
        )


def _fill_stage_and_owner(conn: Connection, workspace_id: str, source_id: str, target_id: str) -> None:
    source = conn.execute(
        select(contacts.c.lifecycle_stage, contacts.c.owner_id).where(
            contacts.c.workspace_id == workspace_id, contacts.c.id == source_id
        )
    ).first()
    if source is None or (source.lifecycle_stage is None and source.owner_id is None):
        return
    conn.execute(
        update(contacts)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == target_id)
        .values(
            lifecycle_stage=func.coalesce(contacts.c.lifecycle_stage, source.lifecycle_stage),
            owner_id=func.coalesce(contacts.c.owner_id, source.owner_id),
        )
    )


def _union(conn: Connection, workspace_id: str, table: Any, source_id: str, target_id: str) -> None:
    """Give the target every row the source has in `table` (a row it has already is kept as it is),
    then drop the source's."""
    mine = table.c.workspace_id == workspace_id
    rows = conn.execute(select(table).where(mine, table.c.contact_id == source_id)).all()
    if rows:
        conn.execute(insert_ignore(conn, table), [{**r._mapping, "contact_id": target_id} for r in rows])
        conn.execute(delete(table).where(mine, table.c.contact_id == source_id))


def _merge_subscriptions(conn: Connection, workspace_id: str, source_id: str, target_id: str) -> None:
    """Per channel and topic the target keeps the status `merge_winner` chooses: an unsubscribe on
    either profile is never lost."""
    theirs = subscription_store.of_contact(conn, workspace_id, source_id)
    if not theirs:
        return
    mine = {(s.channel, s.topic): s for s in subscription_store.of_contact(conn, workspace_id, target_id)}
    for sub in theirs:
        current = mine.get((sub.channel, sub.topic))
        winner = sub if current is None else merge_winner(current, sub)
        if winner is not current:
            subscription_store.put(conn, workspace_id, target_id, winner)
    conn.execute(
        delete(subscriptions).where(
            subscriptions.c.workspace_id == workspace_id, subscriptions.c.contact_id == source_id
        )
    )


def existing_ids(conn: Connection, workspace_id: str, contact_ids: Iterable[str]) -> set[str]:
    """Which of `contact_ids` are contacts of the workspace."""
    found: set[str] = set()
    for part in in_chunks(conn, sorted(set(contact_ids))):
        found.update(conn.execute(_contact_ids(conn), {"workspace_id": workspace_id, "ids": part}).scalars())
    return found


_contact_ids = PerDialect(
    lambda dialect: select(contacts.c.id).where(
        contacts.c.workspace_id == bindparam("workspace_id"), one_of(dialect, contacts.c.id, "ids")
    )
)


def lock_in_order(conn: Connection, workspace_id: str, contact_ids: Iterable[str]) -> None:
    """Lock these contacts' rows until commit, in id order (see `load_contacts`)."""
    for part in in_chunks(conn, sorted(set(contact_ids))):
        conn.execute(_lock_ids(conn), {"workspace_id": workspace_id, "ids": part}).all()


_lock_ids = PerDialect(
    lambda dialect: (
        select(contacts.c.id)
        .where(contacts.c.workspace_id == bindparam("workspace_id"), one_of(dialect, contacts.c.id, "ids"))
        .order_by(contacts.c.id)
        .with_for_update()
    )
)


def lock(conn: Connection, workspace_id: str, contact_id: str) -> bool:
    """Lock the contact's row until commit (PostgreSQL; SQLite's writer holds the database);
    False when there is no such contact."""
    row = conn.execute(
        select(contacts.c.id)
        .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        .with_for_update()
    ).first()
    return row is not None


def merged_into(conn: Connection, workspace_id: str, contact_id: str) -> str | None:
    """The id a merged-away contact now lives under, if it was merged."""
    result: str | None = conn.execute(
        select(contact_merges.c.into_id).where(
            contact_merges.c.workspace_id == workspace_id, contact_merges.c.merged_id == contact_id
        )
    ).scalar()
    return result


def merges_into(conn: Connection, workspace_id: str, contact_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(contact_merges.c.merged_id, contact_merges.c.merged_at)
        .where(contact_merges.c.workspace_id == workspace_id, contact_merges.c.into_id == contact_id)
        .order_by(contact_merges.c.merged_at)
    )
    return [{"merged_id": r.merged_id, "merged_at": r.merged_at} for r in rows]


def list_contacts(
    conn: Connection,
    workspace_id: str,
    *,
    email: str | None,
    user_id: str | None,
    attributes: Mapping[str, str],
    search: str | None,
    after: str | None,
    limit: int,
    tag: str | None = None,
    lifecycle_stage: str | None = None,
    owner_id: str | None = None,
) -> list[Contact]:
    """Contacts in id (= creation) order after the cursor id, filtered; `limit` rows at most."""
    query = select(contacts).where(contacts.c.workspace_id == workspace_id)
    if tag is not None:
        query = query.where(
            contacts.c.id.in_(
                select(contact_tags.c.contact_id).where(
                    contact_tags.c.workspace_id == workspace_id, contact_tags.c.tag == tag
                )
            )
        )
    if lifecycle_stage is not None:
        query = query.where(contacts.c.lifecycle_stage == lifecycle_stage)
    if owner_id is not None:
        query = query.where(contacts.c.owner_id == owner_id)
    if email is not None:
        query = query.where(contacts.c.email == email)
    if user_id is not None:
        query = query.where(
            contacts.c.id.in_(
                select(contact_identities.c.contact_id).where(
                    contact_identities.c.workspace_id == workspace_id,
                    contact_identities.c.kind == IdentityKind.USER_ID.value,
                    contact_identities.c.value == user_id,
                )
            )
        )
    for name, value in attributes.items():
        query = query.where(_attribute_text(conn, name) == value)
    if search:
        pattern = contains_pattern(search)
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        contacts.c.email,
                        contacts.c.first_name,
                        contacts.c.last_name,
                        contacts.c.phone,
                    )
                )
            )
        )
    if after is not None:
        query = query.where(contacts.c.id > after)
    rows = conn.execute(query.order_by(contacts.c.id).limit(limit)).all()
    found = [contact_from_row(r) for r in rows]
    by_id = {c.id: c for c in found}
    for contact_id, pairs in identities_of(conn, workspace_id, by_id).items():
        attach_identities(by_id[contact_id], pairs)
    return found


def _attribute_text(conn: Connection, name: str) -> Any:
    """An attribute's value as text, for equality filters (numbers and booleans compare as text)."""
    if conn.dialect.name == "postgresql":
        return contacts.c.attributes.op("->>")(name)
    # json_extract returns SQL values; booleans come back as 1/0, so render them as JSON does.
    path = '$."' + name.replace('"', '""') + '"'
    extracted = func.json_extract(contacts.c.attributes, path)
    kind = func.json_type(contacts.c.attributes, path)
    return case(
        (kind == "true", "true"),
        (kind == "false", "false"),
        else_=cast(extracted, String),
    )


def delete_contact_rows(conn: Connection, workspace_id: str, contact_id: str) -> None:
    """Erase a contact: messages (and the mail captured for them), message events, events,
    identities, memberships, lists, tags, subscriptions, consent records, activities, scores, segment
    history (also of the ids merged into it), queued audience changes and timers, merge records and
    the contact row."""
    scoring.delete_scores(conn, workspace_id, contact_id)
    conn.execute(
        delete(captured_mail).where(
            captured_mail.c.workspace_id == workspace_id,
            captured_mail.c.message_id.in_(
                select(messages.c.id).where(
                    messages.c.workspace_id == workspace_id, messages.c.contact_id == contact_id
                )
            ),
        )
    )
    for table in (
        messages,
        message_events,
        events,
        contact_identities,
        account_members,
        list_members,
        contact_tags,
        subscriptions,
        activities,
        pending_changes,
        consent_records,
    ):
        conn.execute(
            delete(table).where(table.c.workspace_id == workspace_id, table.c.contact_id == contact_id)
        )
    merged = conn.execute(
        select(contact_merges.c.merged_id).where(
            contact_merges.c.workspace_id == workspace_id, contact_merges.c.into_id == contact_id
        )
    ).scalars()
    ids = [contact_id, *merged]
    conn.execute(
        delete(segment_memberships).where(
            segment_memberships.c.workspace_id == workspace_id, segment_memberships.c.contact_id.in_(ids)
        )
    )
    audience_queue.forget_contacts(conn, workspace_id, ids)
    conn.execute(
        delete(contact_merges).where(
            contact_merges.c.workspace_id == workspace_id,
            or_(contact_merges.c.into_id == contact_id, contact_merges.c.merged_id == contact_id),
        )
    )
    conn.execute(
        delete(contacts).where(and_(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id))
    )


def ids_with_phone(conn: Connection, workspace_id: str, phone: str) -> list[str]:
    """The contacts whose phone is `phone` (E.164), oldest first: a number can belong to several."""
    query = select(contacts.c.id).where(contacts.c.workspace_id == workspace_id, contacts.c.phone == phone)
    return list(conn.execute(query.order_by(contacts.c.id)).scalars())


def zone_of(conn: Connection, workspace_id: str, contact_id: str) -> str | None:
    """The contact's `timezone` field (None when it has none or does not exist)."""
    query = select(contacts.c.timezone).where(
        contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id
    )
    found: str | None = conn.execute(query).scalar()
    return found
