"""What a new Example workspace gets so its journeys can send out of the box: a default sender, a
postal address for marketing footers, and subscription topics for email and SMS."""

from __future__ import annotations

from sqlalchemy import Connection

from nurture.domain.messages.senders import check_sender
from nurture.domain.messages.settings import MessagingSettings
from nurture.services import messaging_settings
from nurture.services.clock import Clock
from nurture.services.senders import add_sender
from nurture.store import topics

EXAMPLE_SENDER = {"name": "Example", "from_name": "Example", "from_email": "hello@example.com"}
EXAMPLE_ADDRESS = "Example Inc., 1 Main Street, Springfield, IL 62701, USA"
# (channel, name, label, default status): email topics are opt-out, SMS alerts opt-in
EXAMPLE_TOPICS = (
    ("email", "newsletter", "Newsletter", "subscribed"),
    ("email", "product_updates", "Product updates", "subscribed"),
    ("sms", "alerts", "Alerts", "unsubscribed"),
)


def seed_example(conn: Connection, workspace_id: str, clock: Clock) -> None:
    add_sender(conn, workspace_id, check_sender({**EXAMPLE_SENDER, "is_default": True}), clock)
    messaging_settings.save(conn, workspace_id, MessagingSettings(postal_address=EXAMPLE_ADDRESS), clock)
    now = clock.now()
    topics.add(
        conn,
        [
            {
                "workspace_id": workspace_id,
                "channel": channel,
                "name": name,
                "label": label,
                "description": None,
                "default_status": status,
                "double_opt_in": False,
                "created_at": now,
            }
            for channel, name, label, status in EXAMPLE_TOPICS
        ],
    )
