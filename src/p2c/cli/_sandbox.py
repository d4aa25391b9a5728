"""``p2c sandbox …`` and ``p2c sales …``: load, export, upgrade."""

from __future__ import annotations

__all__ = ["sales_app", "sandbox_app"]

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from p2c._errors import InputError, NotFoundError, P2CError
from p2c._strictjson import JsonProblem, decode, find_lone_surrogate, loads, printable, read_limited
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


LOAD_LIMIT = 256 << 20
"""The largest load file read, in bytes (256 MiB): an endless stream ends with an error."""


def read_load_file(path: Path) -> dict[str, Any]:
    """The JSON load document (``-``: standard input), or an InputError saying where and
    why it cannot be read. UTF-8 with or without a BOM, UTF-16 and UTF-32 are read."""
    name = "standard input" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            data = read_limited(sys.stdin.buffer, LOAD_LIMIT, name)
        else:
            with path.open("rb") as stream:
                data = read_limited(stream, LOAD_LIMIT, name)
        text = decode(data, name)
        document = loads(text, name, allow_nan=True)  # NaN: named with its field later
    except FileNotFoundError:
        raise InputError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a JSON file.") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc.strerror or exc}.") from None
    except JsonProblem as exc:
        raise InputError(f"{exc}. Nothing was loaded.") from None
    if not isinstance(document, dict):
        raise InputError(
            f"{name}: expected a JSON object such as "
            '{"accounts": [...], "contacts": [...]}. Nothing was loaded.'
        )
    _refuse_lone_surrogates(text, document, name)
    return document


def _refuse_lone_surrogates(text: str, document: dict[str, Any], name: str) -> None:
    path = find_lone_surrogate(text, document)
    if path is None:
        return
    parts = [printable(p) if isinstance(p, str) else p for p in path]
    if len(parts) >= 3 and isinstance(parts[1], int):
        record, field = f"{parts[0]}[{parts[1]}]", str(parts[2])
    else:
        record, field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts), ""
        record = record.lstrip(".")
    problem = P2CError(
        "the text holds half of a UTF-16 surrogate pair (a \\ud800-\\udfff escape without "
        "its partner), which no system stores",
        record=record,
        field=field or None,
        fix="give both halves of the pair, or remove the escape",
    )
    raise InputError(f"{name}: 1 problem; nothing was loaded.", [problem])


@sandbox_app.command("load")
def load(
    system: Annotated[str, typer.Argument(help="The system to load: sales.")],
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON: {"accounts": [...], "contacts": [...], ...}; - reads standard input. '
            "UTF-8 (with or without BOM) or UTF-16, at most 256 MiB."
        ),
    ],
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
