"""Shared terminal output: one console for results, one for messages and errors."""

from __future__ import annotations

__all__ = ["STATUS_STYLE", "WorkspaceOption", "err", "out", "report_error"]

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from p2c._errors import InputError, P2CError

# Wide when piped or captured, so that tables keep their rows on one line in logs (the
# history's rows, with the run's times and a task's long name, are some 230 characters).
_LOG_WIDTH = 300
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _LOG_WIDTH)
err = Console(
    stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else _LOG_WIDTH
)

# The colour of each run and task status.
STATUS_STYLE = {
    "Running": "cyan",
    "Completed": "green",
    "Warning": "yellow",
    "Error": "red",
    "Skipped": "red",
    "Cancelled": "magenta",
}

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $P2C_WORKSPACE or .).",
        show_default=False,
    ),
]


def report_error(error: P2CError) -> None:
    """Print an error with every problem it lists, each with record, field and fix."""
    err.print(f"[bold red]error:[/] {escape(error.message)}")
    problems = error.problems if isinstance(error, InputError) else []
    for problem in problems:
        err.print(f"  - {escape(_problem_text(problem))}")
    if error.fix and not problems:
        err.print(f"  [bold]fix:[/] {escape(error.fix)}")
    if error.record and not problems:
        err.print(
            f"  record: {escape(error.record)}"
            + (f", field: {escape(error.field)}" if error.field else "")
        )


def _problem_text(problem: P2CError) -> str:
    """``contacts[1], field fristname: <message> (fix: <fix>)``.

    Not ``str(problem)``: messages carry no final full stop, so the fix would run on.
    """
    where = ", ".join(
        part
        for part in (problem.record or "", f"field {problem.field}" if problem.field else "")
        if part
    )
    text = f"{where}: {problem.message}" if where else problem.message
    return f"{text} (fix: {problem.fix})" if problem.fix else text
