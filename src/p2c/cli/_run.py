"""``p2c run``, ``history``, ``errors``, ``templates``, ``projects``."""

from __future__ import annotations

__all__ = ["register", "render_run", "run_projects"]

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from p2c._errors import NotFoundError
from p2c.cli._render import WorkspaceOption, err, out
from p2c.engine import Engine, RunResult, StateStore
from p2c.templates import builtin_templates
from p2c.workspace import Workspace

_STYLE = {"Completed": "green", "Warning": "yellow", "Error": "red", "Skipped": "red"}


def run_projects(ws: Workspace, projects: list[str] | None) -> RunResult:
    """Run with a progress display on the terminal (none when output is not a terminal)."""
    state = StateStore(ws.state_url())
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} records"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            bars: dict[str, TaskID] = {}

            def progress(label: str, n: int) -> None:
                if label not in bars:
                    bars[label] = bar.add_task(escape(label), total=None)
                bar.advance(bars[label], n)

            return Engine(ws, state, progress).run(projects)
    finally:
        state.close()


def render_run(result: RunResult) -> None:
    table = Table(title=f"Run {result.run_id}", title_justify="left")
    for column in (
        "project",
        "task",
        "leg",
        "status",
        "read",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "failed",
    ):
        table.add_column(
            column,
            justify="right"
            if column in ("read", "created", "updated", "unchanged", "skipped", "failed")
            else "left",
        )
    for t in result.tasks:
        c = t.counts
        table.add_row(
            escape(t.project),
            escape(t.task),
            escape(t.leg),
            f"[{_STYLE.get(t.status, 'white')}]{t.status}[/]",
            *(f"{n:,}" for n in (c.read, c.created, c.updated, c.unchanged, c.skipped, c.failed)),
        )
    out.print(table)
    for t in result.tasks:
        if t.message:
            err.print(f"[bold]{escape(t.project)} / {escape(t.task)}:[/] {escape(t.message)}")
    if any(t.counts.failed for t in result.tasks):
        out.print(
            f"Some records failed: `p2c errors {result.run_id}` lists them with the field "
            "and the reason."
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        projects: Annotated[
            list[str] | None, typer.Argument(help="Projects to run (default: all).")
        ] = None,
        workspace: WorkspaceOption = None,
    ) -> None:
        """Run projects in prerequisite order and print a summary per task."""
        result = run_projects(Workspace.open(workspace), projects)
        render_run(result)
        sys.exit(int(result.exit_code))

    @app.command()
    def history(
        workspace: WorkspaceOption = None,
        limit: Annotated[int, typer.Option(help="How many runs.")] = 20,
    ) -> None:
        """Execution history: runs and their tasks with status and counts."""
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        table = Table()
        for column in (
            "run",
            "started (UTC)",
            "status",
            "project / task / leg",
            "read",
            "created",
            "updated",
            "unchanged",
            "failed",
        ):
            table.add_column(column)
        for run_row in state.runs(limit):
            for index, t in enumerate(state.task_runs(run_row.id)):
                first = index == 0
                table.add_row(
                    str(run_row.id) if first else "",
                    f"{run_row.started_at:%Y-%m-%d %H:%M:%S}" if first else "",
                    f"[{_STYLE.get(t.status, 'white')}]{t.status}[/]",
                    escape(f"{t.project} / {t.task} / {t.leg}"),
                    f"{t.read:,}",
                    f"{t.created:,}",
                    f"{t.updated:,}",
                    f"{t.unchanged:,}",
                    f"{t.failed:,}",
                )
        state.close()
        out.print(table)

    @app.command()
    def errors(
        run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run number (see history).")],
        workspace: WorkspaceOption = None,
    ) -> None:
        """Per-record errors of a run: record key, field and reason."""
        ws = Workspace.open(workspace)
        state = StateStore(ws.state_url())
        if not state.task_runs(run_id):
            raise NotFoundError(f"There is no run {run_id}.", fix="`p2c history` lists the runs")
        rows = state.errors(run_id)
        state.close()
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
        for p in ws.config.projects:
            status = state.last_status(p.name) or "never run"
            table.add_row(
                escape(p.name),
                escape(p.template),
                p.connection_set,
                escape(", ".join(p.tasks)),
                status,
            )
        state.close()
        out.print(table)
