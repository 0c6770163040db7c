"""`nurture`: serve, migrate, workspaces, keys, imports."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column, Table

from nurture.cli.bounces import bounces_app
from nurture.cli.common import JsonOption, WorkspaceOption, err, out, print_json, session
from nurture.domain.csv_import import parse_options
from nurture.domain.keys import KeyKind
from nurture.logs import configure
from nurture.settings import Settings

app = typer.Typer(help="nurture: self-hosted marketing automation.", no_args_is_help=True)
workspace_app = typer.Typer(help="Create and list workspaces.", no_args_is_help=True)
keys_app = typer.Typer(help="Issue, list and revoke API keys.", no_args_is_help=True)
import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(bounces_app, name="bounces")


def _id_column() -> Column:
    """Ids are what users copy into the next command: a narrow terminal must never cut them short."""
    return Column("id", no_wrap=True, min_width=26)


@app.command()
def migrate() -> None:
    """Apply database migrations (also done by `serve`)."""
    with session():
        err.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (NURTURE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (NURTURE_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="HTTP processes (NURTURE_WEB_CONCURRENCY).")] = None,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker", help="Run the background worker in-process (NURTURE_EMBEDDED_WORKER)."
        ),
    ] = None,
) -> None:
    """Run the HTTP server: tracking API, admin API, health and metrics (and, by default, the worker)."""
    if worker is not None:
        os.environ["NURTURE_EMBEDDED_WORKER"] = "true" if worker else "false"  # read by the app factory
    settings = Settings()
    configure(settings.log_level, settings.log_json)
    with session() as container:
        seeded = container.workspaces.ensure_example() if settings.seed_example else None
    if seeded is not None:
        print(
            f"Created workspace {seeded.name} ({seeded.id})\n"
            f"  write key:  {seeded.write_key}  (HTTP Basic user name for /v1/* tracking calls)\n"
            f"  secret key: {seeded.secret_key}  (Bearer token for /api/v1/*; shown only now)",
            file=sys.stderr,
            flush=True,
        )
    processes = workers or settings.web_concurrency
    with _metrics_directory(processes):
        uvicorn.run(
            "nurture.api.app:create_app_from_env",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=processes,
            log_config=None,
            access_log=False,
            server_header=False,
        )


@contextmanager
def _metrics_directory(processes: int) -> Iterator[None]:
    """With several HTTP processes, each writes its Prometheus figures to files in one fresh
    directory (prometheus_client's multiprocess mode), so /metrics answers for the whole server."""
    if processes < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="nurture-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


@app.command("worker")
def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Process what is due now, then exit.")] = False,
) -> None:
    """Run the background worker (live segment membership) until stopped; run as many as you like
    against one PostgreSQL."""
    settings = Settings()
    configure(settings.log_level, settings.log_json)
    with session() as container:
        if once:
            stats = container.audience.run_once()
            err.print(
                f"{stats.changes} changes, {stats.timers} timers, {stats.recomputed} recomputed: "
                f"{stats.entered} entered, {stats.exited} left"
            )
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: container.audience.request_stop())
        container.audience.run_forever()


@workspace_app.command("create")
def workspace_create(name: str, as_json: JsonOption = False) -> None:
    """Create a workspace; prints its write key and secret key once."""
    with session() as container:
        created = container.workspaces.create(name)
    if as_json:
        print_json(
            {
                "id": created.id,
                "name": created.name,
                "write_key": created.write_key,
                "secret_key": created.secret_key,
            }
        )
    else:
        out.print(
            f"workspace {created.id} ({created.name})\nwrite key:  {created.write_key}\n"
            f"secret key: {created.secret_key}",
            markup=False,
        )


@workspace_app.command("list")
def workspace_list(as_json: JsonOption = False) -> None:
    """List workspaces."""
    with session() as container:
        found = container.workspaces.list()
    if as_json:
        print_json([{"id": w.id, "name": w.name, "created_at": w.created_at.isoformat()} for w in found])
        return
    table = Table(_id_column(), "name", "created")
    for w in found:
        table.add_row(w.id, escape(w.name), w.created_at.isoformat(timespec="seconds"))
    out.print(table)


@keys_app.command("create")
def keys_create(
    kind: Annotated[KeyKind, typer.Option("--kind", help="write (ingest only) or secret (admin API).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a new key; it is printed once and stored only hashed."""
    with session() as container:
        issued = container.workspaces.issue_key(container.workspaces.resolve(workspace), kind)
    if as_json:
        print_json(
            {
                "id": issued.id,
                "workspace_id": issued.workspace_id,
                "kind": issued.kind.value,
                "key": issued.key,
            }
        )
    else:
        out.print(f"{issued.kind.value} key {issued.id}: {issued.key}")


@keys_app.command("list")
def keys_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List a workspace's keys (their first characters only)."""
    with session() as container:
        found = container.workspaces.list_keys(container.workspaces.resolve(workspace))
    rows = [
        {
            "id": k.id,
            "kind": k.kind,
            "prefix": k.prefix,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in found
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(_id_column(), "kind", "starts with", "created", "revoked")
    for r in rows:
        table.add_row(r["id"], r["kind"], r["prefix"] + "…", r["created_at"], r["revoked_at"] or "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, workspace: WorkspaceOption = None) -> None:
    """Revoke a key by id; requests with it fail from then on."""
    with session() as container:
        container.workspaces.revoke_key(container.workspaces.resolve(workspace), key_id)
    err.print(f"revoked {key_id}")


@import_app.command("contacts")
def import_contacts(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV with a header row.")
    ],
    workspace: WorkspaceOption = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="COLUMN:FIELD (core field, user_id, attributes.NAME or - to skip); repeatable."
        ),
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option(
            "--type", help="COLUMN:TYPE (string, integer, number, boolean, date, datetime, json); repeatable."
        ),
    ] = None,
    list_id: Annotated[
        str | None, typer.Option("--list", help="Id of a static list the imported contacts join.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Upsert contacts by user_id or email. Bad rows are reported by line and column and skipped."""
    with session() as container:
        workspace_id = container.workspaces.resolve(workspace)
        with (
            file.open(encoding="utf-8-sig", newline="") as handle,
            Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
                disable=as_json or not err.is_terminal,
            ) as bar,
        ):
            task = bar.add_task("rows", total=None)
            report = container.imports.import_contacts(
                workspace_id,
                handle,
                mapping=parse_options(map_ or [], "--map"),
                types=parse_options(type_ or [], "--type"),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                list_id=list_id,
                list_field="--list",
            )
    if as_json:
        print_json(
            {
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "suppressed": report.suppressed,
                "added_to_list": report.added_to_list,
                "errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in report.errors],
            }
        )
    else:
        out.print(
            f"{report.rows} rows: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.errors)} with errors"
            + (f", {report.suppressed} on the suppression list" if report.suppressed else "")
            + (f", {report.added_to_list} added to the list" if list_id else "")
        )
        for e in report.errors:
            out.print(
                f"  line {e.row}" + (f", column {e.column!r}" if e.column else "") + f": {e.reason}",
                markup=False,
            )
    if report.errors:
        raise typer.Exit(3)


if __name__ == "__main__":
    app()
