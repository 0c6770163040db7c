"""The Example workspace `nurture serve` seeds can send at once: sender, postal address, topics."""

from __future__ import annotations

from nurture.bootstrap import Container
from nurture.settings import Settings
from tests.services.messaging import contact, enqueue, message, template


def test_the_example_workspace_sends_out_of_the_box(container: Container) -> None:
    seeded = container.workspaces.ensure_example()
    assert seeded is not None
    assert container.workspaces.ensure_example() is None
    [sender] = container.senders.list(seeded.id)
    assert (sender.from_name, sender.from_email, sender.is_default) == ("Example", "hello@example.com", True)
    ann = contact(container, seeded.id, "ann", email="ann@example.com", firstName="Ann")
    news = template(
        container, seeded.id, html="<p>Hi {{ contact.first_name }}</p><p>{{ workspace.postal_address }}</p>"
    )
    sent = enqueue(container, seeded.id, ann, news, "newsletter:1", topic="newsletter")
    updates = enqueue(container, seeded.id, ann, news, "updates:1", topic="product_updates")

    assert container.dispatcher.run_once().sent == 2

    raw = container.mail.get(seeded.id, sent).raw
    assert "From: Example <hello@example.com>" in raw
    assert "1 Main Street, Springfield" in raw
    assert message(container, seeded.id, updates).status == "sent"
    settings = container.messaging.get(seeded.id)
    assert settings.postal_address is not None
    assert settings.opt_in_channels == ("sms",)


def test_links_start_with_the_public_url_or_the_servers_own_address() -> None:
    assert Settings(host="0.0.0.0", port=8080).base_url() == "http://0.0.0.0:8080"  # noqa: S104
    assert Settings(public_url="https://mail.shop.example/").base_url() == "https://mail.shop.example"
