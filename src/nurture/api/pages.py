"""What recipients reach from a message: the click redirect, the open pixel, the unsubscribe page and
its one-click POST (RFC 8058), the preference page and the double opt-in confirmation. No credentials:
the signed token in the path is the authority, and a token this server did not make is a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from nurture.api.page_html import HEADERS, confirm_html, preferences_html, unsubscribe_html
from nurture.bootstrap import Container
from nurture.domain.errors import Invalid
from nurture.domain.messages.consent import Proof
from nurture.domain.messages.links import MAX_TOKEN
from nurture.domain.messages.machine import Visit
from nurture.services.link_tracking import PIXEL_GIF
from nurture.services.unsubscribe import Scope, Via

router = APIRouter(tags=["links"], include_in_schema=True)
Token = Annotated[str, Path(max_length=MAX_TOKEN, description="a signed token from a message")]
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
    "X-Robots-Tag": "noindex, nofollow",
}


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _visit(request: Request) -> Visit:
    return Visit(
        request.method, request.headers.get("user-agent"), request.client.host if request.client else None
    )


def _proof(request: Request) -> Proof:
    return Proof(request.client.host if request.client else None, request.headers.get("user-agent"))


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=HEADERS)


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.get("/t/c/{token}", summary="Click redirect", response_class=Response)
@router.head("/t/c/{token}", include_in_schema=False, response_class=Response)
async def click(request: Request, token: Token) -> Response:
    """302 to the URL the message contained (the token carries it, signed); records `clicked`."""
    url = await run_in_threadpool(_container(request).link_tracking.clicked, token, _visit(request))
    return RedirectResponse(url, status_code=302, headers={**NO_CACHE, "Referrer-Policy": "no-referrer"})


@router.get("/t/o/{token}.gif", summary="Open pixel", response_class=Response)
@router.head("/t/o/{token}.gif", include_in_schema=False, response_class=Response)
async def pixel(request: Request, token: Token) -> Response:
    """A 1x1 transparent GIF, never cached; records `opened`."""
    await run_in_threadpool(_container(request).link_tracking.opened, token, _visit(request))
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_CACHE)


@router.get("/u/{token}", summary="Unsubscribe page", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: Token) -> HTMLResponse:
    """Asks; changes nothing (link scanners fetch every link of a message)."""
    page = await run_in_threadpool(_container(request).unsubscribe.page, token)
    return _html(unsubscribe_html(page))


@router.post("/u/{token}", summary="Unsubscribe (one-click, RFC 8058)", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: Token) -> HTMLResponse:
    """Body `List-Unsubscribe=One-Click` (form-encoded or multipart), as mail programs send it; the
    page's buttons add `scope=all` to leave every email of the workspace."""
    form = await request.form()
    if _one(form, "List-Unsubscribe") != "One-Click":
        raise Invalid.one("List-Unsubscribe", "the body must be List-Unsubscribe=One-Click (RFC 8058)")
    scope = _one(form, "scope") or Scope.MESSAGE.value
    if scope not in {s.value for s in Scope}:
        raise Invalid.one("scope", "must be message or all")
    via = Via.PAGE if _one(form, "source") == "page" else Via.ONE_CLICK
    page = await run_in_threadpool(
        _container(request).unsubscribe.unsubscribe, token, Scope(scope), via, _proof(request)
    )
    return _html(unsubscribe_html(page, just_done=True))


@router.get("/p/{token}", summary="Preference page", response_class=HTMLResponse)
async def preferences_page(request: Request, token: Token) -> HTMLResponse:
    page = await run_in_threadpool(_container(request).preferences.page, token)
    return _html(preferences_html(page))


@router.post("/p/{token}", summary="Save preferences", response_class=HTMLResponse)
async def save_preferences(request: Request, token: Token) -> HTMLResponse:
    """Form fields: `form` (the page's MAC), `action` (save or unsubscribe_all), `topic` per ticked box."""
    form = await request.form()
    ticked = [value for value in form.getlist("topic") if isinstance(value, str)]
    page = await run_in_threadpool(
        _container(request).preferences.save,
        token,
        _one(form, "form"),
        _one(form, "action") or "save",
        ticked,
        _proof(request),
    )
    return _html(preferences_html(page, saved=True))


@router.get("/c/{token}", summary="Double opt-in confirmation page", response_class=HTMLResponse)
async def confirm_page(request: Request, token: Token) -> HTMLResponse:
    """Asks; changes nothing."""
    page = await run_in_threadpool(_container(request).double_opt_in.page, token)
    return _html(confirm_html(page))


@router.post("/c/{token}", summary="Confirm a subscription", response_class=HTMLResponse)
async def confirm(request: Request, token: Token) -> HTMLResponse:
    form = await request.form()
    page = await run_in_threadpool(
        _container(request).double_opt_in.confirm, token, _one(form, "form"), _proof(request)
    )
    return _html(confirm_html(page))
