"""What every `nurture` command shares: consoles, common options, JSON output, and a migrated
container whose user errors become one clear line on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column

from nurture.bootstrap import Container, build
from nurture.domain.errors import Invalid, NurtureError

err = Console(stderr=True, soft_wrap=True)  # a line naming a file, row or field is never broken
out = Console()
WorkspaceOption = Annotated[
    str | None, typer.Option("--workspace", "-w", help="Workspace id (default: the only workspace).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def id_column() -> Column:
    """Ids are what users copy into the next command: a narrow terminal must never cut them short."""
    return Column("id", no_wrap=True, min_width=26)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@contextmanager
def container_for_cli() -> Iterator[Container]:
    """A migrated container; user errors become one clear line on stderr and exit status 1."""
    container = build()
    try:
        container.migrate()
        yield container
    except Invalid as exc:
        for error in exc.errors:
            # user text (column names, values) may contain [brackets]: never read it as markup
            err.print(
                f"[red]error:[/red] {escape(error.field)}: {escape(error.message)}"
                if error.field
                else f"error: {escape(error.message)}"
            )
        raise typer.Exit(1) from None
    except NurtureError as exc:
        err.print(f"[red]error:[/red] {escape(exc.detail)}")
        raise typer.Exit(1) from None
    finally:
        container.close()
