"""`nurture journeys validate|apply|list|enroll` and `nurture explain`: journeys as YAML or JSON files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from nurture.cli.console import (
    JsonOption,
    WorkspaceOption,
    container_for_cli,
    err,
    id_column,
    out,
    print_json,
)
from nurture.domain.errors import Invalid
from nurture.domain.journeys.durations import parse_duration
from nurture.domain.journeys.simulate import SimResult
from nurture.services.journeys.simulation import (
    result_json,
    simulate_history,
    simulate_stream,
    workspace_settings,
)

journeys_app = typer.Typer(
    help="Journeys as YAML or JSON files: validate, apply, list, enrol.", no_args_is_help=True
)
FileArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="YAML or JSON")
]


def _document(path: Path) -> Any:
    """The file's document; a YAML syntax error is reported with its line and column."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
        err.print(f"[red]error:[/red] {escape(str(path))}: {where}: {escape(str(exc.problem))}")
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        err.print(f"[red]error:[/red] {escape(str(path))}: not a YAML or JSON file ({escape(str(exc))})")
        raise typer.Exit(1) from None


@journeys_app.command("validate")
def validate(
    path: FileArgument,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Also check what it refers to in this workspace.")
    ] = None,
) -> None:
    """Check a journey file: structure, graph (one entry, no dangling edges, every node reachable,
    loops only through a wait) and, with --workspace, the templates, segments and lists it names."""
    document = _document(path)
    with container_for_cli() as container:
        ws = container.workspaces.resolve(workspace) if workspace else None
        try:
            journey = container.journeys.validate(ws, document)
        except Invalid as invalid:
            for error in invalid.errors:
                err.print(
                    f"[red]error:[/red] {escape(str(path))}: {escape(error.field)}: {escape(error.message)}"
                )
            raise typer.Exit(1) from None
    out.print(f"{escape(str(path))}: journey {escape(journey.name)!r} is valid ({len(journey.nodes)} nodes)")


def _migration(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            err.print(f"[red]error:[/red] --migrate {escape(pair)}: write OLD_NODE=NEW_NODE")
            raise typer.Exit(2)
        found[old] = new
    return found


@journeys_app.command("apply")
def apply(
    path: FileArgument,
    migrate: Annotated[
        list[str] | None,
        typer.Option("--migrate", help="OLD_NODE=NEW_NODE: waiting runs there move to the new version."),
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="Show where live runs would go; change nothing.")
    ] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the journey, or publish a new version of the one with its name (runs in flight stay on
    their version unless --migrate maps their node)."""
    document = _document(path)
    mapping = _migration(migrate or [])
    if preview:
        with container_for_cli() as container:
            moves = container.journeys.preview(container.workspaces.resolve(workspace), document, mapping)
        if as_json:
            print_json([m.__dict__ for m in moves])
            return
        for m in moves:
            where = f"move to {m.to}" if m.to else f"stay on version {m.version}"
            out.print(f"version {m.version} node {m.node}: {m.runs} live run(s) {where}")
        if not moves:
            out.print("no live runs")
        return
    with container_for_cli() as container:
        applied = container.journeys.apply(container.workspaces.resolve(workspace), document, mapping)
    row = applied.journey
    if as_json:
        print_json(
            {
                "id": row.id,
                "name": row.name,
                "version": row.version,
                "created": applied.created,
                "published": applied.published,
            }
        )
    elif applied.created:
        out.print(f"created journey {row.id} {escape(row.name)!r} (version 1)")
    elif applied.published:
        out.print(f"published version {row.version} of journey {row.id} {escape(row.name)!r}")
    else:
        out.print(f"journey {row.id} {escape(row.name)!r} unchanged (version {row.version})")


@journeys_app.command("list")
def list_journeys(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """The workspace's journeys with their status and current version."""
    with container_for_cli() as container:
        rows = container.journeys.list(container.workspaces.resolve(workspace))
    if as_json:
        print_json([{"id": r.id, "name": r.name, "status": r.status, "version": r.version} for r in rows])
        return
    table = Table(id_column(), "name", "status", "version")
    for r in rows:
        table.add_row(r.id, escape(r.name), r.status, str(r.version))
    out.print(table)


@journeys_app.command("enroll")
def enroll(
    journey: Annotated[str, typer.Argument(help="The journey's id or name.")],
    contact_ids: Annotated[list[str], typer.Argument(help="Contact ids.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Enrol contacts by hand (entry condition and re-entry policy apply)."""
    with container_for_cli() as container:
        queued = container.journeys.enroll(container.workspaces.resolve(workspace), journey, contact_ids)
    out.print(f"{queued} enrolment(s) queued")


def explain_command(
    contact_id: Annotated[str, typer.Argument(help="The contact's id.")],
    journey: Annotated[
        str | None, typer.Option("--journey", "-j", help="Only this journey (id or name).")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Why did this contact get this? Each journey run with the reason at every step."""
    with container_for_cli() as container:
        runs = container.journeys.explain(container.workspaces.resolve(workspace), contact_id, journey)
    if as_json:
        print_json(
            [
                {
                    "run_id": r.run_id,
                    "journey": r.journey,
                    "status": r.status,
                    "reason": r.reason,
                    "trace": [
                        {"at": t.at.isoformat(), "node": t.node, "action": t.action, "reason": t.reason}
                        for t in r.trace
                    ],
                }
                for r in runs
            ]
        )
        return
    if not runs:
        out.print("no journey runs for this contact")
    for run in runs:
        ended = escape(f", {run.reason}") if run.reason else ""
        title = f"[bold]{escape(run.journey)}[/bold] (run {run.run_id}, version {run.version})"
        out.print(f"{title}: {run.status}{ended}")
        for line in run.trace:
            node = f" {escape(line.node)}" if line.node else ""
            out.print(f"  {line.at:%Y-%m-%d %H:%M} UTC{node} {line.action}: {escape(line.reason)}")


def simulate_command(
    path: FileArgument,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", exists=True, dir_okay=False, help="Segment-format calls, one JSON per line."
        ),
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Replay the workspace's stored events since this date.")
    ] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="How long to run past the last event.")] = "30d",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a draft journey on a virtual clock, with no side effects: per contact the steps and the
    messages that would go out and when; for the population the funnel per node."""
    document = _document(path)
    if (events is None) == (since is None):
        err.print("[red]error:[/red] give either --events FILE.jsonl or --since DATE")
        raise typer.Exit(2)
    try:
        span = parse_duration(horizon)
    except ValueError as exc:
        err.print(f"[red]error:[/red] --horizon: {escape(str(exc))}")
        raise typer.Exit(2) from None
    with container_for_cli() as container:
        if events is not None:
            settings = (
                workspace_settings(container.db, container.workspaces.resolve(workspace))
                if workspace
                else None
            )
            with events.open("rb") as lines:
                result = simulate_stream(document, lines, span, settings)
        else:
            assert since is not None
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            ws = container.workspaces.resolve(workspace)
            result = simulate_history(container.db, ws, document, moment, span)
    if as_json:
        print_json(result_json(result))
        return
    _print_simulation(result)


def _print_simulation(result: SimResult) -> None:
    for contact in result.contacts.values():
        out.print(f"[bold]{escape(contact.key)}[/bold]: {len(contact.messages)} message(s)")
        for s in contact.steps:
            node = f" {escape(s.node)}" if s.node else ""
            out.print(f"  {s.at:%Y-%m-%d %H:%M} UTC{node} {s.action}: {escape(s.reason)}")
    table = Table("node", "runs reaching it")
    for node, count in result.funnel.items():
        table.add_row(escape(node), str(count))
    out.print(table)
    out.print(
        f"entered {result.entered}, completed {result.completed}, exited {result.exited}, "
        f"converted {result.converted}, failed {result.failed}, still waiting {result.still_waiting}"
    )
    if result.stopped:
        out.print("stopped by policies: " + ", ".join(f"{k}: {v}" for k, v in result.stopped.items()))
