"""The HTML of the pages recipients see (unsubscribe, preferences, double opt-in confirmation): small,
server-rendered, with no script, no cookies and nothing loaded from elsewhere. Values are escaped by
markupsafe; forms post to the page's own address."""

from __future__ import annotations

from fastapi import Request
from markupsafe import Markup

from nurture.domain.errors import FieldError
from nurture.domain.subscriptions import Status
from nurture.services.double_opt_in import ConfirmPage, ConfirmState
from nurture.services.preferences import PreferencePage
from nurture.services.unsubscribe import UnsubscribePage

# frame-ancestors 'none': no other site can frame a page and trick a click on its buttons
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
PAGE_PREFIXES = ("/u/", "/p/", "/c/", "/t/")
_STYLE = Markup(
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1a1a1a;background:#f6f6f6;"
    "margin:0;padding:2rem 1rem}main{max-width:34rem;margin:0 auto;background:#fff;padding:2rem;"
    "border-radius:8px}h1{font-size:1.4rem;margin-top:0}button{font:inherit;padding:.6rem 1.2rem;"
    "border-radius:6px;border:1px solid #1a4fb8;background:#1a4fb8;color:#fff;cursor:pointer;margin:.3rem 0}"
    "button.secondary{background:#fff;color:#1a4fb8}button:focus,input:focus{outline:3px solid #f5a623;"
    "outline-offset:2px}fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0}label{display:block;"
    "margin:.5rem 0}.hint{color:#555;font-size:.9rem;margin:0 0 .5rem 1.7rem}.note{background:#eef4ff;"
    "padding:.8rem;border-radius:6px}.error{background:#fdecea;padding:.8rem;border-radius:6px}"
)


def _page(title: str, body: Markup) -> str:
    return str(
        Markup(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="robots" content="noindex">'
            "<title>{title}</title><style>{style}</style></head>"
            "<body><main>{body}</main></body></html>"
        ).format(title=title, style=_STYLE, body=body)
    )


def unsubscribe_html(page: UnsubscribePage, *, just_done: bool = False) -> str:
    """The confirmation page: a button per choice; reading it changes nothing."""
    parts = [Markup("<h1>Unsubscribe</h1>")]
    if just_done:
        parts.append(Markup('<p class="note" role="status">Done: you are unsubscribed.</p>'))
    hidden = Markup('<input type="hidden" name="List-Unsubscribe" value="One-Click">')
    if page.topic_label and not page.topic_done:
        parts.append(
            Markup(
                '<form method="post"><p>{statement}</p>{hidden}'
                '<input type="hidden" name="scope" value="message"><input type="hidden" name="source" '
                'value="page"><button type="submit">Unsubscribe from “{label}”</button></form>'
            ).format(statement=page.message_statement, hidden=hidden, label=page.topic_label)
        )
    elif page.topic_label:
        parts.append(Markup("<p>You no longer receive “{label}” emails.</p>").format(label=page.topic_label))
    if not page.all_done:
        parts.append(
            Markup(
                '<form method="post"><p>{statement}</p>{hidden}<input type="hidden" name="scope" value="all">'
                '<input type="hidden" name="source" value="page"><button type="submit" class="{cls}">'
                "Unsubscribe from all email</button></form>"
            ).format(statement=page.all_statement, hidden=hidden, cls="secondary" if page.topic_label else "")
        )
    else:
        parts.append(
            Markup("<p>{address} receives no more email from {workspace}.</p>").format(
                address=page.address or "This address", workspace=page.workspace_name
            )
        )
    if page.preferences_url:
        parts.append(
            Markup('<p><a href="{url}">Choose which emails you receive</a></p>').format(
                url=page.preferences_url
            )
        )
    return _page(f"Unsubscribe - {page.workspace_name}", Markup("").join(parts))


def preferences_html(page: PreferencePage, *, saved: bool = False) -> str:
    parts = [Markup("<h1>Email preferences</h1>")]
    if saved:
        parts.append(Markup('<p class="note" role="status">Your choices are saved.</p>'))
    if page.erased:
        parts.append(Markup("<p>This address is no longer on our lists.</p>"))
        return _page(f"Email preferences - {page.workspace_name}", Markup("").join(parts))
    if page.all_unsubscribed:
        parts.append(
            Markup(
                '<p class="note">You are unsubscribed from all email. Tick what you would like to receive '
                "again and save.</p>"
            )
        )
    boxes = []
    for choice in page.choices:
        topic = choice.topic
        box_id = f"topic-{topic.name}"
        pending = (
            Markup(" (waiting for your confirmation)") if choice.status is Status.PENDING else Markup("")
        )
        boxes.append(
            Markup(
                '<label for="{id}"><input type="checkbox" id="{id}" name="topic" value="{name}"{checked}> '
                "{label}{pending}</label>{hint}"
            ).format(
                id=box_id,
                name=topic.name,
                checked=Markup(" checked") if choice.shown else Markup(""),
                label=topic.label,
                pending=pending,
                hint=Markup('<p class="hint">{}</p>').format(topic.description) if topic.description else "",
            )
        )
    topics = (
        Markup("<fieldset><legend>Emails</legend>{}</fieldset>").format(Markup("").join(boxes))
        if boxes
        else Markup("<p>There is nothing to choose from yet.</p>")
    )
    parts.append(
        Markup(
            '<form method="post"><p>{statement}</p><input type="hidden" name="form" value="{form}">{topics}'
            '<button type="submit" name="action" value="save">Save my choices</button> '
            '<button type="submit" name="action" value="unsubscribe_all" class="secondary">'
            "Unsubscribe from everything</button></form>"
        ).format(statement=page.statement, form=page.form, topics=topics)
    )
    return _page(f"Email preferences - {page.workspace_name}", Markup("").join(parts))


def confirm_html(page: ConfirmPage) -> str:
    parts = [Markup("<h1>Confirm your subscription</h1>")]
    if page.state is ConfirmState.WAITING:
        parts.append(
            Markup(
                '<form method="post"><p>{statement}</p><input type="hidden" name="form" value="{form}">'
                '<button type="submit">Confirm</button></form>'
            ).format(statement=page.statement, form=page.form)
        )
    elif page.state is ConfirmState.CONFIRMED:
        parts.append(Markup('<p class="note" role="status">Thank you: your subscription is confirmed.</p>'))
    else:
        parts.append(Markup("<p>This confirmation link is no longer valid.</p>"))
    return _page(f"Confirm - {page.workspace_name}", Markup("").join(parts))


def error_html(detail: str, errors: list[FieldError] | None = None) -> str:
    items = [Markup("<li>{}: {}</li>").format(e.field, e.message) for e in errors or [] if e.field]
    listed = Markup("<ul>{}</ul>").format(Markup("").join(items)) if items else Markup("")
    body = Markup(
        '<h1>Something went wrong</h1><div class="error" role="alert"><p>{detail}</p>{listed}</div>'
    )
    return _page("Something went wrong", body.format(detail=detail[:1].upper() + detail[1:], listed=listed))


def wants_html(request: Request) -> bool:
    """A person's browser on one of these pages: errors are answered as a page, not JSON."""
    return request.url.path.startswith(PAGE_PREFIXES) and "text/html" in request.headers.get("accept", "")
