"""A journey's webhook node calls out: the body is Liquid rendered with the run's context (the trigger
event, earlier answers), the call carries the run's idempotency key, and the answer (status and the
JSON body, or its text) comes back to the run for later branches. Never raises: a body that does not
render or a server that does not answer is an answer with an error."""

from __future__ import annotations

from typing import Any

import orjson
from liquid.exceptions import LiquidError

from nurture.channels.http import HttpCaller, HttpRequest
from nurture.domain.errors import Invalid
from nurture.domain.journeys.runs import WebhookAnswered, WebhookCall
from nurture.domain.templates.render import environments

MAX_ANSWER = 64_000  # characters of the answer kept in the run's context


def journey_caller(http: HttpCaller) -> Any:
    envs = environments({})

    def call(webhook: WebhookCall, context: dict[str, Any]) -> WebhookAnswered:
        body = b""
        if webhook.body is not None:
            try:
                template = envs.parse("body", webhook.body)
                body = str(template.render(run=context, event=context.get("event"))).encode()
            except (LiquidError, Invalid) as err:  # RenderFailed is an Invalid too
                return WebhookAnswered(None, error=f"the body does not render: {err}")
        headers = {"content-type": "application/json", "idempotency-key": webhook.key, **webhook.headers}
        answer = http.call(HttpRequest(webhook.url, body, headers, webhook.method), MAX_ANSWER)
        if answer.status_code is None:
            return WebhookAnswered(None, error=answer.error or "no answer")
        try:
            parsed: Any = orjson.loads(answer.body) if answer.body else None
        except orjson.JSONDecodeError:
            parsed = answer.body
        return WebhookAnswered(answer.status_code, parsed)

    return call
