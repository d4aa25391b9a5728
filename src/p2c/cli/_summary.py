"""What ``p2c run`` and ``retry`` print when the run is over: a summary per task, laid out
for the terminal's width, or with ``--json`` one JSON document (docs/operations.md, "For
scripts and monitoring")."""

from __future__ import annotations

__all__ = ["render_run", "run_document"]

from typing import Any

from rich.console import Console
from rich.markup import escape

from p2c.cli._layout import Grid
from p2c.cli._render import (
    COUNT_COLUMNS,
    STATUS_COLUMN,
    STATUS_STYLE,
    err,
    out,
    print_lines,
    print_wrapped,
    task_rows,
)
from p2c.engine import RunResult, StateStore, TaskCounts
from p2c.workspace import Workspace


def counts_document(c: TaskCounts) -> dict[str, int]:
    return {
        "read": c.read,
        "created": c.created,
        "updated": c.updated,
        "unchanged": c.unchanged,
        "skipped": c.skipped,
        "failed": c.failed,
    }


def count_cells(c: TaskCounts) -> list[str]:
    return [f"{n:,}" for n in counts_document(c).values()]


def run_document(
    result: RunResult, exit_code: int, connection_set: str | None = None
) -> dict[str, Any]:
    """``p2c run --json``: the run, its status and exit status, and each task leg."""
    return {
        "run_id": result.run_id or None,
        "status": None if result.dry_run else str(result.status),
        "dry_run": result.dry_run,
        "connection_set": connection_set,
        "cancelled": result.cancelled,
        "written": result.written,
        "left": result.left,
        "exit_code": exit_code,
        "tasks": [
            {
                "project": t.project,
                "task": t.task,
                "leg": t.leg,
                "status": t.status,
                "counts": counts_document(t.counts),
                "message": t.message,
                "examples": list(t.examples),
            }
            for t in result.tasks
        ],
    }


def _interrupted(result: RunResult) -> str:
    if result.dry_run:
        return "Interrupted: the dry run stopped before its end; nothing was written."
    if not result.run_id:
        return "Interrupted before the run started: nothing written."
    left = "the rest"  # unknown: a run reads what changed as it goes
    if result.left is not None:
        left = f"{result.left:,}" if result.left else "nothing"
    return f"Interrupted: {result.written:,} written, {left} left for the next run."


def _summary_grid(result: RunResult) -> Grid:
    grid = Grid("project / task", (STATUS_COLUMN, *COUNT_COLUMNS))
    task_rows(
        grid, ((t.project, t.task, t.leg, t.status, count_cells(t.counts)) for t in result.tasks)
    )
    return grid


def render_run(result: RunResult, ws: Workspace | None = None, *, json: bool = False) -> None:
    """The summary per task and what to do next; with ``json`` only the advice, on stderr
    (the caller prints the document)."""
    say = err if json else out
    width = say.width
    if not json and (result.tasks or result.run_id or result.dry_run):
        if result.dry_run:
            out.print("[bold]Dry run: nothing was written[/]")
        else:
            style = STATUS_STYLE.get(result.status, "white")
            out.print(f"[bold]Run {result.run_id}:[/] [{style}]{result.status}[/]")
        if result.tasks:
            print_lines(_summary_grid(result).lines(width))
    for t in result.tasks:
        if t.message:
            err.print(f"[bold]{escape(t.project)} / {escape(t.task)}:[/] {escape(t.message)}")
        if json:
            continue
        for example in t.examples:
            # One line each, whole (the terminal wraps it): a line to grep for a key.
            out.print(f"  {escape(t.project)} / {escape(t.task)}: would {escape(example)}")
    if result.cancelled is not None:
        err.print(f"[bold yellow]{escape(_interrupted(result))}[/]")
    if result.dry_run:
        return
    if any(t.counts.failed for t in result.tasks):
        print_wrapped(
            f"Some records failed: `p2c errors {result.run_id}` lists them with the field "
            "and the reason.",
            console=say,
        )
    if ws is not None:
        _render_queue_summary(ws, say)


def _render_queue_summary(ws: Workspace, say: Console) -> None:
    state = StateStore(ws.state_url())
    try:
        queued = state.queue()
    finally:
        state.close()
    if queued:
        retryable = sum(q.retryable for q in queued)
        print_wrapped(
            f"{len(queued)} failed record(s) wait in the error queue ({retryable} will be "
            "retried by the next run; the others need a fix first): `p2c errors`, then "
            "`p2c retry --all`.",
            console=say,
        )
