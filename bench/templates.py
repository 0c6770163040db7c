"""Template rendering on one core: a typical marketing email (layout with a stylesheet, a cart loop with
money and dates, a footer snippet, subject, preheader and a derived text part) rendered for varied
contacts from the compiled cache, beside compiling it for every message (what the cache saves)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from nurture.domain.templates.context import message_context
from nurture.domain.templates.model import BodyFormat, Content, Layout, TemplateKind
from nurture.domain.templates.render import compile_template, environments

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LAYOUT = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ workspace.name }}</title>
<style>
body { margin: 0; background: #f4f4f4; font-family: Helvetica, Arial, sans-serif; }
.wrap { max-width: 600px; margin: 0 auto; background: #ffffff; }
h1 { font-size: 22px; color: #222222; margin: 0 0 12px; }
p { font-size: 15px; line-height: 1.5; color: #333333; }
.item td { padding: 8px 0; border-bottom: 1px solid #eeeeee; }
.price { text-align: right; font-weight: bold; }
.button { display: inline-block; padding: 12px 20px; background: #0a7cff; color: #ffffff; }
.footer { font-size: 12px; color: #888888; }
@media (max-width: 480px) { .wrap { width: 100% !important; } }
</style></head>
<body><table class="wrap" width="100%"><tr><td>
<img src="https://shop.example/logo.png" alt="{{ workspace.name }}" width="120">
{{ content }}
{% render 'footer', workspace: workspace, contact: contact %}
</td></tr></table></body></html>"""
BODY = """<h1>Hi {{ contact.first_name | default: "there" | capitalize }},</h1>
<p>You left {{ event.properties.items | size }} items in your cart on
{{ event.timestamp | date: "%A %d %B at %H:%M" }}. They are still waiting for you:</p>
<table width="100%">
{% for item in event.properties.items %}
<tr class="item"><td><a href="{{ item.url }}">{{ item.name | truncate: 40 }}</a> x {{ item.quantity }}</td>
<td class="price">{{ item.price | times: item.quantity | money: event.properties.currency }}</td></tr>
{% endfor %}
<tr><td>Total</td><td class="price">{{ event.properties.total | money: event.properties.currency }}</td></tr>
</table>
{% if contact.lifecycle_stage == "customer" %}<p>As a customer you get free shipping.</p>{% endif %}
<p><a class="button" href="https://shop.example/cart?c={{ contact.id | url_encode }}">Back to cart</a></p>"""
FOOTER = """<p class="footer">{{ workspace.name }} · 1 Main Street · Springfield<br>
You receive this because {{ contact.email }} subscribed.</p>"""
LOCALES = [("en-US", "America/New_York"), ("de-DE", "Europe/Berlin"), ("fr-FR", "Europe/Paris"), (None, None)]


def cart_context(n: int) -> dict[str, Any]:
    """The render context of the n-th contact: a cart of three items, one of four locales and zones."""
    locale, zone = LOCALES[n % len(LOCALES)]
    items = [
        {
            "name": f"Product {n % 97} with a long descriptive name {k}",
            "price": round(9.99 + (n * 7 + k * 13) % 200, 2),
            "quantity": 1 + k % 3,
            "url": f"https://shop.example/p/{n % 97}-{k}",
        }
        for k in range(3)
    ]
    total = sum(i["price"] * i["quantity"] for i in items)
    return message_context(
        now=NOW,
        contact={
            "id": f"01CONTACT{n:017d}",
            "email": f"person{n}@example.com",
            "first_name": f"person{n}",
            "locale": locale,
            "timezone": zone,
            "lifecycle_stage": "customer" if n % 3 == 0 else "lead",
            "attributes": {},
        },
        event={
            "name": "Cart Abandoned",
            "timestamp": NOW - timedelta(hours=n % 48),
            "properties": {"items": items, "total": round(total, 2), "currency": "EUR"},
        },
        workspace={"id": "W", "name": "Example Shop"},
    )


def cart_template() -> Any:
    """The cart email, compiled (layout, stylesheet inlined, snippet footer, derived text part)."""
    layout = Layout("L", "Brand", BodyFormat.HTML, LAYOUT, 1, NOW, NOW)
    content = Content(
        subject="{{ contact.first_name | capitalize }}, your cart is waiting",
        preheader="{{ event.properties.items | size }} items, {{ event.properties.total | money: 'EUR' }}",
        body_format=BodyFormat.HTML,
        body=BODY,
    )
    return compile_template(environments({"footer": FOOTER}), TemplateKind.EMAIL, content, layout)


def measure(seconds: float) -> dict[str, Any]:
    contexts = [cart_context(n) for n in range(1000)]
    compiled = cart_template()
    sample = compiled.render(contexts[0])
    rendered, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for context in contexts[:100]:
            compiled.render(context)
        rendered += 100
    cached = time.perf_counter() - started
    uncached_n, started = 0, time.perf_counter()
    while time.perf_counter() - started < max(1.0, seconds / 4):
        cart_template().render(contexts[uncached_n % len(contexts)])
        uncached_n += 1
    uncached = time.perf_counter() - started
    return {
        "scenario": "templates",
        "database": "none",
        "renders": rendered,
        "seconds": round(cached, 3),
        "renders_per_s": round(rendered / cached, 1),
        "ms_per_render": round(cached / rendered * 1000, 3),
        "html_bytes": len(sample.html or ""),
        "text_bytes": len(sample.text),
        "inline_later": compiled.inline_later,
        "derive_text_later": compiled.derive_text,
        "ceilings": {"compile_every_message": {"renders_per_s": round(uncached_n / uncached, 1)}},
    }
