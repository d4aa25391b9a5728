"""``p2c history`` and ``errors``: what ran and what failed, laid out for the terminal's
width, or as JSON with ``--json`` (shapes in docs/operations.md)."""

from __future__ import annotations

__all__ = ["register_history"]

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.text import Text

from p2c._errors import NotFoundError, P2CError
from p2c.cli._layout import Grid, key_lines, wrap
from p2c.cli._numbers import RUN_ID_MAX
from p2c.cli._projects import register_projects
from p2c.cli._render import (
    COUNT_COLUMNS,
    COUNTS,
    STATUS_COLUMN,
    STATUS_STYLE,
    JsonOption,
    WorkspaceOption,
    out,
    print_json,
    print_lines,
    print_wrapped,
    task_label,
    task_rows,
)
from p2c.config import record_fix
from p2c.engine import QueuedRecord, StateStore, record_label
from p2c.templates import Template
from p2c.workspace import Workspace

WRITTEN_SINCE = "Nothing: the record has been written since."


def _duration(started: datetime, ended: datetime | None) -> str:
    seconds = ((ended or datetime.now(UTC)) - started).total_seconds()
    if seconds < 60:
        text = f"{seconds:.1f} s"
    else:
        minutes, second = divmod(int(seconds), 60)
        hours, minute = divmod(minutes, 60)
        text = f"{hours}:{minute:02}:{second:02}" if hours else f"{minute}:{second:02}"
    return text if ended else f"{text} so far"


def _ended(started: datetime, ended: datetime | None) -> str:
    """The end time; the time of day alone when the run ended the day it started."""
    if ended is None:
        return ""
    return f"{ended:%H:%M:%S}" if ended.date() == started.date() else f"{ended:%Y-%m-%d %H:%M:%S}"


def _run_heading(run: sa.Row[Any]) -> Text:
    """``Run 2  Completed  2024-05-01 08:12:03 - 08:12:04 UTC (0.4 s), by command``."""
    text = Text(f"Run {run.id}  ", style="bold")
    text.append(run.status, style=STATUS_STYLE.get(run.status, "white"))
    ended = _ended(run.started_at, run.finished_at)
    when = f"{run.started_at:%Y-%m-%d %H:%M:%S}" + (f" - {ended}" if ended else "")
    text.append(f"  {when} UTC ({_duration(run.started_at, run.finished_at)})")
    if run.started_by:
        text.append(f", by {run.started_by}")
    return text


def _history_grid(state: StateStore, runs: Sequence[sa.Row[Any]]) -> Grid:
    """Each run's line (and the reason of one that did not end on its own), then its task
    runs under their projects."""
    grid = Grid("project / task", (STATUS_COLUMN, *COUNT_COLUMNS))
    for index, run in enumerate(runs):
        if index:
            grid.line("")
        grid.line(_run_heading(run))
        if run.message:
            grid.line(run.message, indent=2)
        task_rows(
            grid,
            (
                (t.project, t.task, t.leg, t.status, [f"{t._mapping[c]:,}" for c in COUNTS])
                for t in state.task_runs(run.id)
            ),
        )
    return grid


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _history_document(state: StateStore, runs: Sequence[sa.Row[Any]]) -> dict[str, Any]:
    """``p2c history --json``."""
    documents = []
    for run in runs:
        ended = run.finished_at
        documents.append(
            {
                "run_id": run.id,
                "status": run.status,
                "started_at": _time(run.started_at),
                "finished_at": _time(ended),
                "duration_seconds": round((ended - run.started_at).total_seconds(), 3)
                if ended
                else None,
                "started_by": run.started_by,
                "mode": run.mode,
                "message": run.message,
                "projects": [p for p in (run.projects or "").split("\n") if p],
                "tasks": [
                    {
                        "project": t.project,
                        "task": t.task,
                        "leg": t.leg,
                        "status": t.status,
                        "counts": {c: t._mapping[c] for c in COUNTS},
                        "message": t.message,
                        "started_at": _time(t.started_at),
                        "finished_at": _time(t.finished_at),
                    }
                    for t in state.task_runs(run.id)
                ],
            }
        )
    return {"runs": documents}


def _runs_label(q: QueuedRecord) -> str:
    if q.first_run_id == q.last_run_id:
        return f"run {q.last_run_id}"
    return f"runs {q.first_run_id}-{q.last_run_id}"


def _reason(field: str | None, message: str) -> str:
    return f"{field}: {message}" if field else message


class _Fixes:
    """Each failed record's fix (``p2c.config.record_fix``), the admin center's words with
    the command line's retry; the effective template of each project read once."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.templates: dict[str, Template | None] = {}

    def __call__(
        self,
        project: str,
        task: str,
        leg: str | None,
        field: str | None,
        message: str,
        retryable: bool,
        source_key: str,
    ) -> str:
        if project not in self.templates:
            try:
                found = self.ws.project(project).effective_template(self.ws.templates)
            except P2CError:
                found = None
            self.templates[project] = found
        template = self.templates[project]
        if template is None:
            return f"The project {project} is no longer in p2c.yaml: add it again to retry it."
        retry = f"`p2c retry --record {source_key}`"
        return record_fix(
            template,
            task,
            leg,
            field,
            message,
            retryable=retryable,
            retry=retry,
            editor="with `p2c mapping set`",
        )

    def queued(self, q: QueuedRecord) -> str:
        return self(
            q.leg.project, q.leg.task, q.leg.leg, q.field, q.message, q.retryable, q.source_key
        )


def _fix_lines(fix: str, width: int) -> list[Text]:
    return [Text(line) for line in wrap(f"fix: {fix}", width, 4, 5)]


def _source(destination_key: str | None, source_key: str) -> list[str]:
    """The source key, where the record is named by its destination key (``--record``)."""
    return [f"source key {source_key}"] if destination_key else []


def _render_queue(queued: list[QueuedRecord], fixes: _Fixes) -> None:
    if not queued:
        out.print("The error queue is empty: every failed record has been written since.")
        return
    width = out.width
    retryable = sum(q.retryable for q in queued)
    print_wrapped(
        f"Error queue: {len(queued)} record(s): {retryable} retried by the next run, "
        f"{len(queued) - retryable} need a fix",
        "bold",
    )
    for leg, records in groupby(queued, key=lambda q: q.leg):
        print_wrapped(f"{leg.project} / {task_label(leg.task, leg.leg)}", "bold")
        for q in records:
            details = [
                "retried by the next run" if q.retryable else "needs a fix",
                f"{q.attempts} {'try' if q.attempts == 1 else 'tries'}",
                _runs_label(q),
                *_source(q.destination_key, q.source_key),
            ]
            label = record_label(q.destination_key, q.source_key)
            print_lines(key_lines(label, details, _reason(q.field, q.message), width))
            print_lines(_fix_lines(fixes.queued(q), width))
    print_wrapped("Fix the data or the mapping, then `p2c retry --all` (or `--record KEY`).")


def _queue_document(queued: list[QueuedRecord], fixes: _Fixes) -> dict[str, Any]:
    return {
        "run_id": None,
        "records": [
            {
                "project": q.leg.project,
                "task": q.leg.task,
                "leg": q.leg.leg,
                "source_key": q.source_key,
                "destination_key": q.destination_key,
                "field": q.field,
                "message": q.message,
                "retryable": q.retryable,
                "attempts": q.attempts,
                "first_run_id": q.first_run_id,
                "last_run_id": q.last_run_id,
                "failed_at": _time(q.failed_at),
                "fix": fixes.queued(q),
            }
            for q in queued
        ],
    }


def _run_errors(state: StateStore, run_id: int) -> list[sa.Row[Any]]:
    if state.run(run_id) is None:
        raise NotFoundError(f"There is no run {run_id}.", fix="`p2c history` lists the runs")
    return state.errors(run_id)


def _run_fixes(state: StateStore, run_id: int, rows: list[sa.Row[Any]], fixes: _Fixes) -> list[str]:
    """The fix of each failed record of a run: none for a record written since (no longer
    in the error queue)."""
    legs = {t.id: t.leg for t in state.task_runs(run_id)}
    queued = {
        (q.leg.project, q.leg.task, q.leg.leg, q.source_key)
        for project in {row.project for row in rows}
        for q in state.queue(project=project)
    }
    found = []
    for row in rows:
        leg = legs.get(row.task_run_id)
        if (row.project, row.task, leg, row.source_key) not in queued:
            found.append(WRITTEN_SINCE)
            continue
        found.append(
            fixes(row.project, row.task, leg, row.field, row.message, row.retryable, row.source_key)
        )
    return found


def _render_run_errors(run_id: int, rows: list[sa.Row[Any]], fixes: list[str]) -> None:
    if not rows:
        out.print(f"Run {run_id} has no record errors.")
        return
    width = out.width
    print_wrapped(f"Run {run_id}: {len(rows)} failed record(s)", "bold")
    fixed = dict(zip((row.id for row in rows), fixes, strict=True))
    for (project, task), records in groupby(rows, key=lambda r: (r.project, r.task)):
        print_wrapped(f"{project} / {task}", "bold")
        for row in records:
            details = _source(row.destination_key, row.source_key)
            label = record_label(row.destination_key, row.source_key)
            print_lines(key_lines(label, details, _reason(row.field, row.message), width))
            print_lines(_fix_lines(fixed[row.id], width))


def _run_errors_document(run_id: int, rows: list[sa.Row[Any]], fixes: list[str]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "records": [
            {
                "project": row.project,
                "task": row.task,
                "source_key": row.source_key,
                "destination_key": row.destination_key,
                "field": row.field,
                "message": row.message,
                "retryable": row.retryable,
                "fix": fix,
            }
            for row, fix in zip(rows, fixes, strict=True)
        ],
    }


def register_history(app: typer.Typer) -> None:
    @app.command()
    def history(
        workspace: WorkspaceOption = None,
        limit: Annotated[int, typer.Option(help="How many runs.", min=1, max=RUN_ID_MAX)] = 20,
        json: JsonOption = False,
    ) -> None:
        """Execution history: runs (when, how long, what started them, their status) and
        their tasks with status and counts.

        A run whose process is gone (killed, crashed) is marked Error here, with the reason.
        """
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        try:
            runs = state.runs(limit)
            if json:
                print_json(_history_document(state, runs))
                return
            if not runs:
                out.print("No runs yet: `p2c run` starts one.")
                return
            print_lines(_history_grid(state, runs).lines(out.width))
        finally:
            state.close()

    @app.command()
    def errors(
        run_id: Annotated[
            int | None,
            typer.Argument(
                metavar="[RUN]",
                help="A run's errors (default: the error queue).",
                min=1,
                max=RUN_ID_MAX,
            ),
        ] = None,
        workspace: WorkspaceOption = None,
        json: JsonOption = False,
    ) -> None:
        """The error queue, or the failed records of one run.

        The queue holds failed records not written since: key, field, reason, and whether
        the next run retries them or they need a fix.
        """
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        try:
            fixes = _Fixes(ws)
            if run_id is None:
                queued = state.queue()
                if json:
                    print_json(_queue_document(queued, fixes))
                else:
                    _render_queue(queued, fixes)
                return
            rows = _run_errors(state, run_id)
            found = _run_fixes(state, run_id, rows, fixes)
            if json:
                print_json(_run_errors_document(run_id, rows, found))
            else:
                _render_run_errors(run_id, rows, found)
        finally:
            state.close()

    register_projects(app)
