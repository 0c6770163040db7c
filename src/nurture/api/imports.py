"""Admin REST API: CSV contact import."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from nurture.api.auth import secret_workspace
from nurture.bootstrap import Container
from nurture.domain.csv_import import parse_options
from nurture.domain.errors import Invalid

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
Workspace = Annotated[str, Depends(secret_workspace)]
MAX_UPLOAD = 200 * 1024 * 1024


class RowErrorOut(BaseModel):
    row: int
    column: str | None
    reason: str


class ImportReportOut(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    suppressed: int
    added_to_list: int
    errors: list[RowErrorOut]


@router.post(
    "/contacts",
    response_model=ImportReportOut,
    summary="Import contacts from CSV",
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_contacts(
    request: Request,
    workspace_id: Workspace,
    map: Annotated[
        list[str], Query(description="COLUMN:FIELD, FIELD a core field, user_id, attributes.NAME or -")
    ] = [],  # noqa: B006
    type: Annotated[
        list[str], Query(description="COLUMN:TYPE (string, integer, number, boolean, date, datetime, json)")
    ] = [],  # noqa: B006
    list_id: Annotated[
        str | None,
        Query(alias="list", max_length=64, description="a static list the stored rows' contacts join"),
    ] = None,
) -> Any:
    """The body is the CSV file (UTF-8, header row first). Rows are upserted by user_id or email;
    rows that fail are listed in `errors` with their line and column, the others are stored (and,
    with `list`, put on that list)."""
    raw = await request.body()
    if len(raw) > MAX_UPLOAD:
        raise Invalid.one(
            "body", f"the file exceeds {MAX_UPLOAD // (1024 * 1024)} MB; use `nurture import contacts`"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid.one("body", f"is not UTF-8 text (byte {exc.start})") from None
    container: Container = request.app.state.container
    report = await run_in_threadpool(
        lambda: container.imports.import_contacts(
            workspace_id,
            io.StringIO(text, newline=""),
            mapping=parse_options(map, "map"),
            types=parse_options(type, "type"),
            list_id=list_id,
            list_field="list",
        )
    )
    return ImportReportOut(
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        suppressed=report.suppressed,
        added_to_list=report.added_to_list,
        errors=[RowErrorOut(row=e.row, column=e.column, reason=e.reason) for e in report.errors],
    )
