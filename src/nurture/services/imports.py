"""CSV contact import: upsert by user id or email, in chunks, with a per-row error report.

Bad rows are reported (row, column, reason) and skipped; good rows are stored. Running the same file
twice changes nothing the second time: a contact is only written when a value differs.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from nurture.domain.contacts import IdentityKind
from nurture.domain.csv_import import Column, ParsedRow, RowError, infer_columns, parse_row, plan_columns
from nurture.domain.errors import Invalid
from nurture.domain.profile import TraitUpdate, parse_traits
from nurture.services.clock import Clock
from nurture.services.identity import IdentityGraph, address_hash
from nurture.services.lists import add_contacts, require_list
from nurture.store import suppressions
from nurture.store.db import Database
from nurture.store.sql import lock_keys

CHUNK_ROWS = 1000
Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    added_to_list: int = 0  # rows' contacts put on the `list_id` list that were not on it yet
    errors: list[RowError] = field(default_factory=list)


class ImportService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def import_contacts(
        self,
        workspace_id: str,
        lines: Iterable[str],
        *,
        mapping: Mapping[str, str] | None = None,
        types: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        list_id: str | None = None,
        list_field: str = "list",
    ) -> ImportReport:
        """Import a CSV (an iterable of text lines with a header row). Raises Invalid for a bad header
        or option; row problems go into the report. With `list_id`, every stored row's contact joins
        that list (rows with errors do not); `list_field` names the option in errors."""
        if list_id is not None:
            with self.db.read() as conn:
                require_list(conn, workspace_id, list_id, list_field)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise Invalid.one("file", "is empty; the first line must name the columns") from None
        except csv.Error as exc:
            raise Invalid.one("line 1", f"is not valid CSV ({exc})") from None
        if header:
            header[0] = header[0].removeprefix("\ufeff")  # a byte order mark left by the decoder
        columns = plan_columns([h.strip() for h in header], mapping, types)
        rows: list[tuple[int, list[str]]] = []
        report = ImportReport()
        # A row is reported at the line it starts on, even when a quoted cell spans several lines.
        first_line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # one unreadable row (e.g. a cell over the size limit) does not stop the rows after it
                report.errors.append(RowError(first_line, None, f"is not valid CSV ({exc})"))
            else:
                if any(c.strip() for c in cells):
                    rows.append((first_line, cells))
            first_line = reader.line_num + 1
        columns = infer_columns(columns, [cells for _, cells in rows], types or {})
        report.rows = len(rows) + len(report.errors)  # so far only the unreadable rows
        column_of = columns_by_target(columns)
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            parsed: list[ParsedRow] = []
            for line, cells in chunk:
                result = parse_row(line, cells, columns)
                if isinstance(result, RowError):
                    report.errors.append(result)
                else:
                    parsed.append(result)
            self._store(workspace_id, parsed, column_of, report, list_id, list_field)
            if progress is not None:
                progress(min(start + CHUNK_ROWS, len(rows)), len(rows))
        report.errors.sort(key=lambda e: e.row)
        return report

    def _store(
        self,
        workspace_id: str,
        parsed: list[ParsedRow],
        column_of: Mapping[str, str],
        report: ImportReport,
        list_id: str | None,
        list_field: str,
    ) -> None:
        updates: list[tuple[ParsedRow, TraitUpdate]] = []
        for row in parsed:
            try:
                update = parse_traits(row.core, "")
            except Invalid as exc:
                first = exc.errors[0]
                report.errors.append(
                    RowError(row.line, column_of.get(first.field, first.field), first.message)
                )
                continue
            update.attributes = row.attributes
            updates.append((row, update))
        if not updates:
            return
        keys = sorted(
            {(IdentityKind.USER_ID, row.user_id) for row, _ in updates if row.user_id}
            | {(IdentityKind.EMAIL, email) for _, u in updates if (email := u.core.get("email"))}
        )
        counted: set[str] = set()
        stored: list[str] = []
        with self.db.write() as conn:
            if list_id is not None:
                require_list(conn, workspace_id, list_id, list_field, lock=True)  # deleted meanwhile: 400
            # The same identity locks as ingest, so a concurrent event cannot create the contact twice.
            lock_keys(conn, (f"{workspace_id}:{kind}:{value}" for kind, value in keys))
            graph = IdentityGraph(conn, workspace_id, self.clock.now())
            graph.prefetch(keys)
            for row, update in updates:
                email = update.core.get("email")
                known_user = graph.lookup(IdentityKind.USER_ID, row.user_id) if row.user_id else None
                contact = graph.resolve(user_id=row.user_id, anonymous_id=None, email=email)
                # A contact created by an earlier row of this file counts once.
                created = graph.is_new(contact) and contact.id not in counted
                counted.add(contact.id)
                stored.append(contact.id)
                changed = graph.apply(contact, update)
                if row.user_id and known_user is None and not changed and not created:
                    # the user id was linked to a contact found by email: that is a change too
                    contact.updated_at = graph.now
                    graph.touch(contact)
                    changed = True
                if created:
                    report.created += 1
                elif changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
            graph.flush()
            if list_id is not None:
                members = sorted({graph.final_id(c) for c in stored})
                report.added_to_list += add_contacts(
                    conn, workspace_id, list_id, members, graph.now, "import"
                )
            emails = [u.core["email"] for _, u in updates if u.core.get("email")]
            hits = suppressions.suppressed(
                conn, workspace_id, "email", (address_hash(e) for e in emails if e)
            )
            report.suppressed += sum(1 for e in emails if e and address_hash(e) in hits)


def columns_by_target(columns: Iterable[Column | None]) -> dict[str, str]:
    """Core field → the CSV column it came from, to name the column in row errors."""
    return {c.target: c.name for c in columns if c is not None and not c.is_attribute}
