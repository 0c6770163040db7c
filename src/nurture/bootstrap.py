"""The composition root: the one place that builds the system from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nurture.channels.http import HttpCaller
from nurture.channels.sms.twilio import TwilioSms
from nurture.channels.wiring import WorkspaceSms, fast_build, smtp_factory
from nurture.domain.messages.delivery import SenderConfig
from nurture.services.accounts import AccountService
from nurture.services.activities import ActivityService
from nurture.services.alerts import AlertService
from nurture.services.audience_worker import AudienceWorker
from nurture.services.background import PollingWorker
from nurture.services.capture import CapturedMailService, CaptureEmail, CaptureSms
from nurture.services.catalog import CatalogService
from nurture.services.clock import Clock, SystemClock
from nurture.services.consents import ConsentLedger, SubscriptionService
from nurture.services.contacts import ContactService
from nurture.services.deliveries import DeliveryService, SoftBouncePolicy
from nurture.services.delivery_webhooks import DeliveryWebhooks
from nurture.services.dispatch import Dispatcher
from nurture.services.double_opt_in import DoubleOptIn
from nurture.services.imports import ImportService
from nurture.services.ingest import IngestService
from nurture.services.journeys.active import ACTIVE
from nurture.services.journeys.calls import journey_caller
from nurture.services.journeys.definitions import JourneyService
from nurture.services.journeys.engine import JourneyWorker
from nurture.services.lifecycle import LifecycleStages
from nurture.services.link_tracking import LinkTracking
from nurture.services.links import LinkSettingsCache, MessageLinks
from nurture.services.lists import ListService
from nurture.services.message_metrics import MetricsService
from nurture.services.messages import MessageService
from nurture.services.messaging_settings import MessagingSettingsService
from nurture.services.owners import OwnerService
from nurture.services.preferences import PreferenceService
from nurture.services.routing_rules import RoutingService
from nurture.services.scoring_models import ScoringService
from nurture.services.segments import SegmentService
from nurture.services.senders import SenderService
from nurture.services.sms import SmsService
from nurture.services.tags import TagService
from nurture.services.templates import TemplateCache, TemplateService
from nurture.services.topics import TopicService
from nurture.services.transports import Channels, EmailTransport, SmsTransport
from nurture.services.unsubscribe import UnsubscribeService
from nurture.services.webhook_worker import WebhookWorker
from nurture.services.webhooks import WebhookService
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
    messaging: MessagingSettingsService
    senders: SenderService
    messages: MessageService
    metrics: MetricsService
    mail: CapturedMailService
    dispatcher: Dispatcher
    journeys: JourneyService
    journey_worker: JourneyWorker
    http: HttpCaller  # outbound webhook, Slack and journey calls
    webhooks: WebhookService
    webhook_worker: WebhookWorker
    alerts: AlertService
    sms: SmsService
    sms_transport: TwilioSms

    links: MessageLinks  # the dispatcher's seam: List-Unsubscribe headers, tracked HTML, link context
    link_tracking: LinkTracking
    unsubscribe: UnsubscribeService
    preferences: PreferenceService
    double_opt_in: DoubleOptIn
    topics: TopicService
    consents: ConsentLedger
    deliveries: DeliveryService
    delivery_webhooks: DeliveryWebhooks

    def background(self) -> list[PollingWorker]:
        """The workers `nurture serve` embeds and `nurture worker` runs."""
        return [self.audience, self.journey_worker, self.dispatcher, self.webhook_worker]

    def start_workers(self) -> None:
        """The background loops as threads of this process (`nurture serve`, `nurture worker`)."""
        for worker in self.background():
            worker.start()

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
        for worker in self.background():
            worker.stop()
        self.http.close()
        self.sms_transport.close()
        self.ingest.close()
        self.db.dispose()


def live_channels(db: Database, clock: Clock, sms: SmsService, sms_client: TwilioSms) -> Channels:
    """Email over SMTP when the sender (or NURTURE_SMTP_URL) names a server, else captured (built by
    the fast builder); SMS through the workspace's provider when it has one, else captured."""
    smtp = smtp_factory(clock.now)

    def email(workspace_id: str, sender: SenderConfig) -> EmailTransport:
        if sender.smtp_url is None:
            return CaptureEmail(db, clock, workspace_id, build=fast_build)
        return smtp(sender)

    def text(workspace_id: str, sender: SenderConfig) -> SmsTransport:
        with db.read() as conn:
            config = sms.sender_config(conn, workspace_id)
        if config is None:
            return CaptureSms(db, clock, workspace_id)
        return WorkspaceSms(sms_client, config)

    return Channels(email=email, sms=text)


def build(
    settings: Settings | None = None, clock: Clock | None = None, channels: Channels | None = None
) -> Container:
    """`channels`: the transports messages leave through (default: capture, see services/capture.py)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    contacts = ContactService(db, clock)
    segments = SegmentService(db, clock)
    ingest = IngestService(db, clock)
    active_journeys = ACTIVE
    journey_worker = JourneyWorker(
        db, clock, active_journeys, poll=settings.worker_poll_seconds, batch=settings.journey_batch
    )
    audience = AudienceWorker(
        db,
        clock,
        segments,
        poll=settings.worker_poll_seconds,
        journeys=active_journeys,
        on_journeys=journey_worker.wake,
    )
    ingest.on_commit = audience.wake
    links = MessageLinks(settings.base_url(), settings.link_secret(), LinkSettingsCache(db))
    http = HttpCaller(timeout=settings.webhook_timeout_seconds, concurrency=settings.webhook_concurrency)
    template_cache = TemplateCache()
    sms = SmsService(db, clock, settings.sms_server(), settings.base_url())
    sms_transport = TwilioSms()
    dispatcher = Dispatcher(
        db,
        clock,
        template_cache,
        channels or live_channels(db, clock, sms, sms_transport),
        smtp_url=settings.smtp_url,
        links=links,
        poll=settings.dispatch_poll_seconds,
    )
    journey_worker.on_sent = dispatcher.wake
    journey_worker.caller = journey_caller(http)
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
        templates=TemplateService(db, clock, template_cache),
        segments=segments,
        audience=audience,
        journeys=JourneyService(db, clock, on_enroll=journey_worker.wake),
        journey_worker=journey_worker,
        http=http,
        webhooks=WebhookService(db, clock),
        webhook_worker=WebhookWorker(
            db,
            clock,
            http,
            poll=max(settings.worker_poll_seconds, 0.5),
            keep=timedelta(days=settings.webhook_log_days),
        ),
        alerts=AlertService(db, clock),
        sms=sms,
        sms_transport=sms_transport,
        messaging=MessagingSettingsService(db, clock),
        senders=SenderService(db, clock),
        messages=MessageService(db, clock, on_enqueued=dispatcher.wake),
        metrics=MetricsService(db),
        mail=CapturedMailService(db),
        dispatcher=dispatcher,
        links=links,
        link_tracking=LinkTracking(db, clock, links.links),
        unsubscribe=UnsubscribeService(db, clock, links.links),
        preferences=PreferenceService(db, clock, links.links),
        double_opt_in=DoubleOptIn(db, clock, links.links),
        topics=TopicService(db, clock),
        consents=ConsentLedger(db, clock),
        deliveries=deliveries,
        delivery_webhooks=DeliveryWebhooks(db, clock, deliveries),
    )
