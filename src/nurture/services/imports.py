"""CSV contact import: upsert by user id or email, in chunks, with a per-row error report.

Bad rows are reported (row, column, reason) and skipped; good rows are stored. Running the same file
twice changes nothing the second time: a contact is only written when a value differs.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from nurture.domain.csv_import import Column, ParsedRow, RowError, infer_columns, parse_row, plan_columns
from nurture.domain.errors import Invalid
from nurture.domain.profile import TraitUpdate, parse_traits
from nurture.services.clock import Clock
from nurture.services.identity import IdentityGraph, address_hash
from nurture.store import suppressions
from nurture.store.db import Database

CHUNK_ROWS = 1000
Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
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
    ) -> ImportReport:
        """Import a CSV (an iterable of text lines with a header row). Raises Invalid for a bad header
        or option; row problems go into the report."""
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise Invalid.one("file", "is empty; the first line must name the columns") from None
        except csv.Error as exc:
            raise Invalid.one("line 1", f"is not valid CSV ({exc})") from None
        columns = plan_columns([h.strip() for h in header], mapping, types)
        rows: list[tuple[int, list[str]]] = []
        report = ImportReport()
        try:
            for cells in reader:
                if any(c.strip() for c in cells):
                    rows.append((reader.line_num, cells))
        except csv.Error as exc:
            report.errors.append(RowError(reader.line_num, None, f"is not valid CSV ({exc})"))
        columns = infer_columns(columns, [cells for _, cells in rows], types or {})
        report.rows = len(rows)
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
            self._store(workspace_id, parsed, column_of, report)
            if progress is not None:
                progress(min(start + CHUNK_ROWS, len(rows)), len(rows))
        report.errors.sort(key=lambda e: e.row)
        return report

    def _store(
        self, workspace_id: str, parsed: list[ParsedRow], column_of: Mapping[str, str], report: ImportReport
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
        with self.db.write() as conn:
            graph = IdentityGraph(conn, workspace_id, self.clock.now())
            for row, update in updates:
                email = update.core.get("email")
                contact = graph.resolve(user_id=row.user_id, anonymous_id=None, email=email)
                created = graph.is_new(contact)
                changed = graph.apply(contact, update)
                if created:
                    report.created += 1
                elif changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
            graph.flush()
            emails = [u.core["email"] for _, u in updates if u.core.get("email")]
            hits = suppressions.suppressed(
                conn, workspace_id, "email", (address_hash(e) for e in emails if e)
            )
            report.suppressed += sum(1 for e in emails if e and address_hash(e) in hits)


def columns_by_target(columns: Iterable[Column | None]) -> dict[str, str]:
    """Core field → the CSV column it came from, to name the column in row errors."""
    return {c.target: c.name for c in columns if c is not None and not c.is_attribute}
