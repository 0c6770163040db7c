"""The admin REST API as one workspace sees it: a small client for one collection, shared by API tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from nurture.services.workspaces import NewWorkspace
from tests.conftest import secret


class Admin:
    """Calls on one collection (e.g. `/api/v1/contacts`) with a workspace's secret key."""

    def __init__(self, client: TestClient, workspace: NewWorkspace, collection: str) -> None:
        self.client = client
        self.headers = secret(workspace)
        self.collection = collection

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers={**self.headers, **(headers or {})}, **kwargs)

    def create(self, **body: Any) -> dict[str, Any]:
        response = self.call("POST", self.collection, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def get(self, item_id: str) -> dict[str, Any]:
        response = self.call("GET", f"{self.collection}/{item_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def all(self, **params: Any) -> list[dict[str, Any]]:
        """Every item the listing gives for `params`, walking all pages."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            response = self.call(
                "GET", self.collection, params={**params, **({"cursor": cursor} if cursor else {})}
            )
            assert response.status_code == 200, response.text
            page = response.json()
            out.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                return out


def problem(response: Any, status: int = 400) -> list[str]:
    """The fields an RFC 9457 problem answer names (it must be one, with `status`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    return [e["field"] for e in body.get("errors", [])]
