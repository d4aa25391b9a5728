"""The ``p2c`` app: its commands wired together, and the entry point that turns errors into
messages and exit statuses."""

from __future__ import annotations

__all__ = ["app", "main"]

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from p2c import __version__
from p2c._errors import ExitCode, P2CError
from p2c.cli._connections import connections_app
from p2c.cli._emulator import emulator
from p2c.cli._faults import machine_fault
from p2c.cli._history import register_history
from p2c.cli._next import try_next
from p2c.cli._render import err, out, report_error
from p2c.cli._run import register, run_and_render
from p2c.cli._sandbox import sales_app, sandbox_app
from p2c.cli._serve import register as register_service
from p2c.cli._update import register_update
from p2c.cli._users import users_app
from p2c.cli._workers import register_worker
from p2c.sandbox import sample_document
from p2c.workspace import init_workspace

app = typer.Typer(
    name="p2c",
    help="Prospect-to-cash for Dynamics 365: contacts from Sales to Finance and Operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(sales_app, name="sales")
app.add_typer(connections_app, name="connections")
register(app)
register_history(app)
app.command()(emulator)
register_service(app)
app.add_typer(users_app, name="users")
register_worker(app)
register_update(sandbox_app)


def _show_version(show: bool) -> None:
    if show:
        out.print(f"p2c {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Prospect-to-cash for Dynamics 365: contacts from Sales to Finance and Operations."""


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder of the new workspace.")],
    via_cds: Annotated[
        bool, typer.Option("--via-cds", help="The older generation, through the CDS hub.")
    ] = False,
    no_p2c: Annotated[
        bool, typer.Option("--no-p2c", help="Sales starts without the Prospect-to-cash solution.")
    ] = False,
) -> None:
    """Create a workspace with sandbox Sales and F&O, and one project per built-in template."""
    ws = init_workspace(directory, via_cds=via_cds, with_p2c=not no_p2c)
    out.print(f"Created workspace {ws.root} ({ws.config.generation}).")
    for project in ws.config.projects:
        out.print(f"  project: {project.name}")
    if no_p2c:
        out.print("Sales has no Prospect-to-cash solution yet: run `p2c sales upgrade` to add it.")


@app.command()
def quickstart(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo workspace.")] = Path(
        "p2c-quickstart"
    ),
    contacts: Annotated[
        int,
        typer.Option(help="How many sample contacts (at most 1,000,000).", min=0, max=1_000_000),
    ] = 40,
) -> None:
    """The main job on the sandbox: sample data, the upgrade script, every project run."""
    # Sales starts without the solution, as a Sales with history would, so the upgrade
    # script has contacts to number and customers to flag.
    ws = init_workspace(directory, with_p2c=False)
    sales = ws.sales()
    counts = sales.load(sample_document(contacts))
    out.print(f"Workspace {ws.root}: loaded " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    report = sales.upgrade()
    out.print(
        f"Upgrade script: {report.contact_numbers} contact numbers, {report.account_numbers} "
        f"account numbers, {report.active_customers} active customers."
    )
    code = run_and_render(ws, None) or 0
    if code >= 128:  # interrupted: what to try next can wait
        sys.exit(code)
    try_next(directory)
    sys.exit(code)


def main() -> None:
    """Entry point: run the app and turn every p2c error into a message and exit status."""
    try:
        # Not standalone: typer then *returns* an exit status instead of exiting, e.g. 130
        # for a KeyboardInterrupt it caught.
        code = app(standalone_mode=False)
    except P2CError as error:
        report_error(error)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("Interrupted.")
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except TyperException as usage:  # bad command line: typer prints its own usage message
        show = getattr(usage, "show", None)
        if show is not None:
            show()
        sys.exit(ExitCode.USAGE)
    except Exception as error:  # the last line of defence: never a bare traceback
        if os.environ.get("P2C_DEBUG"):
            raise
        fault = machine_fault(error)  # a full disk, a read-only folder: not a bug of p2c
        if fault is not None:
            report_error(fault)
            sys.exit(fault.exit_code)
        err.print(f"[bold red]internal error:[/] {type(error).__name__}: {error}")
        err.print("  Please report this; rerun with P2C_DEBUG=1 for the traceback.")
        sys.exit(ExitCode.INTERNAL)
    if isinstance(code, int) and code:
        if code == 130:
            err.print("Interrupted.")
        sys.exit(code)
