"""Shared terminal output: one console for results, one for messages and errors, both as
wide as the person's terminal.

Width: ``COLUMNS`` when set, else the terminal's (of stdout, stderr or stdin, so that
``p2c history | less`` fits the screen), else 100 for a log or a pipe. It is asked at each
print, so a ``COLUMNS`` set later counts too. ``--json`` output does not go through these.
"""

from __future__ import annotations

__all__ = [
    "COUNTS",
    "COUNT_COLUMNS",
    "PIPE_WIDTH",
    "STATUS_COLUMN",
    "STATUS_STYLE",
    "JsonOption",
    "WorkspaceOption",
    "err",
    "layout_width",
    "out",
    "print_json",
    "print_lines",
    "print_wrapped",
    "report_error",
    "status_cell",
    "task_label",
    "task_rows",
]

import json
import os
import sys
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.text import Text

from p2c._errors import InputError, P2CError
from p2c.cli._layout import Cell, Column, Grid, wrap

PIPE_WIDTH = 100
"""The width of tables when neither COLUMNS nor a terminal says it."""


def layout_width() -> int:
    """``COLUMNS`` when set, else the terminal's width, else ``PIPE_WIDTH``."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for descriptor in (1, 2, 0):
        try:
            width = os.get_terminal_size(descriptor).columns
        except (OSError, ValueError):
            continue
        if width > 0:
            return width
    return PIPE_WIDTH


class _FittedConsole(Console):
    """A console whose width is ``layout_width()`` at each print, unless one was set."""

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if self._width is not None:
            return dimensions
        return ConsoleDimensions(layout_width(), dimensions.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


# soft_wrap: messages are not cut into lines by rich (the terminal wraps them; a log keeps
# them whole); tables are laid out for the width by ``_layout``.
out = _FittedConsole(highlight=False, soft_wrap=True)
err = _FittedConsole(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """``--json``: one JSON document on stdout, nothing else there."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


# The colour of each run and task status.
STATUS_STYLE = {
    "Running": "cyan",
    "Completed": "green",
    "Warning": "yellow",
    "Error": "red",
    "Skipped": "red",
    "Cancelled": "magenta",
}

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON on stdout (messages: stderr).")
]
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


# Tables of runs ------------------------------------------------------------------------------

COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")
# The short headers are used only when a table would not fit otherwise.
COUNT_COLUMNS = tuple(
    Column(name, right=True, short=short)
    for name, short in zip(COUNTS, ("read", "new", "upd", "same", "skip", "fail"), strict=True)
)
STATUS_COLUMN = Column("status")


def status_cell(status: str) -> Cell:
    return Cell(status, STATUS_STYLE.get(status, "white"))


def task_label(task: str, leg: str) -> str:
    """A task leg as tables name it: ``Contacts / Source > CDS``; a leg that is the task's
    whole way (``Source > Destination``, the direct templates' only leg) is not named."""
    return task if leg in ("", "Source > Destination") else f"{task} / {leg}"


def task_rows(grid: Grid, legs: Iterable[tuple[str, str, str, str, list[str]]]) -> None:
    """Task legs ``(project, task, leg, status, counts)`` in ``grid``, under their project:
    a task on one row when its leg is its whole way, else under its own heading, a row per
    leg."""
    for project, of_project in groupby(legs, key=lambda leg: leg[0]):
        grid.heading(project)
        for task, of_task in groupby(of_project, key=lambda leg: leg[1]):
            rows = list(of_task)
            if len(rows) == 1 and task_label(task, rows[0][2]) == task:
                _, _, _, status, counts = rows[0]
                grid.row(task, status_cell(status), *counts, indent=2)
                continue
            grid.heading(task, 2, style="")
            for _, _, leg, status, counts in rows:
                grid.row(leg or "(leg)", status_cell(status), *counts, indent=2)


def print_lines(lines: list[Text], console: Console = out) -> None:
    for line in lines:
        console.print(line)


def print_wrapped(text: str, style: str = "", indent: int = 0, console: Console = out) -> None:
    """Plain text wrapped to the console's width (words kept whole)."""
    for line in wrap(text, console.width, indent, 2):
        console.print(Text(line, style=style))
