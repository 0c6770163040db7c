"""`nurture`: serve, worker, migrate, workspaces, keys, imports, captured mail."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_string
from email.message import EmailMessage
from email.policy import default as email_policy
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from nurture.cli.bounces import bounces_app
from nurture.cli.console import (
    JsonOption,
    WorkspaceOption,
    container_for_cli,
    err,
    id_column,
    out,
    print_json,
)
from nurture.cli.journeys import explain_command, journeys_app, simulate_command
from nurture.domain.csv_import import parse_options
from nurture.domain.keys import KeyKind
from nurture.logs import configure
from nurture.services.audience_worker import WorkerStats
from nurture.services.dispatch import DispatchStats
from nurture.services.examples import load_examples
from nurture.services.webhook_worker import WebhookStats
from nurture.settings import EMBEDDED_LOCK, Settings

app = typer.Typer(help="nurture: self-hosted marketing automation.", no_args_is_help=True)
workspace_app = typer.Typer(help="Create and list workspaces.", no_args_is_help=True)
keys_app = typer.Typer(help="Issue, list and revoke API keys.", no_args_is_help=True)
import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
mail_app = typer.Typer(
    help="Read the mail captured while no SMTP server is configured (NURTURE_SMTP_URL unset).",
    no_args_is_help=True,
)
app.add_typer(workspace_app, name="workspace")
app.add_typer(keys_app, name="keys")
app.add_typer(journeys_app, name="journeys")
app.command("explain")(explain_command)
app.command("simulate")(simulate_command)
app.add_typer(import_app, name="import")
app.add_typer(mail_app, name="mail")
app.add_typer(bounces_app, name="bounces")


@app.callback()
def check_settings() -> None:
    """nurture: self-hosted marketing automation."""
    try:
        Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "NURTURE_" + "_".join(str(part) for part in error["loc"]).upper()
            err.print(f"[red]error:[/red] {name}={escape(str(error.get('input')))}: {escape(error['msg'])}")
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Apply database migrations (also done by `serve`)."""
    with container_for_cli():
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
    # the app factory reads them too: links in messages default to the address actually served
    if host is not None:
        os.environ["NURTURE_HOST"] = host
    if port is not None:
        os.environ["NURTURE_PORT"] = str(port)
    settings = Settings()
    configure(settings.log_level, settings.log_json)
    with container_for_cli() as container:
        seeded = container.workspaces.ensure_example() if settings.seed_example else None
        if seeded is not None and settings.example_journeys:
            c = container
            load_examples(seeded.id, c.templates, c.segments, c.scoring, c.journeys)
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
    directory (prometheus_client's multiprocess mode), so /metrics answers for the whole server; and
    only the process that takes the embedded-worker lock there runs the background workers."""
    if processes < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="nurture-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        # the embedded workers run in one of the processes: the one holding this lock (app.py)
        os.environ[EMBEDDED_LOCK] = str(Path(directory) / "embedded-worker.lock")
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            del os.environ[EMBEDDED_LOCK]


@app.command("worker")
def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Process what is due now, then exit.")] = False,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Run only these loops, comma-separated: audience, journeys, dispatch, webhook "
            "(default all), e.g. to scale journeys and dispatch separately.",
        ),
    ] = None,
) -> None:
    """Run the background workers (live segments and scores, journeys, message dispatch, webhook
    deliveries) until stopped; run as many as you like against one PostgreSQL."""
    settings = Settings()
    configure(settings.log_level, settings.log_json)
    if only is not None and once:
        raise typer.BadParameter(
            "--once runs every loop until all are idle; leave out --only", param_hint="--only"
        )
    with container_for_cli() as container:
        if once:
            stats, started, hooks, sent = WorkerStats(), 0, WebhookStats(), DispatchStats()
            while True:  # segment moves start journeys, journeys change contacts: until all are idle
                done = container.audience.run_once()
                runs = container.journey_worker.run_once()
                dispatched = container.dispatcher.run_once()
                posted = container.webhook_worker.run_once()
                sent.add(dispatched)
                stats.add(done)
                hooks.add(posted)
                started += runs.started
                if done.idle and runs.idle and dispatched.idle and posted.idle:
                    break
            err.print(
                f"{stats.changes} changes, {stats.timers} timers, {stats.recomputed} recomputed: "
                f"{stats.entered} entered, {stats.exited} left; {started} journey runs started; "
                f"messages: {sent.sent} sent, {sent.skipped} skipped, {sent.deferred} deferred, "
                f"{sent.retried} to retry, {sent.failed} failed; "
                f"webhooks: {hooks.delivered} delivered, {hooks.failed} to retry, {hooks.dead} dead"
            )
            return
        loops = container.background()
        if only is not None:
            names = {name.strip() for name in only.split(",") if name.strip()}
            unknown = sorted(names - {w.name for w in loops})
            if unknown or not names:
                known = ", ".join(w.name for w in loops)
                raise typer.BadParameter(
                    f"no loop named {', '.join(unknown) or '(none)'}; choose from {known}",
                    param_hint="--only",
                )
            loops = [w for w in loops if w.name in names]
        first, *others = loops
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: [w.request_stop() for w in loops])
        for worker in others:
            worker.start()
        first.run_forever()


@workspace_app.command("create")
def workspace_create(name: str, as_json: JsonOption = False) -> None:
    """Create a workspace; prints its write key and secret key once."""
    with container_for_cli() as container:
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
    with container_for_cli() as container:
        found = container.workspaces.list()
    if as_json:
        print_json([{"id": w.id, "name": w.name, "created_at": w.created_at.isoformat()} for w in found])
        return
    table = Table(id_column(), "name", "created")
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
    with container_for_cli() as container:
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
    with container_for_cli() as container:
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
    table = Table(id_column(), "kind", "starts with", "created", "revoked")
    for r in rows:
        table.add_row(r["id"], r["kind"], r["prefix"] + "…", r["created_at"], r["revoked_at"] or "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, workspace: WorkspaceOption = None) -> None:
    """Revoke a key by id; requests with it fail from then on."""
    with container_for_cli() as container:
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
    with container_for_cli() as container:
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


@mail_app.command("list")
def mail_list(
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Only this workspace's mail (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="How many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The latest captured messages, newest first."""
    with container_for_cli() as container:
        if workspace is not None:
            container.workspaces.resolve(workspace)
        found = container.mail.newest(workspace, limit)
    rows = [
        {
            "id": m.id,
            "workspace_id": m.workspace_id,
            "message_id": m.message_id,
            "captured_at": m.captured_at.isoformat(),
            "from": m.mail_from,
            "to": m.rcpt_to,
            "subject": m.subject,
        }
        for m in found
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(id_column(), "captured", "from", "to", "subject")
    for r in rows:
        table.add_row(
            r["id"], r["captured_at"][:19], escape(r["from"]), escape(r["to"]), escape(r["subject"] or "")
        )
    out.print(table)
    if not rows:
        err.print("no captured mail")


@mail_app.command("show")
def mail_show(
    mail_id: Annotated[str, typer.Argument(help="The id from `nurture mail list`, or the message id.")],
    workspace: Annotated[str | None, typer.Option("--workspace", "-w", help="Workspace id.")] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="The message exactly as it would have been sent.")
    ] = False,
) -> None:
    """A captured message: its headers and text part (or, with --raw, every byte of it)."""
    with container_for_cli() as container:
        found = container.mail.get(workspace, mail_id)
    if raw or found.mail_from == "sms":
        sys.stdout.write(found.raw if raw else f"SMS to {found.rcpt_to}\n\n{found.raw}\n")
        return
    parsed = message_from_string(found.raw, policy=email_policy)
    lines = [
        f"{name}: {parsed[name]}" for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID")
    ]
    lines += [f"{name}: {value}" for name, value in parsed.items() if name.startswith("List-")]
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    body = text.get_content() if isinstance(text, EmailMessage) else ""
    parts = "text" + (" and HTML" if html is not None else "")
    sys.stdout.write("\n".join(line for line in lines if not line.endswith(": None")))
    sys.stdout.write(f"\n\n{body.rstrip()}\n\n({parts}; --raw shows the whole message)\n")


if __name__ == "__main__":
    app()
