"""``p2c history``, ``errors``, ``templates`` and ``projects``: what ran, what failed, what
there is."""

from __future__ import annotations

__all__ = ["register_history"]

from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.markup import escape
from rich.table import Table

from p2c._errors import NotFoundError
from p2c.cli._numbers import RUN_ID_MAX
from p2c.cli._render import STATUS_STYLE, WorkspaceOption, out
from p2c.engine import QueuedRecord, StateStore, record_label
from p2c.templates import builtin_templates
from p2c.workspace import Workspace

_HISTORY_COLUMNS = (
    "run",
    "started (UTC)",
    "ended (UTC)",
    "duration",
    "started by",
    "run status",
    "project / task / leg",
    "status",
    "read",
    "created",
    "updated",
    "unchanged",
    "failed",
)


_COUNTS = ("read", "created", "updated", "unchanged", "failed")


def _styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{escape(status)}[/]"


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


def _run_cells(run: sa.Row[Any]) -> list[str]:
    return [
        str(run.id),
        f"{run.started_at:%Y-%m-%d %H:%M:%S}",
        _ended(run.started_at, run.finished_at),
        _duration(run.started_at, run.finished_at),
        escape(run.started_by or ""),
        _styled(run.status),
    ]


def _history_table(state: StateStore, limit: int) -> tuple[Table, list[str]]:
    """One row per task run (the run's own cells on its first), and the runs' reasons."""
    table = Table()
    for column in _HISTORY_COLUMNS:
        table.add_column(column, justify="right" if column in _COUNTS else "left")
    notes = []
    for run in state.runs(limit):
        first = _run_cells(run)
        task_runs = state.task_runs(run.id)
        if not task_runs:
            table.add_row(*first, *[""] * (len(_HISTORY_COLUMNS) - len(first)))
        for index, t in enumerate(task_runs):
            table.add_row(
                *(first if index == 0 else [""] * len(first)),
                escape(f"{t.project} / {t.task} / {t.leg}"),
                _styled(t.status),
                *(f"{t._mapping[c]:,}" for c in _COUNTS),
            )
        if run.message:
            notes.append(f"Run {run.id} {_styled(run.status)}: {escape(run.message)}")
    return table, notes


def _render_queue(queued: list[QueuedRecord]) -> None:
    if not queued:
        out.print("The error queue is empty: every failed record has been written since.")
        return
    table = Table(title=f"Error queue: {len(queued)} record(s)", title_justify="left")
    for column in (
        "project / task / leg",
        "record",
        "source key",
        "field",
        "reason",
        "kind",
        "tries",
        "runs",
    ):
        table.add_column(column, overflow="fold")
    for q in queued:
        table.add_row(
            escape(f"{q.leg.project} / {q.leg.task} / {q.leg.leg}"),
            escape(record_label(q.destination_key, q.source_key)),
            escape(q.source_key),
            escape(q.field or ""),
            escape(q.message),
            "retried by the next run" if q.retryable else "needs a fix",
            str(q.attempts),
            f"{q.first_run_id}-{q.last_run_id}"
            if q.first_run_id != q.last_run_id
            else str(q.last_run_id),
        )
    out.print(table)
    out.print("Fix the data or the mapping, then `p2c retry --all` (or `--record KEY`).")


def _render_run_errors(state: StateStore, run_id: int) -> None:
    if state.run(run_id) is None:
        raise NotFoundError(f"There is no run {run_id}.", fix="`p2c history` lists the runs")
    rows = state.errors(run_id)
    if not rows:
        out.print(f"Run {run_id} has no record errors.")
        return
    table = Table(title=f"Run {run_id}: {len(rows)} failed record(s)", title_justify="left")
    for column in ("project / task", "source record", "destination key", "field", "reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            escape(f"{row.project} / {row.task}"),
            escape(row.source_key),
            escape(row.destination_key or ""),
            escape(row.field or ""),
            escape(row.message),
        )
    out.print(table)


def register_history(app: typer.Typer) -> None:
    @app.command()
    def history(
        workspace: WorkspaceOption = None,
        limit: Annotated[int, typer.Option(help="How many runs.", min=1, max=RUN_ID_MAX)] = 20,
    ) -> None:
        """Execution history: runs (when, how long, what started them, their status) and
        their tasks with status and counts.

        A run whose process is gone (killed, crashed) is marked Error here, with the reason.
        """
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        try:
            table, notes = _history_table(state, limit)
        finally:
            state.close()
        out.print(table)
        for note in notes:
            out.print(note)

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
    ) -> None:
        """The error queue, or the failed records of one run.

        The queue holds failed records not written since: key, field, reason, and whether
        the next run retries them or they need a fix.
        """
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        try:
            if run_id is None:
                _render_queue(state.queue())
            else:
                _render_run_errors(state, run_id)
        finally:
            state.close()

    @app.command()
    def templates() -> None:
        """The built-in templates with their tasks and prerequisites."""
        table = Table()
        for column in ("template", "generation", "tasks (legs)", "requires"):
            table.add_column(column)
        for template in builtin_templates().values():
            tasks = "; ".join(
                f"{t.name} ({', '.join(leg.name for leg in t.legs)})" for t in template.tasks
            )
            table.add_row(
                escape(template.name),
                template.generation,
                escape(tasks),
                escape(", ".join(template.requires)),
            )
        out.print(table)

    @app.command()
    def projects(workspace: WorkspaceOption = None) -> None:
        """The workspace's projects with their template, connection set and last status."""
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        table = Table()
        for column in ("project", "template", "connection set", "changed tasks", "last status"):
            table.add_column(column)
        try:
            for p in ws.config.projects:
                status = state.last_status(p.name)
                table.add_row(
                    escape(p.name),
                    escape(p.template),
                    p.connection_set,
                    escape(", ".join(p.tasks)),
                    _styled(status) if status else "never run",
                )
        finally:
            state.close()
        out.print(table)
