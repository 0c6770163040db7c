"""RFC 9457 problem details: the one place where errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from nurture.api.page_html import HEADERS, error_html, wants_html
from nurture.api.responses import json_response
from nurture.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    NurtureError,
    Unauthorized,
)

PROBLEM = "application/problem+json"
_STATUS = {Invalid: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409}


def problem(
    status: int, title: str, detail: str, errors: list[FieldError] | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        # Extension members read by Segment's and RudderStack's libraries; without `code`,
        # rudder-sdk-python fails on a KeyError and retries a 4xx as if the network had failed.
        "code": title.lower().replace(" ", "_"),
        "message": detail,
        **extra,
    }
    if errors:
        body["errors"] = [_error(e) for e in errors]
    headers = {"WWW-Authenticate": 'Bearer realm="nurture"'} if status == 401 else None
    return json_response(body, status, headers, PROBLEM)


def _error(error: FieldError) -> dict[str, Any]:
    out: dict[str, Any] = {"field": error.field, "message": error.message}
    if error.line is not None:
        out["line"] = error.line
        out["column"] = error.column
    return out


def _path(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _field_error(error: Any) -> FieldError:
    if error["type"] == "json_invalid":  # its loc is a character position, not a field
        return FieldError("body", f"is not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})")
    return FieldError(_path(tuple(error["loc"])), error["msg"])


def domain_problem(exc: NurtureError) -> Response:
    """The problem response for a domain error (also used by the tracking endpoints directly)."""
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    return problem(status, exc.title, exc.detail, exc.errors if isinstance(exc, Invalid) else None)


def install(app: FastAPI) -> None:
    @app.exception_handler(NurtureError)
    async def _domain(request: Request, exc: NurtureError) -> Response:
        if wants_html(request):  # a recipient's browser on an unsubscribe, preference or confirm page
            status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
            errors = exc.errors if isinstance(exc, Invalid) else None
            return HTMLResponse(error_html(exc.detail, errors), status_code=status, headers=HEADERS)
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return _domain_invalid([_field_error(e) for e in exc.errors()])

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> Response:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))


def _domain_invalid(errors: list[FieldError]) -> Response:
    invalid = Invalid(errors)
    return problem(400, invalid.title, invalid.detail, invalid.errors)
