"""The composition root: the one place that builds the system from settings."""

from __future__ import annotations

from dataclasses import dataclass

from nurture.services.accounts import AccountService
from nurture.services.activities import ActivityService
from nurture.services.audience_worker import AudienceWorker
from nurture.services.catalog import CatalogService
from nurture.services.clock import Clock, SystemClock
from nurture.services.contacts import ContactService
from nurture.services.deliveries import DeliveryService, SoftBouncePolicy
from nurture.services.delivery_webhooks import DeliveryWebhooks
from nurture.services.imports import ImportService
from nurture.services.ingest import IngestService
from nurture.services.lifecycle import LifecycleStages
from nurture.services.lists import ListService
from nurture.services.owners import OwnerService
from nurture.services.routing_rules import RoutingService
from nurture.services.scoring_models import ScoringService
from nurture.services.segments import SegmentService
from nurture.services.subscriptions import SubscriptionService
from nurture.services.tags import TagService
from nurture.services.templates import TemplateService
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
    catalog: CatalogService
    imports: ImportService
    lists: ListService
    tags: TagService
    subscriptions: SubscriptionService
    owners: OwnerService
    routing: RoutingService
    activities: ActivityService
    scoring: ScoringService
    lifecycle: LifecycleStages
    templates: TemplateService
    segments: SegmentService
    audience: AudienceWorker
    deliveries: DeliveryService
    delivery_webhooks: DeliveryWebhooks

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
    ingest = IngestService(db, clock)
    audience = AudienceWorker(db, clock, segments, poll=settings.worker_poll_seconds)
    ingest.on_commit = audience.wake
    deliveries = DeliveryService(
        db, clock, SoftBouncePolicy(settings.soft_bounce_limit, settings.soft_bounce_days)
    )
    return Container(
        settings=settings,
        db=db,
        clock=clock,
        workspaces=WorkspaceService(db, clock, settings.key_cache_seconds),
        ingest=ingest,
        contacts=contacts,
        accounts=AccountService(db, clock),
        catalog=CatalogService(db, clock),
        imports=ImportService(db, clock),
        lists=ListService(db, clock),
        tags=TagService(db, clock),
        subscriptions=SubscriptionService(db, clock),
        owners=OwnerService(db, clock),
        routing=RoutingService(db, clock),
        activities=ActivityService(db, clock),
        scoring=ScoringService(db, clock),
        lifecycle=LifecycleStages(db, clock),
        templates=TemplateService(db, clock),
        segments=segments,
        audience=audience,
        deliveries=deliveries,
        delivery_webhooks=DeliveryWebhooks(db, clock, deliveries),
    )
