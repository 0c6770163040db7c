"""`nurture bounces`: classify bounce and complaint reports, and apply them to a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from nurture.cli.console import JsonOption, WorkspaceOption, container_for_cli, err, out, print_json
from nurture.domain.bounces import Recipient, classify_report

bounces_app = typer.Typer(help="Read bounce and complaint reports (DSN, ARF).", no_args_is_help=True)

FilesArgument = Annotated[list[Path], typer.Argument(help="Report files (.eml), as received.")]


def _read(files: list[Path]) -> list[tuple[Path, bytes]]:
    """Every file's bytes, or one line naming each file that cannot be read and exit status 1."""
    read, failed = [], False
    for path in files:
        try:
            read.append((path, path.read_bytes()))
        except OSError as exc:
            err.print(
                f"[red]error:[/red] {escape(str(path))}: {escape(exc.strerror or str(exc))}", soft_wrap=True
            )
            failed = True
    if failed:
        raise typer.Exit(1)
    return read


def _recipient_json(recipient: Recipient) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "address": recipient.address,
        "status": recipient.status,
        "reply_code": recipient.reply_code,
        "kind": recipient.kind.value,
        "reason": recipient.reason,
    }
    if recipient.feedback_type is not None:
        shown["feedback_type"] = recipient.feedback_type
    shown["diagnostic"] = recipient.diagnostic
    return shown


@bounces_app.command("classify")
def classify(files: FilesArgument, as_json: JsonOption = False) -> None:
    """Print what each report says about each recipient. Reads the files only; changes no data."""
    results = [(path, classify_report(data)) for path, data in _read(files)]
    if as_json:
        print_json(
            [
                {"file": path.name, "recipients": [_recipient_json(r) for r in recipients]}
                for path, recipients in results
            ]
        )
        return
    # file names and addresses are what users copy: a narrow terminal wraps the reasons, not them
    widest = max((len(r.address or "") for _, rs in results for r in rs), default=1)
    table = Table(
        Column("file", no_wrap=True, min_width=max((len(p.name) for p, _ in results), default=4)),
        Column("address", no_wrap=True, min_width=widest),
        "kind",
        "status",
        "reply",
        "reason",
    )
    for path, recipients in results:
        for recipient in recipients:
            reason = recipient.reason + (f" ({recipient.feedback_type})" if recipient.feedback_type else "")
            table.add_row(
                escape(path.name),
                escape(recipient.address or "-"),
                recipient.kind.value,
                recipient.status or "",
                recipient.reply_code or "",
                escape(reason),
            )
    out.print(table)


@bounces_app.command("ingest")
def ingest(files: FilesArgument, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Apply bounce (DSN) and complaint (ARF) mails to the sends they name: message events,
    suppressions and activities, one transaction per file."""
    read = _read(files)
    results = []
    with container_for_cli() as container:
        workspace_id = container.workspaces.resolve(workspace)
        for path, data in read:
            applied = container.deliveries.ingest_report(workspace_id, data, field_name=str(path))
            results.append({"file": path.name, **applied.as_json()})
    if as_json:
        print_json(results)
        return
    for result in results:
        unknown = len(result["unknown_send_ids"]) + result["without_send_id"]
        out.print(
            f"{escape(result['file'])}: {result['recorded']} recorded, {result['suppressed']} suppressed, "
            f"{result['duplicates']} already recorded, {unknown} about mail nurture did not send"
        )
