"""``p2c sandbox …`` and ``p2c sales …``: load, export, upgrade."""

from __future__ import annotations

__all__ = ["sales_app", "sandbox_app"]

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from p2c._errors import InputError, NotFoundError
from p2c.cli._render import WorkspaceOption, out
from p2c.connectors import upgrade_sales
from p2c.dynamics import SALES
from p2c.workspace import Workspace

sandbox_app = typer.Typer(
    help="The local sandbox of Sales, Finance and Operations and CDS.", no_args_is_help=True
)
sales_app = typer.Typer(
    help="Dynamics 365 Sales: the Prospect-to-cash solution.", no_args_is_help=True
)


def read_load_file(path: Path) -> dict[str, Any]:
    """The JSON load document, or an InputError naming line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} cannot be read as UTF-8 text: {exc}.") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path} line {exc.lineno} column {exc.colno}: {exc.msg}; "
            "the file is not valid JSON. Nothing was loaded."
        ) from None
    if not isinstance(document, dict):
        raise InputError(
            f"{path}: expected a JSON object such as "
            '{"accounts": [...], "contacts": [...]}. Nothing was loaded.'
        )
    return document


@sandbox_app.command("load")
def load(
    system: Annotated[str, typer.Argument(help="The system to load: sales.")],
    file: Annotated[Path, typer.Argument(help='JSON: {"accounts": [...], "contacts": [...], ...}')],
    workspace: WorkspaceOption = None,
) -> None:
    """Create records in the sandbox through its business rules, all or nothing."""
    if system != "sales":
        raise NotFoundError(
            f"Cannot load into {system!r}.",
            fix="load into `sales`; F&O and CDS are filled by the integration",
        )
    document = read_load_file(file)
    sales = Workspace.open(workspace).sales()
    counts = sales.load(document)
    out.print("Loaded " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ".")


@sandbox_app.command("export")
def export(
    env: Annotated[str, typer.Argument(help="sales, finops or cds")],
    entity: Annotated[str, typer.Argument(help="Entity set, e.g. contacts or CustomersV2")],
    workspace: WorkspaceOption = None,
) -> None:
    """Print every record of an entity as a JSON array."""
    ws = Workspace.open(workspace)
    if env not in ("sales", "finops", "cds"):
        raise NotFoundError(f"Unknown environment {env!r}.", fix="use sales, finops or cds")
    system = ws.sales() if env == "sales" else ws.finops() if env == "finops" else ws.cds()
    records = system.export(entity)
    write = sys.stdout.write
    write("[")
    for index, record in enumerate(records):
        write(("\n  " if index == 0 else ",\n  ") + json.dumps(record, ensure_ascii=False))
    write("\n]\n")


@sandbox_app.command("track-changes")
def track_changes(
    entities: Annotated[
        list[str], typer.Argument(help="Sales entity sets or logical names, e.g. contacts")
    ],
    off: Annotated[bool, typer.Option("--off", help="Stop tracking changes.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Turn Dataverse change tracking on (or off) for sandbox Sales tables, as the table
    option "Track changes" does: runs then read only what changed, by delta token."""
    sales = Workspace.open(workspace).sales()
    try:
        for name in entities:
            sales.changes.enable(SALES.entity(name), on=not off)
    finally:
        sales.close()
    state = "off" if off else "on"
    out.print(f"Change tracking is {state} for {', '.join(entities)}.")


@sales_app.command("upgrade")
def upgrade(
    workspace: WorkspaceOption = None,
    connection_set: Annotated[
        str, typer.Option("--connection-set", "-c", help="Whose Sales: sandbox or Dataverse.")
    ] = "sandbox",
) -> None:
    """Run the Prospect-to-cash upgrade script: numbers and flags for existing data."""
    ws = Workspace.open(workspace)
    report = upgrade_sales(ws.connection(connection_set, "sales"), ws.root, connection_set)
    if report.solution_installed:
        out.print("Installed the Prospect-to-cash solution (number sequences CON and ACC).")
    out.print(f"Contact numbers assigned: {report.contact_numbers}")
    out.print(f"Account numbers assigned: {report.account_numbers}")
    out.print(f"Contacts marked Is Active Customer: {report.active_customers}")
    out.print(f"Contacts whose Is Company An Account changed: {report.company_flags}")
    if not report.changed:
        out.print("Nothing to change: Sales is up to date.")
