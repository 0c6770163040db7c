"""The dispatcher's seam to links (`MessageLinks`): List-Unsubscribe headers, tracked HTML, the links in
the render context, and each workspace's tracking settings read from its messaging settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nurture.bootstrap import Container
from nurture.domain.messages.link_settings import LinkSettings, Utm
from nurture.domain.messages.links import ClickLink, Links, MessageLink, UnsubscribeLink, derive_key
from nurture.domain.templates.model import BodyFormat, Category, Content, TemplateKind
from nurture.services.links import LinkSettingsCache, MessageLinks
from nurture.services.templates import TemplateInput
from nurture.services.workspaces import NewWorkspace
from nurture.store.schema import messaging_settings
from tests.conftest import LINK_SECRET, PUBLIC_URL


@dataclass(frozen=True)
class Message:
    """The attributes of the dispatcher's claimed outbox row that the links read."""

    workspace_id: str = "01HWORKSPACE00000000000000"
    id: str = "sendidsendidsendidsendid22"
    contact_id: str = "01HCONTACT0000000000000000"
    channel: str = "email"
    category: str = "marketing"
    template_id: str | None = "01HTEMPLATE000000000000000"
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sender:
    from_email: str = "news@mail.acme.example.com"


LINKS = Links(PUBLIC_URL, derive_key(LINK_SECRET))
HTML = (
    "<html><body><p>Hi <a href='https://shop.example.com/sale?x=1&amp;y=2'>sale</a>, "
    '<a href="mailto:help@acme.example.com">help</a>, <a href="#top">top</a>, '
    '<a href="{{unsubscribe}}">unsubscribe</a></p></body></html>'
)


def seam(settings: LinkSettings | None = None) -> MessageLinks:
    return MessageLinks(PUBLIC_URL, LINK_SECRET, (lambda _ws: settings) if settings else None)


def token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_marketing_email_carries_one_click_list_unsubscribe_with_https_and_mailto() -> None:
    message = Message()
    headers = dict(seam().headers(message, Sender().from_email))
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith(f"<{PUBLIC_URL}/u/")
    assert LINKS.read_unsubscribe(token(https.strip("<>"))) == UnsubscribeLink(
        message.workspace_id, message.id, message.contact_id
    )
    assert mailto.startswith("<mailto:unsubscribe+")
    assert mailto.endswith("@mail.acme.example.com>")
    assert len(mailto.removeprefix("<mailto:").split("@")[0]) <= 64


def test_transactional_mail_and_sms_carry_no_unsubscribe_headers() -> None:
    assert seam().headers(Message(category="transactional"), Sender().from_email) == ()
    assert seam().headers(Message(channel="sms"), Sender().from_email) == ()


def test_links_go_through_the_redirect_and_the_pixel_is_added_the_rest_untouched() -> None:
    message = Message()
    unsubscribe = seam().context(message)["unsubscribe_url"]
    html = HTML.replace("{{unsubscribe}}", unsubscribe)
    out = seam().rewrite_html(html, message)
    click = out.split('<a href="')[1].split('"')[0]
    assert click.startswith(f"{PUBLIC_URL}/t/c/")
    assert LINKS.read_click(token(click)) == ClickLink(
        message.workspace_id, message.id, 0, "https://shop.example.com/sale?x=1&y=2"
    )
    assert '<a href="mailto:help@acme.example.com">help</a>' in out
    assert '<a href="#top">top</a>' in out
    assert f'<a href="{unsubscribe}">unsubscribe</a>' in out  # never wrapped in a redirect
    pixel = out.split('<img src="')[1].split('"')[0]
    assert LINKS.read_open(token(pixel)) == MessageLink(message.workspace_id, message.id)
    assert out.index(pixel) < out.index("</body>")


def test_with_tracking_off_links_stay_and_utm_tags_are_still_added() -> None:
    settings = LinkSettings(opens=False, clicks=False, utm=Utm(enabled=True), template_names={})
    out = seam(settings).rewrite_html(
        HTML.replace("{{unsubscribe}}", "https://x.example.com/"), Message(context={"utm_campaign": "Spring"})
    )
    assert "<img" not in out
    assert "/t/c/" not in out
    assert "https://shop.example.com/sale?x=1&amp;y=2&amp;utm_source=nurture&amp;utm_medium=email" in out
    assert "utm_campaign=spring" in out


def test_utm_campaign_is_the_template_name_unless_the_message_names_one() -> None:
    message = Message()
    settings = LinkSettings(
        utm=Utm(enabled=True), template_names={message.template_id or "": "Welcome Series"}
    )
    out = seam(settings).rewrite_html('<a href="https://shop.example.com/">x</a>', message)
    target = LINKS.read_click(token(out.split('"')[1])).url
    assert parse_qs(urlsplit(target).query) == {
        "utm_source": ["nurture"],
        "utm_medium": ["email"],
        "utm_campaign": ["welcome-series"],
    }


def test_the_context_has_unsubscribe_and_preference_links_and_a_confirmation_its_confirm_link() -> None:
    message = Message()
    links = seam().context(message)
    assert set(links) == {"unsubscribe_url", "preferences_url"}
    assert LINKS.read_preferences(token(links["preferences_url"])).contact_id == message.contact_id
    asked = Message(category="transactional", context={"double_opt_in": {"topic": "news", "label": "News"}})
    confirmation = seam().context(asked)
    assert confirmation["topic_label"] == "News"
    assert LINKS.read_confirm(token(confirmation["confirm_url"])) == MessageLink(asked.workspace_id, asked.id)


def test_each_workspace_reads_its_tracking_settings_and_template_names(
    container: Container, workspace: NewWorkspace, other_workspace: NewWorkspace
) -> None:
    with container.db.write() as conn:
        conn.execute(
            messaging_settings.insert(),
            [
                {
                    "workspace_id": workspace.id,
                    "data": {
                        "postal_address": "1 Main St",
                        "tracking": {"opens": False, "utm": {"enabled": True}},
                    },
                    "updated_at": container.clock.now(),
                },
                {
                    "workspace_id": other_workspace.id,
                    "data": {"tracking": {"opens": "sometimes"}},  # no longer checks: defaults
                    "updated_at": container.clock.now(),
                },
            ],
        )
    template = container.templates.create(workspace.id, _template_input("Spring Sale"))
    cache = LinkSettingsCache(container.db)
    mine = cache(workspace.id)
    assert (mine.opens, mine.clicks, mine.utm.enabled) == (False, True, True)
    assert mine.template_names == {template.id: "Spring Sale"}
    assert cache(other_workspace.id) == LinkSettings()
    assert cache(workspace.id) is mine  # read once per 30 s


def _template_input(name: str) -> TemplateInput:
    content = Content(
        subject="Hi", body_format=BodyFormat.HTML, body="<p>Hi</p>{{ workspace.postal_address }}"
    )
    return TemplateInput(name, TemplateKind.EMAIL, Category.MARKETING, content)
