"""Pure messaging rules: which hits are machines', a workspace's tracking settings, topic fields,
the CAN-SPAM postal address check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nurture.domain.errors import Invalid
from nurture.domain.messages.link_settings import LinkSettings, Utm, check_tracking, utm_params
from nurture.domain.messages.machine import Hit, Visit, machine_reason
from nurture.domain.messages.topics import check_fields, check_identity
from nurture.domain.subscriptions import Status
from nurture.domain.templates.compliance import check_postal_address
from nurture.domain.templates.model import BodyFormat, Content, Layout, TemplateKind
from nurture.domain.templates.render import compile_template, environments

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = SENT + timedelta(hours=2)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


@pytest.mark.parametrize(
    ("hit", "visit", "at", "reason"),
    [
        (Hit.OPEN, Visit("GET", IPHONE, "203.0.113.9"), LATER, None),
        (Hit.OPEN, Visit("GET", GMAIL_PROXY, "66.249.84.1"), LATER, None),  # opens when the person does
        (Hit.OPEN, Visit("GET", "YahooMailProxy; https://help.yahoo.com", "98.137.1.1"), LATER, None),
        (Hit.CLICK, Visit("GET", IPHONE, "203.0.113.9"), LATER, None),
        (Hit.OPEN, Visit("GET", "Mozilla/5.0", "104.28.1.1"), LATER, "apple_mpp"),
        (Hit.OPEN, Visit("GET", IPHONE, "17.58.1.1"), LATER, "apple_mpp"),
        (Hit.CLICK, Visit("GET", IPHONE, "::ffff:17.1.2.3"), LATER, "apple_mpp"),
        (Hit.CLICK, Visit("GET", "Mozilla/5.0", "203.0.113.9"), LATER, None),  # only opens: the MPP agent
        (Hit.CLICK, Visit("HEAD", IPHONE, "203.0.113.9"), LATER, "head_request"),
        (Hit.CLICK, Visit("GET", "Mozilla/5.0 (compatible; Barracuda Sentinel)", None), LATER, "scanner"),
        (Hit.CLICK, Visit("GET", "python-requests/2.32", None), LATER, "scanner"),
        (Hit.OPEN, Visit("GET", "Mozilla/5.0 HeadlessChrome/120.0", None), LATER, "scanner"),
        (Hit.CLICK, Visit("GET", "Mozilla/5.0 (compatible; bingbot/2.0)", None), LATER, "scanner"),
        (Hit.OPEN, Visit("GET", None, "203.0.113.9"), LATER, "no_user_agent"),
        (Hit.CLICK, Visit("GET", "  ", "203.0.113.9"), LATER, "no_user_agent"),
        (Hit.CLICK, Visit("GET", IPHONE, "203.0.113.9"), SENT + timedelta(seconds=3), "too_fast"),
        (Hit.OPEN, Visit("GET", IPHONE, "not an ip"), SENT + timedelta(seconds=11), None),
    ],
)
def test_machine_hits_are_named_by_the_rule_they_match(
    hit: Hit, visit: Visit, at: datetime, reason: str | None
) -> None:
    assert machine_reason(hit, visit, at, SENT) == reason


def test_without_a_send_time_nothing_is_too_fast() -> None:
    assert machine_reason(Hit.CLICK, Visit("GET", IPHONE, None), SENT, None) is None


def test_tracking_settings_default_when_absent_and_refuse_bad_values_by_path() -> None:
    assert check_tracking(None) == LinkSettings()
    assert check_tracking(
        {"opens": False, "utm": {"enabled": True, "source": " newsletter "}}
    ) == LinkSettings(opens=False, clicks=True, utm=Utm(True, "newsletter", "email"))
    with pytest.raises(Invalid) as refused:
        check_tracking({"opens": "yes", "pixel": 1, "utm": {"enabled": 1, "medium": "", "x": 2}})
    assert sorted(e.field for e in refused.value.errors) == [
        "tracking.opens",
        "tracking.pixel",
        "tracking.utm.enabled",
        "tracking.utm.medium",
        "tracking.utm.x",
    ]
    for bad in ([], {"utm": "on"}):
        with pytest.raises(Invalid):
            check_tracking(bad)


def test_utm_parameters_come_only_when_enabled_with_a_slugged_campaign() -> None:
    assert utm_params(LinkSettings(), "Spring Sale") == {}
    on = LinkSettings(utm=Utm(enabled=True))
    assert utm_params(on, "Spring Sale — 20%!") == {
        "utm_source": "nurture",
        "utm_medium": "email",
        "utm_campaign": "spring-sale-20",
    }
    assert "utm_campaign" not in utm_params(on, None)


def test_topic_fields_are_checked_and_double_opt_in_topics_are_opt_in() -> None:
    fields = check_fields({"label": " News ", "double_opt_in": True})
    assert (fields.label, fields.default_status, fields.double_opt_in) == ("News", Status.UNSUBSCRIBED, True)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["label"]),
        ({"label": "x" * 201}, ["label"]),
        ({"label": "x", "description": 3}, ["description"]),
        ({"label": "x", "default_status": "pending"}, ["default_status"]),
        ({"label": "x", "double_opt_in": "yes"}, ["double_opt_in"]),
        ({"label": "x", "default_status": "subscribed", "double_opt_in": True}, ["double_opt_in"]),
    ]
    for values, fields_named in cases:
        with pytest.raises(Invalid) as refused:
            check_fields(values)
        assert [e.field for e in refused.value.errors] == fields_named, values
    with pytest.raises(Invalid) as refused:
        check_identity("fax", "bad name!")
    assert [e.field for e in refused.value.errors] == ["channel", "name"]
    with pytest.raises(Invalid):
        check_identity("email", "")


ENVS = environments({"footer": "<p>{{ workspace.postal_address }}</p>", "plain": "<p>Acme</p>"})


def _check(
    body: str, *, text: str | None = None, layout: str | None = None, sources: tuple[str, ...] = ()
) -> None:
    content = Content(
        subject="Hi", body_format=BodyFormat.HTML, body=body, text=text, layout_id="L" if layout else None
    )
    frame = Layout("L", "Brand", BodyFormat.HTML, layout, 1, SENT, SENT) if layout else None
    compiled = compile_template(ENVS, TemplateKind.EMAIL, content, frame)
    check_postal_address(compiled, content, SENT, sources)


def test_a_marketing_email_shows_the_postal_address_in_body_layout_or_snippet() -> None:
    _check("<p>Hi</p><p>{{ workspace.postal_address }}</p>")
    _check("<p>Hi</p>{% render 'footer' %}")
    _check(
        "<p>Hi</p>",
        layout="<html><body>{{ content }}<footer>{{ workspace.postal_address }}</footer></body></html>",
    )
    _check("<p>Hi</p>{{ workspace.postal_address }}", text="Hi\n{{ workspace.postal_address }}")
    _check("<!--[if !mso]><!--><p>{{ workspace.postal_address }}</p><!--<![endif]-->")
    # cannot render without a contact: judged by its sources
    _check("{{ contact.first_name | money: 'EUR' }}{{ workspace.postal_address }}")


@pytest.mark.parametrize(
    ("body", "text", "field"),
    [
        ("<p>Hi</p>{% render 'plain' %}", None, "html"),
        ("<p>Hi</p>{% if contact.country == 'US' %}{{ workspace.postal_address }}{% endif %}", None, "html"),
        ("<p>Hi</p><!-- {{ workspace.postal_address }} -->", None, "html"),  # no one reads a comment
        ("<!--[if mso]><p>{{ workspace.postal_address }}</p><![endif]-->", None, "html"),  # Outlook only
        ("<p>Hi</p>{{ workspace.postal_address }}", "Hi there", "text"),
        ("{{ contact.first_name | money: 'EUR' }}", None, "html"),
    ],
)
def test_a_marketing_email_without_the_postal_address_is_refused_naming_the_field(
    body: str, text: str | None, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        _check(body, text=text)
    assert [e.field for e in refused.value.errors] == [field]
    assert "{{ workspace.postal_address }}" in refused.value.errors[0].message
