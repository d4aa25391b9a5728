"""``p2c run`` and ``retry``: run with a progress display, Ctrl-C and SIGTERM handled, and a
summary per task (or ``--json``)."""

from __future__ import annotations

__all__ = ["on_connection_set", "register", "run_and_render", "run_projects"]

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from p2c._errors import ConfigError
from p2c.cli._interrupt import Interrupts
from p2c.cli._numbers import RUN_ID_MAX, WAIT_MAX
from p2c.cli._progress import progress_display
from p2c.cli._render import JsonOption, WorkspaceOption, err, out, print_json
from p2c.cli._summary import render_run, run_document
from p2c.cli._workers import remote_retry_and_render, remote_run_and_render
from p2c.engine import Engine, RunAbandoned, RunOptions, RunResult, StateStore
from p2c.workspace import Workspace

ConnectionSetOption = Annotated[
    str | None,
    typer.Option(
        "--connection-set",
        "-c",
        help="Run against this connection set of p2c.yaml instead of each project's own "
        "(e.g. the emulator's).",
        show_default=False,
    ),
]


def on_connection_set(ws: Workspace, name: str | None) -> Workspace:
    """The workspace with every project set to run against connection set ``name``.

    A project whose own set (in p2c.yaml) is another runs as ``<project> @ <set>``: its
    cursors, lineage, error queue and history are its own, so what was read from one set
    never decides what is read from another.
    """
    if name is None:
        return ws
    ws.connection_set(name)  # an unknown set: ConfigError naming those there are
    projects = [
        p
        if p.connection_set == name
        else p.model_copy(update={"name": f"{p.name} @ {name}", "connection_set": name})
        for p in ws.config.projects
    ]
    return Workspace(ws.root, ws.config.model_copy(update={"projects": projects}))


def _chosen(ws: Workspace, queries: list[str] | None, connection_set: str | None) -> list[str]:
    """The project names the queries mean (names, aliases, short names, prefixes), as the
    run knows them (``@ <set>`` with ``-c``); all projects when none are given."""
    projects = ws.config.projects
    picked = [ws.find_project(q) for q in queries] if queries else list(projects)
    names = list(dict.fromkeys(p.name for p in picked))
    if connection_set is None:
        return names
    run_as = on_connection_set(ws, connection_set).config.projects
    renamed = {p.name: q.name for p, q in zip(projects, run_as, strict=True)}
    return [renamed[n] for n in names]


def _shortener(ws: Workspace) -> Callable[[str], str]:
    """A task leg's label as a progress bar shows it: the project's short name or alias."""
    names = ws.display_names()
    ordered = sorted(names.items(), key=lambda item: len(item[0]), reverse=True)

    def short(label: str) -> str:
        label = label.removesuffix(" / Source > Destination")
        for name, shorter in ordered:
            if label.startswith(f"{name} / "):
                return shorter + label[len(name) :]
        return label

    return short


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
        with progress_display(_shortener(ws)) as display:
            engine = Engine(ws, state, display.advance, wait=wait, expected=display.expected)
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
    json: bool = False,
    connection_set: str | None = None,
) -> int | None:
    """Run (or retry) with Ctrl-C and SIGTERM stopping the run between batches, render the
    result (or print it as JSON), and return the exit status: 130 or 143 after a signal.
    None when a retry found nothing to retry."""
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
    code = interrupts.exit_code(int(result.exit_code))
    render_run(result, ws, json=json)
    if json:
        print_json(run_document(result, code, connection_set))
    if interrupts.signal is not None and result.cancelled is None:
        err.print(
            f"Interrupted as the run finished: {result.written:,} written, nothing left for "
            "the next run."
        )
    return code


def _nothing_to_retry(run_id: int | None, projects: list[str] | None) -> str:
    scope = f" of run {run_id}" if run_id is not None else ""
    if projects:
        scope += " of " + ", ".join(repr(p) for p in projects)
    if scope:
        return f"Nothing to retry: no failed record{scope} waits in the error queue."
    return "Nothing to retry: the error queue is empty."


WaitOption = Annotated[
    float,
    typer.Option(
        help="Seconds to wait for a project another run holds (at most a day).",
        min=0,
        max=WAIT_MAX,
    ),
]


def register(app: typer.Typer) -> None:
    _register_run(app)
    _register_retry(app)


def _register_run(app: typer.Typer) -> None:
    @app.command()
    def run(
        projects: Annotated[
            list[str] | None,
            typer.Argument(
                help="Projects to run (default: all): a name, an alias, or a unique prefix or "
                "word of a name, ignoring case (`contacts`, `customer`)."
            ),
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
        wait: WaitOption = 0.0,
        connection_set: ConnectionSetOption = None,
        json: JsonOption = False,
    ) -> None:
        """Run projects in prerequisite order and print a summary per task.

        Runs are incremental: each task reads what changed since its last run. Ctrl-C
        stops after the batch in progress (twice: at once); the run is kept as Cancelled.
        """
        ws = Workspace.open(workspace)
        names = _chosen(ws, projects, connection_set) if projects else None
        if ws.config.executor.type == "celery" and not dry_run:
            # On the workers (a dry run writes nothing and runs here).
            sys.exit(
                remote_run_and_render(
                    ws, names, full=full, wait=wait, json=json, connection_set=connection_set
                )
            )
        ws = on_connection_set(ws, connection_set)
        options = RunOptions(full=full, dry_run=dry_run)
        code = run_and_render(
            ws, names, options, wait=wait, json=json, connection_set=connection_set
        )
        sys.exit(code or 0)


def _register_retry(app: typer.Typer) -> None:
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
            list[str] | None,
            typer.Option(help="Only records of these projects (names, aliases, prefixes)."),
        ] = None,
        workspace: WorkspaceOption = None,
        wait: WaitOption = 0.0,
        connection_set: Annotated[
            str | None,
            typer.Option(
                "--connection-set",
                "-c",
                help="Retry the records of runs made with -c SET against that set.",
                show_default=False,
            ),
        ] = None,
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
        names = _chosen(ws, project, connection_set)
        if ws.config.executor.type == "celery":
            if connection_set is not None:
                raise ConfigError(
                    "--connection-set is not supported with the Celery executor yet.",
                    fix="set the project's connection_set in p2c.yaml, or run with "
                    "`executor: {type: local}`",
                )
            # On the workers, as `p2c run` (one job: the retry is one run).
            code = remote_retry_and_render(ws, names, run_id=run_id, source_key=record, wait=wait)
        else:
            ws = on_connection_set(ws, connection_set)
            selection: dict[str, Any] = {"run_id": run_id, "source_key": record}
            code = run_and_render(ws, names, wait=wait, retry=selection, started_by="retry")
        if code is None:
            out.print(_nothing_to_retry(run_id, names if project else None))
            return
        sys.exit(code)
