"""``p2c connections test``: sign in to each connection and read once."""

from __future__ import annotations

__all__ = ["connections_app"]

import sys
from typing import Annotated

import typer
from rich.markup import escape

from p2c._errors import ExitCode
from p2c.cli._render import WorkspaceOption, err, out
from p2c.config import check_organizations
from p2c.connectors import check_connection
from p2c.workspace import Workspace

connections_app = typer.Typer(
    help="The connections of p2c.yaml to Sales, Finance and Operations and CDS.",
    no_args_is_help=True,
)


@connections_app.command("test")
def test(
    connection_set: Annotated[
        str | None,
        typer.Option("--connection-set", "-c", help="Check only this connection set."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Check each connection: sign in, then one cheap read. Exit 5 when one fails; exit 2
    when a business unit or legal entity of the organization mappings does not exist."""
    ws = Workspace.open(workspace)
    names = [connection_set] if connection_set else list(ws.config.connection_sets)
    failed = 0
    for name in names:
        connections = ws.connection_set(name)
        for system in ("sales", "finops", "cds"):
            connection = getattr(connections, system)
            if connection is None:
                continue
            check = check_connection(connection, system, ws.root, name)
            if check.ok:
                out.print(f"[green]ok[/]     {escape(check.label)}: {escape(check.message)}")
                continue
            failed += 1
            err.print(f"[red]failed[/] {escape(check.label)}: {escape(check.message)}")
            if check.fix:
                err.print(f"       [bold]fix:[/] {escape(check.fix)}")
    if failed:
        err.print(f"{failed} connection(s) failed.")
        sys.exit(ExitCode.CONNECTION)
    # Exit 2 naming the line when a business unit or legal entity does not exist.
    check_organizations(ws, names)
    out.print("[green]found[/]  every business unit and legal entity of the organization mappings")
