"""Internal alerts: a short notice to the team ("Alice reached MQL, score 72"), as a Slack message
(incoming webhook body: `text` for notifications, `blocks` for the layout) and as a plain email."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.profile import normalize_email
from nurture.domain.webhooks.endpoints import check_url

MAX_TITLE = 150  # Slack's limit for a header block
MAX_TEXT = 3000  # Slack's limit for a section's text
MAX_FIELDS = 10  # Slack's limit for a section's fields
MAX_FIELD = 1000
MAX_TARGETS = 20


@dataclass(frozen=True)
class Alert:
    title: str
    text: str = ""
    contact_id: str | None = None  # the contact the alert is about
    link: str | None = None  # where to look (e.g. the contact in the console or the CRM)
    fields: tuple[tuple[str, str], ...] = ()  # label, value: "Score", "72"


@dataclass(frozen=True)
class AlertTargets:
    slack_webhook_urls: tuple[str, ...] = ()
    emails: tuple[str, ...] = field(default_factory=tuple)


def check_alert(
    title: Any, text: Any = "", contact_id: Any = None, link: Any = None, fields: Any = None
) -> Alert:
    errors: list[FieldError] = []
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        errors.append(FieldError("title", f"must be 1 to {MAX_TITLE} characters"))
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        errors.append(FieldError("text", f"must be text of at most {MAX_TEXT} characters"))
    if contact_id is not None and not isinstance(contact_id, str):
        errors.append(FieldError("contact_id", "must be a contact id"))
    checked_link = None
    if link is not None:
        try:
            checked_link = check_url(link, "link")
        except Invalid as exc:
            errors += exc.errors
    pairs: list[tuple[str, str]] = []
    if fields is not None:
        if not isinstance(fields, Mapping) or len(fields) > MAX_FIELDS:
            errors.append(
                FieldError("fields", f"must be an object of at most {MAX_FIELDS} labels and values")
            )
        else:
            for label, value in fields.items():
                if not isinstance(value, str | int | float) or len(str(label)) + len(str(value)) > MAX_FIELD:
                    errors.append(
                        FieldError(f"fields.{label}", f"must be text of at most {MAX_FIELD} characters")
                    )
                else:
                    pairs.append((str(label), str(value)))
    if errors:
        raise Invalid(errors)
    return Alert(str(title).strip(), str(text), contact_id, checked_link, tuple(pairs))


def check_targets(slack_webhook_urls: Any, emails: Any) -> AlertTargets:
    errors: list[FieldError] = []
    urls: list[str] = []
    addresses: list[str] = []
    for name, values in (("slack_webhook_urls", slack_webhook_urls), ("emails", emails)):
        if values is None:
            continue
        if not isinstance(values, list) or len(values) > MAX_TARGETS:
            errors.append(FieldError(name, f"must be a list of at most {MAX_TARGETS}"))
            continue
        for index, value in enumerate(values):
            where = f"{name}[{index}]"
            try:
                if name == "emails":
                    if not isinstance(value, str):
                        raise ValueError("must be an email address")
                    addresses.append(normalize_email(value))
                else:
                    urls.append(check_url(value, where))
            except Invalid as exc:
                errors += exc.errors
            except ValueError as exc:
                errors.append(FieldError(where, str(exc)))
    if not errors and not urls and not addresses:
        errors.append(
            FieldError("slack_webhook_urls", "name at least one Slack webhook URL or email address")
        )
    if errors:
        raise Invalid(errors)
    return AlertTargets(tuple(dict.fromkeys(urls)), tuple(dict.fromkeys(addresses)))


def _slack_escape(value: str) -> str:
    """Slack's mrkdwn treats &, < and > as markup; user text is escaped so it shows as written."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(alert: Alert) -> dict[str, Any]:
    """The incoming webhook body: `text` is the notification and fallback, `blocks` the message."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": alert.title}}]
    if alert.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(alert.text)}})
    if alert.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_slack_escape(label)}*\n{_slack_escape(value)}"}
                    for label, value in alert.fields
                ],
            }
        )
    if alert.link:
        link = alert.link.replace(">", "%3E").replace("|", "%7C")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open>"}})
    fallback = f"{alert.title}: {alert.text}" if alert.text else alert.title
    return {"text": _slack_escape(fallback), "blocks": blocks}


def email_subject(alert: Alert) -> str:
    return f"[nurture] {alert.title}"


def email_text(alert: Alert) -> str:
    """The plain-text body of the alert email: title, text, fields and link as paragraphs."""
    fields = "\n".join(f"{label}: {value}" for label, value in alert.fields)
    parts = [alert.title, alert.text, fields, alert.link]
    return "\n\n".join(part for part in parts if part) + "\n"
