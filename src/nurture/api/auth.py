"""Credentials: write keys (HTTP Basic user name or `writeKey`) ingest; secret keys (Bearer) administer."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from nurture.domain.errors import Unauthorized
from nurture.domain.keys import KeyKind
from nurture.services.workspaces import WorkspaceService


def basic_user(header: str) -> str | None:
    """The user name of an HTTP Basic `Authorization` header value (None for another scheme)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the Authorization header is not valid HTTP Basic") from None
    return decoded.partition(":")[0] or None


def secret_workspace(request: Request) -> str:
    """FastAPI dependency: the workspace of the Bearer secret key."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the workspace's secret key as `Authorization: Bearer <key>`")
    service: WorkspaceService = request.app.state.container.workspaces
    return service.authenticate(token.strip(), KeyKind.SECRET)
