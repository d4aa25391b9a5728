"""``p2c run``, ``history``, ``errors``, ``templates``, ``projects``."""

from __future__ import annotations

__all__ = ["register", "render_run", "run_projects"]

import sys
from typing import Annotated, Any

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

from p2c._errors import ConfigError, NotFoundError
from p2c.cli._numbers import RUN_ID_MAX, WAIT_MAX
from p2c.cli._render import WorkspaceOption, err, out
from p2c.engine import Engine, QueuedRecord, RunOptions, RunResult, StateStore
from p2c.templates import builtin_templates
from p2c.workspace import Workspace

_STYLE = {"Completed": "green", "Warning": "yellow", "Error": "red", "Skipped": "red"}


def run_projects(
    ws: Workspace,
    projects: list[str] | None,
    options: RunOptions | None = None,
    *,
    wait: float = 0.0,
    retry: dict[str, Any] | None = None,
) -> RunResult:
    """Run with a progress display on the terminal (none when output is not a terminal);
    with ``retry``, retry queued records selected by it instead."""
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

            engine = Engine(ws, state, progress, wait=wait)
            if retry is not None:
                return engine.retry(projects=projects, **retry)
            return engine.run(projects, options)
    finally:
        state.close()


def render_run(result: RunResult, ws: Workspace | None = None) -> None:
    title = "Dry run: nothing was written" if result.dry_run else f"Run {result.run_id}"
    table = Table(title=title, title_justify="left")
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
        for example in t.examples:
            out.print(f"  {escape(t.project)} / {escape(t.task)}: would {escape(example)}")
    if result.dry_run:
        return
    if any(t.counts.failed for t in result.tasks):
        out.print(
            f"Some records failed: `p2c errors {result.run_id}` lists them with the field "
            "and the reason."
        )
    if ws is not None:
        state = StateStore(ws.state_url())
        try:
            queued = state.queue()
        finally:
            state.close()
        if queued:
            retryable = sum(q.retryable for q in queued)
            out.print(
                f"{len(queued)} failed record(s) wait in the error queue ({retryable} will be "
                "retried by the next run; the others need a fix first): `p2c errors`, then "
                "`p2c retry --all`."
            )


def _render_queue(queued: list[QueuedRecord]) -> None:
    if not queued:
        out.print("The error queue is empty: every failed record has been written since.")
        return
    table = Table(title=f"Error queue: {len(queued)} record(s)", title_justify="left")
    for column in (
        "project / task / leg",
        "source record",
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


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        projects: Annotated[
            list[str] | None, typer.Argument(help="Projects to run (default: all).")
        ] = None,
        workspace: WorkspaceOption = None,
        full: Annotated[
            bool, typer.Option("--full", help="Read and write every record, not only changes.")
        ] = False,
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run",
                help="Read and map everything, report what would change, write nothing.",
            ),
        ] = False,
        wait: Annotated[
            float,
            typer.Option(
                help="Seconds to wait for a project another run holds (at most a day).",
                min=0,
                max=WAIT_MAX,
            ),
        ] = 0.0,
    ) -> None:
        """Run projects in prerequisite order and print a summary per task.

        Runs are incremental: each task reads what changed since its last run.
        """
        ws = Workspace.open(workspace)
        result = run_projects(ws, projects, RunOptions(full=full, dry_run=dry_run), wait=wait)
        render_run(result, ws)
        sys.exit(int(result.exit_code))

    @app.command()
    def retry(
        run_id: Annotated[
            int | None,
            typer.Argument(
                metavar="[RUN]", help="Retry the failed records of a run.", min=1, max=RUN_ID_MAX
            ),
        ] = None,
        all_records: Annotated[
            bool, typer.Option("--all", help="Retry every record in the error queue.")
        ] = False,
        record: Annotated[
            str | None, typer.Option(help="Retry one record: its source key (see `p2c errors`).")
        ] = None,
        project: Annotated[
            list[str] | None, typer.Option(help="Only records of these projects.")
        ] = None,
        workspace: WorkspaceOption = None,
        wait: Annotated[
            float,
            typer.Option(
                help="Seconds to wait for a project another run holds (at most a day).",
                min=0,
                max=WAIT_MAX,
            ),
        ] = 0.0,
    ) -> None:
        """Write failed records from the error queue again, after a fix.

        Fix the data in Sales, the mapping in p2c.yaml or the setup in F&O first.
        """
        if sum((run_id is not None, all_records, record is not None)) != 1:
            raise ConfigError(
                "Say which records to retry.", fix="give RUN, --all or --record KEY (one of them)"
            )
        if record is not None:
            try:
                record.encode("utf-8")
            except UnicodeEncodeError:  # bytes the terminal's encoding could not read
                raise ConfigError(
                    f"--record {record.encode('utf-8', 'backslashreplace').decode()} is not "
                    "UTF-8 text, so no record has that key.",
                    fix="copy the key from `p2c errors`",
                ) from None
        ws = Workspace.open(workspace)
        selection: dict[str, Any] = {"run_id": run_id, "source_key": record}
        result = run_projects(ws, project, wait=wait, retry=selection)
        render_run(result, ws)
        sys.exit(int(result.exit_code))

    @app.command()
    def history(
        workspace: WorkspaceOption = None,
        limit: Annotated[int, typer.Option(help="How many runs.", min=1, max=RUN_ID_MAX)] = 20,
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
        if run_id is None:
            queued = state.queue()
            state.close()
            _render_queue(queued)
            return
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
