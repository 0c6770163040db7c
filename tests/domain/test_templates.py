"""Templates without a database: filters, limits, syntax errors with positions, snippets, escaping,
layouts, MJML, CSS inlining and the derived text part."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from nurture.domain.errors import Invalid
from nurture.domain.templates.context import message_context
from nurture.domain.templates.filters import _money_format
from nurture.domain.templates.liquid import RenderFailed
from nurture.domain.templates.model import BodyFormat, Content, Layout, TemplateKind
from nurture.domain.templates.render import CompiledTemplate, compile_template, environments

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night Europe/Paris moves to summer time


def email(body: str, *, snippets: dict[str, str] | None = None, **fields: Any) -> CompiledTemplate:
    content = Content(subject=fields.pop("subject", "Hi"), body_format=BodyFormat.HTML, body=body, **fields)
    return compile_template(environments(snippets or {}), TemplateKind.EMAIL, content)


def text(source: str, snippets: dict[str, str] | None = None) -> CompiledTemplate:
    return compile_template(environments(snippets or {}), TemplateKind.SMS, Content(text=source))


def render(compiled: CompiledTemplate, **parts: Any) -> Any:
    return compiled.render(message_context(now=NOW, **parts))


def sms(source: str, **parts: Any) -> str:
    return str(render(text(source), **parts).text)


# filters


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Paris", "29/03/2026 01:30 CET"),
        ("America/New_York", "28/03/2026 20:30 EDT"),
        ("Asia/Kolkata", "29/03/2026 06:00 IST"),
        (None, "29/03/2026 00:30 UTC"),
    ],
)
def test_date_shows_the_moment_in_the_contacts_time_zone(zone: str | None, expected: str) -> None:
    contact = {"timezone": zone} if zone else {}
    assert sms("{{ now | date: '%d/%m/%Y %H:%M %Z' }}", contact=contact) == expected


def test_date_reads_iso_text_follows_dst_and_takes_an_explicit_zone() -> None:
    contact = {"timezone": "Europe/Paris"}
    event = {"properties": {"at": "2026-03-29T01:30:00Z", "day": "2026-12-24"}}
    out = sms(
        "{{ event.properties.at | date: '%H:%M %Z' }}|{{ event.properties.day | date: '%d %b' }}|"
        "{{ event.properties.at | date: '%H:%M', 'Asia/Tokyo' }}|{{ 'soon' | date: '%H' }}",
        contact=contact,
        event=event,
    )
    assert out == "03:30 CEST|24 Dec|10:30|soon"


def test_date_with_an_unknown_zone_fails_with_the_reason() -> None:
    with pytest.raises(RenderFailed) as failed:
        sms("{{ now | date: '%H', 'Mars/Olympus' }}")
    assert failed.value.errors[0].field == "text"
    assert "Mars/Olympus" in failed.value.errors[0].message


@pytest.mark.parametrize(
    ("amount", "args", "locale", "expected"),
    [
        (1234.5, '"EUR"', None, "€1,234.50"),
        ("1234.5", '"EUR"', "de-DE", "1.234,50\xa0€"),
        (1234.5, '"EUR", "fr-FR"', "de-DE", "1\u202f234,50\xa0€"),
        (1234.5, '"JPY"', None, "¥1,234"),  # half to even
        (-7, '"USD"', None, "-$7.00"),
        (0.125, '"USD"', None, "$0.12"),  # half to even, like Babel
        (1234567, '"INR"', "en-IN", "₹12,34,567.00"),  # Indian grouping: Babel formats it
        (99.99, '"CHF"', "de-CH", "CHF\xa099.99"),
    ],
)
def test_money_formats_amount_and_currency_for_the_locale(
    amount: Any, args: str, locale: str | None, expected: str
) -> None:
    contact = {"locale": locale} if locale else {}
    assert (
        sms(
            f"{{{{ event.properties.amount | money: {args} }}}}",
            contact=contact,
            event={"properties": {"amount": amount}},
        )
        == expected
    )


@pytest.mark.parametrize(
    ("source", "word"),
    [
        ("{{ 'x' | money: 'EUR' }}", "number"),
        ("{{ 1 | money }}", "currency"),
        ("{{ 1 | money: 'XXZ' }}", "XXZ"),
    ],
)
def test_money_refuses_what_it_cannot_format(source: str, word: str) -> None:
    with pytest.raises(RenderFailed) as failed:
        sms(source)
    assert word in failed.value.errors[0].message


def test_standard_filters_marketers_use() -> None:
    out = sms(
        "{{ contact.first_name | default: 'there' }}|{{ 'a b&c' | url_encode }}|{{ 'hello' | capitalize }}|"
        "{{ 'The quick brown fox' | truncate: 10 }}|{{ event.properties | json }}",
        event={"properties": {"b": "</script>", "a": 1}},
    )
    assert out == 'there|a+b%26c|Hello|The qui...|{"a": 1, "b": "\\u003c/script\\u003e"}'


# escaping


def test_html_bodies_escape_context_values_and_subject_and_text_do_not() -> None:
    compiled = email(
        "<p>{{ contact.first_name }}</p><a href='/x?n={{ contact.first_name }}'>{{ 'a<b' }}</a>",
        subject="For {{ contact.first_name }}",
        text="Hi {{ contact.first_name }}",
    )
    out = render(compiled, contact={"first_name": "<script>alert(1)</script> & Co"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in out.html
    assert "<script>" not in out.html
    assert out.subject == "For <script>alert(1)</script> & Co"
    assert out.text == "Hi <script>alert(1)</script> & Co"


# limits


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{% for a in (1..1000) %}{% for b in (1..1000) %}x{% endfor %}{% endfor %}", "iterations"),
        ("{% for a in (1..1000) %}{{ event.properties.big }}{% endfor %}", "longer than"),
        ("{% render 'loop' %}", "nest deeper"),
    ],
    ids=["loop bomb", "huge output", "deep nesting"],
)
def test_limits_stop_a_render_with_a_clear_error_and_no_message(source: str, words: str) -> None:
    compiled = email(source, snippets={"loop": "{% render 'loop' %}"})
    with pytest.raises(RenderFailed) as failed:
        render(compiled, event={"properties": {"big": "x" * 10_000}})
    assert failed.value.errors[0].field == "html"
    assert words in failed.value.errors[0].message


def test_the_context_holds_plain_data_only() -> None:
    with pytest.raises(Invalid) as refused:
        message_context(now=NOW, run={"data": {"hook": print}})
    assert refused.value.errors[0].field == "run.data.hook"
    with pytest.raises(Invalid):
        message_context(now=NOW, contact={"self": object()})


# syntax errors


@pytest.mark.parametrize(
    ("field", "source", "line", "column", "words"),
    [
        ("html", "<p>\n  {% if contact.vip %}\n  Gold\n  {% endfi %}</p>", 4, 6, "endfi"),
        ("subject", "Hi {{ contact. }}", 1, 7, "identifier"),
        ("text", "line\nline\n   {{ x | nosuchfilter }}", 3, 11, "nosuchfilter"),
        ("preheader", "{{ 'open }}", 1, 4, ""),
    ],
)
def test_syntax_errors_name_field_line_and_column(
    field: str, source: str, line: int, column: int, words: str
) -> None:
    fields = {"subject": "Hi", "text": None, "preheader": None, field: source}
    body = fields.pop("html", "<p>x</p>")
    with pytest.raises(Invalid) as refused:
        email(body, **fields)
    error = refused.value.errors[0]
    assert (error.field, error.line, error.column) == (field, line, column)
    assert words in error.message


def test_mjml_errors_name_the_mjml_field_with_a_position() -> None:
    content = Content(subject="s", body_format=BodyFormat.MJML, body="<mjml>\n<mj-body>\n<mj-text>a < b")
    with pytest.raises(Invalid) as refused:
        compile_template(environments({}), TemplateKind.EMAIL, content)
    error = refused.value.errors[0]
    assert error.field == "mjml"
    assert error.line is not None
    assert error.column is not None


# snippets: only the workspace's own


def test_snippets_render_from_the_given_workspace_library_only() -> None:
    mine = {"footer": "<p>Acme · {{ contact.email }}</p>"}
    compiled = email("<div>{% render 'footer', contact: contact %}</div>", snippets=mine)
    assert "Acme · ann@example.com" in render(compiled, contact={"email": "ann@example.com"}).html
    with pytest.raises(Invalid) as refused:
        email("<div>\n  {% render 'secret' %}</div>", snippets={"other": "x"})
    error = refused.value.errors[0]
    assert (error.field, error.line, error.column) == ("html", 2, 13)
    assert "no snippet named 'secret'" in error.message


def test_include_sees_assigned_variables_and_render_only_what_it_is_given() -> None:
    library = {"hello": "[{{ contact.first_name }} {{ greeting }}]"}
    compiled = email(
        "{% assign greeting = 'hi' %}{% include 'hello' %}{% render 'hello' %}"
        "{% render 'hello', greeting: 'yo' %}",
        snippets=library,
    )
    html = render(compiled, contact={"first_name": "Ann"}).html
    assert html == "<html><head></head><body>[Ann hi][Ann ][Ann yo]</body></html>"


# layout, CSS inlining, text part, MJML

CART = {
    "properties": {
        "items": [{"name": "Mug & Cup", "price": 12.5}, {"name": "Tea", "price": 1234.5}],
    }
}
BODY = (
    "<h1>Hi {{ contact.first_name | default: 'there' }}</h1>"
    "<table>{% for item in event.properties.items %}<tr><td class='item'>{{ item.name }}</td>"
    "<td>{{ item.price | money: 'EUR' }}</td></tr>{% endfor %}</table>"
    "<p><a href='https://shop.example/cart?c={{ contact.id }}'>Back to your cart</a></p>"
)
LAYOUT = (
    "<html><head><style>.item { color: #333333 } h1 { font-size: 20px }</style></head>"
    "<body>{{ content }}<p class='item'>Acme Inc, 1 Main St</p></body></html>"
)


def test_layout_wraps_the_body_css_is_inlined_and_text_is_derived() -> None:
    layout = Layout("L1", "Brand", BodyFormat.HTML, LAYOUT, 3, NOW, NOW)
    content = Content(
        subject="Your cart",
        preheader="{{ event.properties.items | size }} items wait",
        body_format=BodyFormat.HTML,
        body=BODY,
    )
    compiled = compile_template(environments({}), TemplateKind.EMAIL, content, layout)
    assert not compiled.inline_later
    assert not compiled.derive_text
    out = render(compiled, contact={"id": "C1", "first_name": "Ann"}, event=CART)
    assert out.html.count('<td class="item" style="color: #333333;">') == 2
    assert '<h1 style="font-size: 20px;">Hi Ann</h1>' in out.html
    assert "<style>" not in out.html
    assert out.html.index("2 items wait") < out.html.index("Hi Ann")  # hidden preheader first
    assert "<tbody><tr>" in out.html
    assert out.html.count("<tbody>") == 1
    assert out.text == (
        "Hi Ann\n\nMug & Cup\n€12.50\n\nTea\n€1,234.50\n\n"
        "[Back to your cart](https://shop.example/cart?c=C1)\n\nAcme Inc, 1 Main St"
    )


def test_liquid_inside_a_css_selector_falls_back_to_inlining_each_message() -> None:
    body = (
        "<html><head><style>.{{ run.cls }} { color: red }</style></head>"
        "<body><p class='x'>Hi</p></body></html>"
    )
    compiled = email(body)
    assert compiled.inline_later
    assert '<p class="x" style="color: red;">Hi</p>' in render(compiled, run={"cls": "x"}).html


def test_mjml_is_compiled_with_liquid_loops_kept_in_place() -> None:
    mjml = (
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{ contact.first_name }}</mj-text>"
        "{% for item in event.properties.items %}<mj-text>{{ item.name }}</mj-text>{% endfor %}"
        "<mj-text>Bye</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    compiled = compile_template(
        environments({}), TemplateKind.EMAIL, Content(subject="s", body_format=BodyFormat.MJML, body=mjml)
    )
    out = render(compiled, contact={"first_name": "Ann"}, event=CART)
    assert (
        out.html.index("Hi Ann")
        < out.html.index("Mug &amp; Cup")
        < out.html.index("Tea")
        < out.html.index("Bye")
    )
    assert out.text == "Hi Ann\n\nMug & Cup\n\nTea\n\nBye"


def test_an_mjml_layout_wraps_an_mjml_body() -> None:
    layout = Layout(
        "L2",
        "Brand",
        BodyFormat.MJML,
        "<mjml><mj-body><mj-section><mj-column><mj-text>Logo</mj-text>{{ content }}"
        "<mj-text>Footer</mj-text></mj-column></mj-section></mj-body></mjml>",
        1,
        NOW,
        NOW,
    )
    content = Content(
        subject="s", body_format=BodyFormat.MJML, body="<mj-text>Hi {{ contact.first_name }}</mj-text>"
    )
    out = render(
        compile_template(environments({}), TemplateKind.EMAIL, content, layout), contact={"first_name": "Ann"}
    )
    assert out.html.index("Logo") < out.html.index("Hi Ann") < out.html.index("Footer")
    assert out.text == "Logo\nHi Ann\nFooter"
    html_body = Content(subject="s", body_format=BodyFormat.HTML, body="<p>x</p>")
    with pytest.raises(Invalid) as refused:
        compile_template(environments({}), TemplateKind.EMAIL, html_body, layout)
    assert refused.value.errors[0].field == "layout_id"


def test_a_written_text_part_is_used_as_written() -> None:
    compiled = email("<p>{{ contact.first_name }}</p>", text="Hello {{ contact.first_name }},\n\nbye")
    assert render(compiled, contact={"first_name": "Ann"}).text == "Hello Ann,\n\nbye"


# properties


@settings(max_examples=60, deadline=None)
@given(
    amount=st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False),
    pair=st.sampled_from(
        [
            ("EUR", "en_US"),
            ("EUR", "de_DE"),
            ("EUR", "fr_FR"),
            ("USD", "en_US"),
            ("JPY", "ja_JP"),
            ("GBP", "en_GB"),
            ("SEK", "sv_SE"),
            ("BRL", "pt_BR"),
            ("KWD", "ar_KW"),
            ("CHF", "de_CH"),
        ]
    ),
)
def test_the_fast_money_formatter_agrees_with_babel(amount: Decimal, pair: tuple[str, str]) -> None:
    currency, locale = pair
    assert _money_format(currency, locale)(amount) == format_currency(amount, currency, locale=locale)


@settings(max_examples=40, deadline=None)
@given(name=st.text(max_size=40))
def test_any_name_is_escaped_in_html_and_verbatim_in_subject_and_text(name: str) -> None:
    compiled = email(
        "<p>{{ contact.first_name }}</p>", subject="{{ contact.first_name }}", text="{{ contact.first_name }}"
    )
    out = render(compiled, contact={"first_name": name})
    name = name.replace("\r\n", "\n").replace("\r", "\n")  # python-liquid writes line feeds
    assert f"<p>{escape(name)}</p>" in out.html
    assert out.subject == " ".join(name.split())
    assert out.text == "\n".join(line.rstrip() for line in name.splitlines()).strip("\n")
