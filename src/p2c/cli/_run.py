"""``p2c run`` and ``retry``: run with a progress display, Ctrl-C and SIGTERM handled, and a
summary per task."""

from __future__ import annotations

__all__ = ["register", "render_run", "run_and_render", "run_projects"]

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from p2c._errors import ConfigError
from p2c.cli._interrupt import Interrupts
from p2c.cli._numbers import RUN_ID_MAX, WAIT_MAX
from p2c.cli._render import STATUS_STYLE, WorkspaceOption, err, out
from p2c.engine import Engine, RunAbandoned, RunOptions, RunResult, StateStore
from p2c.workspace import Workspace

_COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")
# Without a terminal (a log, a pipe), a progress line per task leg when it starts writing,
# then at most one every this many seconds.
_LOG_EVERY = 15.0


@contextmanager
def _progress_display() -> Iterator[Callable[[str, int], None]]:
    """The engine's progress callback: a live bar per task leg on a terminal, lines on stderr
    otherwise."""
    if not err.is_terminal:
        totals: dict[str, int] = {}
        shown: dict[str, float] = {}

        def line(label: str, n: int) -> None:
            totals[label] = totals.get(label, 0) + n
            now = time.monotonic()
            if label not in shown or now - shown[label] >= _LOG_EVERY:
                shown[label] = now
                err.print(f"{escape(label)}: {totals[label]:,} records")

        yield line
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        bars: dict[str, TaskID] = {}

        def advance(label: str, n: int) -> None:
            if label not in bars:
                bars[label] = bar.add_task(escape(label), total=None)
            bar.advance(bars[label], n)

        yield advance


def run_projects(
    ws: Workspace,
    projects: list[str] | None,
    options: RunOptions | None = None,
    *,
    wait: float = 0.0,
    retry: dict[str, Any] | None = None,
    interrupts: Interrupts | None = None,
    started_by: str = "command",
) -> RunResult | None:
    """Run with a progress display, Ctrl-C and SIGTERM handled by ``interrupts`` while the
    engine runs; with ``retry``, retry queued records selected by it instead (None when
    nothing waits in the error queue)."""
    interrupts = interrupts or Interrupts()
    state = StateStore(ws.state_url())
    try:
        with _progress_display() as progress:
            engine = Engine(ws, state, progress, wait=wait)
            result: RunResult | None = None
            abandoned = False
            # The handlers cover the engine's call alone: once it returned, the run is
            # recorded, and a Ctrl-C while the summary prints is an ordinary one.
            with interrupts:
                try:
                    if retry is not None:
                        result = engine.retry(
                            projects=projects,
                            cancel=interrupts.token,
                            started_by=started_by,
                            **retry,
                        )
                    else:
                        result = engine.run(
                            projects, options, cancel=interrupts.token, started_by=started_by
                        )
                except RunAbandoned:  # stopped at once before the run began
                    abandoned = True
            if abandoned and result is None:
                result = RunResult(0, cancelled=interrupts.token.reason or "interrupted")
            return result
    finally:
        state.close()


def run_and_render(
    ws: Workspace,
    projects: list[str] | None,
    options: RunOptions | None = None,
    *,
    wait: float = 0.0,
    retry: dict[str, Any] | None = None,
    started_by: str = "command",
) -> int | None:
    """Run (or retry) with Ctrl-C and SIGTERM stopping the run between batches, render the
    result, and return the exit status: 130 or 143 after a signal. None when a retry found
    nothing to retry."""
    interrupts = Interrupts()
    result = run_projects(
        ws,
        projects,
        options,
        wait=wait,
        retry=retry,
        interrupts=interrupts,
        started_by=started_by,
    )
    if result is None:
        return None
    render_run(result, ws)
    if interrupts.signal is not None and result.cancelled is None:
        err.print(
            f"Interrupted as the run finished: {result.written:,} written, nothing left for "
            "the next run."
        )
    return interrupts.exit_code(int(result.exit_code))


def _interrupted(result: RunResult) -> str:
    if result.dry_run:
        return "Interrupted: the dry run stopped before its end; nothing was written."
    if not result.run_id:
        return "Interrupted before the run started: nothing written."
    left = "the rest"  # unknown: a run reads what changed as it goes
    if result.left is not None:
        left = f"{result.left:,}" if result.left else "nothing"
    return f"Interrupted: {result.written:,} written, {left} left for the next run."


def render_run(result: RunResult, ws: Workspace | None = None) -> None:
    title = "Dry run: nothing was written" if result.dry_run else f"Run {result.run_id}"
    table = Table(title=title, title_justify="left")
    for column in ("project", "task", "leg", "status", *_COUNTS):
        table.add_column(column, justify="right" if column in _COUNTS else "left")
    for t in result.tasks:
        c = t.counts
        table.add_row(
            escape(t.project),
            escape(t.task),
            escape(t.leg),
            f"[{STATUS_STYLE.get(t.status, 'white')}]{t.status}[/]",
            *(f"{n:,}" for n in (c.read, c.created, c.updated, c.unchanged, c.skipped, c.failed)),
        )
    if result.tasks or result.run_id or result.dry_run:
        out.print(table)
    for t in result.tasks:
        if t.message:
            err.print(f"[bold]{escape(t.project)} / {escape(t.task)}:[/] {escape(t.message)}")
        for example in t.examples:
            out.print(f"  {escape(t.project)} / {escape(t.task)}: would {escape(example)}")
    if result.cancelled is not None:
        err.print(f"[bold yellow]{escape(_interrupted(result))}[/]")
    if result.dry_run:
        return
    if any(t.counts.failed for t in result.tasks):
        out.print(
            f"Some records failed: `p2c errors {result.run_id}` lists them with the field "
            "and the reason."
        )
    if ws is not None:
        _render_queue_summary(ws)


def _render_queue_summary(ws: Workspace) -> None:
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


def _nothing_to_retry(run_id: int | None, projects: list[str] | None) -> str:
    scope = f" of run {run_id}" if run_id is not None else ""
    if projects:
        scope += " of " + ", ".join(repr(p) for p in projects)
    if scope:
        return f"Nothing to retry: no failed record{scope} waits in the error queue."
    return "Nothing to retry: the error queue is empty."


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

        Runs are incremental: each task reads what changed since its last run. Ctrl-C
        stops after the batch in progress (twice: at once); the run is kept as Cancelled.
        """
        ws = Workspace.open(workspace)
        options = RunOptions(full=full, dry_run=dry_run)
        code = run_and_render(ws, projects, options, wait=wait)
        sys.exit(code or 0)

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
        code = run_and_render(ws, project, wait=wait, retry=selection, started_by="retry")
        if code is None:
            out.print(_nothing_to_retry(run_id, project))
            return
        sys.exit(code)
