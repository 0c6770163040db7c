"""The composition root: the one place that builds the system from settings."""

from __future__ import annotations

from dataclasses import dataclass

from nurture.services.accounts import AccountService
from nurture.services.audience_worker import AudienceWorker
from nurture.services.clock import Clock, SystemClock
from nurture.services.contacts import ContactService
from nurture.services.imports import ImportService
from nurture.services.ingest import IngestService
from nurture.services.segments import SegmentService
from nurture.services.workspaces import WorkspaceService
from nurture.settings import Settings
from nurture.store.db import Database
from nurture.store.migrate import upgrade


@dataclass
class Container:
    """Every service, wired to one database and one clock."""

    settings: Settings
    db: Database
    clock: Clock
    workspaces: WorkspaceService
    ingest: IngestService
    contacts: ContactService
    accounts: AccountService
    imports: ImportService
    segments: SegmentService
    audience: AudienceWorker

    def migrate(self) -> None:
        upgrade(self.db)

    def healthy(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.db.read() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception:
            return False
        return True

    def close(self) -> None:
        self.audience.stop()
        self.ingest.close()
        self.db.dispose()


def build(settings: Settings | None = None, clock: Clock | None = None) -> Container:
    settings = settings or Settings()
    clock = clock or SystemClock()
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    contacts = ContactService(db, clock)
    segments = SegmentService(db, clock)
    return Container(
        settings=settings,
        db=db,
        clock=clock,
        workspaces=WorkspaceService(db, clock, settings.key_cache_seconds),
        ingest=IngestService(db, clock),
        contacts=contacts,
        accounts=AccountService(db, clock),
        imports=ImportService(db, clock),
        segments=segments,
        audience=AudienceWorker(db, clock, segments, poll=settings.worker_poll_seconds),
    )
