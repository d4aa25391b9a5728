"""``p2c worker``, and ``p2c run`` and ``p2c retry`` when the workspace's executor is Celery:
the runs are sent to the workers and followed with the same progress, summary and exit
statuses."""

from __future__ import annotations

__all__ = ["register_worker", "remote_retry_and_render", "remote_run_and_render"]

import logging
import sys
from typing import Annotated

import typer
from rich.markup import escape

from p2c._errors import ConfigError, ExitCode
from p2c.cli._interrupt import Interrupts
from p2c.cli._progress import progress_display
from p2c.cli._render import WorkspaceOption, err, print_json
from p2c.cli._summary import render_run, run_document
from p2c.engine import RunResult
from p2c.workspace import Workspace


def _exit_code(results: list[RunResult]) -> int:
    codes = [r.exit_code for r in results]
    if ExitCode.FAILED_RECORDS in codes:
        return int(ExitCode.FAILED_RECORDS)
    return int(max(codes, default=ExitCode.OK))


def remote_run_and_render(
    ws: Workspace,
    projects: list[str] | None,
    *,
    full: bool = False,
    wait: float = 0.0,
    json: bool = False,
    connection_set: str | None = None,
) -> int:
    """Send the projects to the workers, follow them, render each run; the exit status."""
    from p2c.workers import RemoteRuns  # Celery loads only for a Celery workspace

    if connection_set is not None:
        raise ConfigError(
            "--connection-set is not supported with the Celery executor yet.",
            fix="set the project's connection_set in p2c.yaml, or run with "
            "`executor: {type: local}`",
        )
    interrupts = Interrupts()
    with progress_display() as display:
        remote = RemoteRuns(
            ws,
            progress=display.advance,
            expected=display.expected,
            notice=lambda text: err.print(f"[yellow]{escape(text)}[/]"),
        )
        try:
            with interrupts:
                results = remote.run(projects, full=full, wait=wait, cancel=interrupts.token)
        finally:
            remote.close()
    code = interrupts.exit_code(_exit_code(results))
    for result in results:
        render_run(result, ws, json=json)
        if json:
            print_json(run_document(result, code, connection_set))
    return code


def remote_retry_and_render(
    ws: Workspace,
    projects: list[str],
    *,
    run_id: int | None,
    source_key: str | None,
    wait: float = 0.0,
) -> int | None:
    """Retry queued failed records on the workers, follow the run, render it; the exit
    status, or None when nothing waits in the error queue."""
    from p2c.workers import RemoteRuns  # Celery loads only for a Celery workspace

    interrupts = Interrupts()
    with progress_display() as display:
        remote = RemoteRuns(
            ws,
            progress=display.advance,
            expected=display.expected,
            notice=lambda text: err.print(f"[yellow]{escape(text)}[/]"),
        )
        try:
            with interrupts:
                result = remote.retry(
                    projects,
                    run_id=run_id,
                    source_key=source_key,
                    wait=wait,
                    cancel=interrupts.token,
                )
        finally:
            remote.close()
    if result is None:
        return None
    code = interrupts.exit_code(int(result.exit_code))
    render_run(result, ws)
    return code


def register_worker(app: typer.Typer) -> None:
    @app.command()
    def worker(
        workspace: WorkspaceOption = None,
        concurrency: Annotated[
            int, typer.Option(min=1, max=64, help="Runs at once in this worker (threads).")
        ] = 1,
        queues: Annotated[
            list[str] | None,
            typer.Option(
                "--queues",
                "-Q",
                help="Queues to take runs from (default: the workspace's executor.queue).",
            ),
        ] = None,
        name: Annotated[str | None, typer.Option(help="Node name (default p2c-PID@HOST).")] = None,
        loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
    ) -> None:
        """Run a Celery worker that runs this workspace's projects (executor: celery).

        SIGTERM stops it gracefully: its runs stop after the batch in progress and go back
        to the queue for another worker.
        """
        from p2c.workers import run_worker

        logging.getLogger("p2c").setLevel(loglevel.upper())
        wanted = [q for item in queues or [] for q in item.split(",") if q]
        run_worker(workspace, concurrency=concurrency, queues=wanted, loglevel=loglevel, name=name)
        sys.exit(0)
