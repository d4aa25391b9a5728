"""The one place the service calls the engine.

Everything the service asks of a run goes through :class:`Runner`: start it (scheduled, from
the API, a retry) with who started it, learn its id as soon as it has one, follow its
progress, cancel it between batches (the engine's :class:`~p2c.engine.CancelToken`), record
a project that failed to start, and mark runs whose process died.

The run's :class:`~p2c.engine.StateStore` is a subclass that learns the run id when the
engine starts the run and passes task starts and ends on as events; nothing else of the
engine is changed or reached into.
"""

from __future__ import annotations

__all__ = ["RetrySelection", "RunReport", "RunRequest", "Runner"]

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from p2c._errors import ConnectionFailed, P2CError, ProjectBusy
from p2c.engine import (
    CancelToken,
    Engine,
    LegId,
    RunOptions,
    RunResult,
    RunStatus,
    StateStore,
    TaskCounts,
)
from p2c.service._history import COUNTS
from p2c.workspace import CONFIG_FILE, Workspace

Emit = Callable[[dict[str, Any]], None]
log = logging.getLogger("p2c.service")
_BROKER_ATTEMPTS = 4  # tries to reach the Celery broker before a run fails to start


class RunCancelled(Exception):
    """Raised inside a run between batches once it is cancelled. Not a P2CError: the
    engine must not record it as a task's failure."""


@dataclass(frozen=True)
class RetrySelection:
    """Queued failed records to read again: these source keys, or all."""

    records: tuple[str, ...] = ()
    all: bool = False


@dataclass(frozen=True)
class RunRequest:
    """A run the service starts.

    Args:
        projects: The projects (in any order; the engine orders them by prerequisites).
        started_by: ``schedule``, ``api:<token name>``, ``retry`` ...
        full: Read and write every record.
        dry_run: Report what would change, write nothing.
        retry: Retry queued records instead of an incremental run.
        slot_at: The schedule slot this run serves.
    """

    projects: tuple[str, ...]
    started_by: str
    full: bool = False
    dry_run: bool = False
    retry: RetrySelection | None = None
    slot_at: datetime | None = None


@dataclass
class RunReport:
    """How a run ended, as the service needs it (notifications, metrics, the API)."""

    run_id: int | None
    status: str  # Completed, Warning, Error, Cancelled (Skipped when nothing ran)
    projects: tuple[str, ...]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None  # why it failed to start, or ended early
    dry_run: bool = False
    failed_start: bool = False
    started_by: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {c: sum(t["counts"][c] for t in self.tasks) for c in COUNTS}


class _ServiceState(StateStore):
    """The state store of one service run: learns the run id, tells of task starts and ends."""

    def __init__(self, url: str, on_start: Callable[[int], None], emit: Emit) -> None:
        super().__init__(url)
        self.on_start = on_start
        self.emit = emit
        self.run_id: int | None = None

    def start_run(
        self, projects: Sequence[str], mode: str = "incremental", *, started_by: str = "command"
    ) -> int:
        run_id = super().start_run(projects, mode, started_by=started_by)
        self.run_id = run_id
        self.on_start(run_id)
        return run_id

    def start_task(self, run_id: int, leg: LegId) -> int:
        task_run = super().start_task(run_id, leg)
        self.emit(
            {
                "type": "task",
                "project": leg.project,
                "task": leg.task,
                "leg": leg.leg,
                "status": "Running",
            }
        )
        return task_run

    def finish_task(
        self, task_run_id: int, counts: TaskCounts, status: str, message: str | None = None
    ) -> None:
        super().finish_task(task_run_id, counts, status, message)
        self.emit(
            {
                "type": "task-end",
                "task_run": task_run_id,
                "status": str(status),
                "counts": {c: getattr(counts, c) for c in COUNTS},
            }
        )


class Runner:
    """Runs projects of the workspace at ``root`` for the service.

    Args:
        root: The workspace folder; p2c.yaml is read again when it changed, so edits apply
            from the next run on.
        state_url: Where a run that cannot start is recorded when p2c.yaml cannot be read
            (default: the state database p2c.yaml names now).
    """

    def __init__(self, root: Path, state_url: str | None = None) -> None:
        self.root = root
        self.state_url = state_url or Workspace.open(root).state_url()
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], Workspace] | None = None

    def workspace(self) -> Workspace:
        """The workspace as p2c.yaml says now: read again only when the file changed
        (reading a p2c.yaml of hundreds of projects takes a good part of a second)."""
        try:
            stat = (self.root / CONFIG_FILE).stat()
            key = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (0, 0)
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, Workspace.open(self.root))
            return self._cached[1]

    def run(
        self,
        request: RunRequest,
        cancel: CancelToken,
        on_start: Callable[[int], None],
        emit: Emit,
    ) -> RunReport:
        """Run ``request``; call ``on_start`` with the run id once the run exists.

        A project that cannot start (bad p2c.yaml, a prerequisite, nothing to retry) is
        recorded as a run in Error with the reason, so history shows it; a run that crashed
        is recorded Error by the engine, and reported so.

        Raises:
            ProjectBusy: another process holds a project (nothing is recorded).
        """
        report = self._attempt(request, cancel, on_start, emit)
        report.started_by = request.started_by
        return report

    def _attempt(
        self,
        request: RunRequest,
        cancel: CancelToken,
        on_start: Callable[[int], None],
        emit: Emit,
    ) -> RunReport:
        try:
            ws = self.workspace()
            state = _ServiceState(ws.state_url(), on_start, emit)
        except P2CError as error:
            return self.failed_start(request, str(error), on_start)
        try:
            return self._run(ws, state, request, cancel, emit)
        except ProjectBusy:
            raise
        except Exception as error:  # recorded Error by the engine when the run had started
            if state.run_id is None:
                if isinstance(error, P2CError):
                    return self.failed_start(request, str(error), on_start)
                raise
            if not isinstance(error, P2CError):
                log.exception("Run %d stopped on an internal error", state.run_id)
            report = self._report_from_state(state, state.run_id, request, RunStatus.ERROR)
            report.reason = (
                str(error)
                if isinstance(error, P2CError)
                else (f"internal error: {type(error).__name__}: {error}")
            )
            return report
        finally:
            state.close()

    def _run(
        self,
        ws: Workspace,
        state: _ServiceState,
        request: RunRequest,
        cancel: CancelToken,
        emit: Emit,
    ) -> RunReport:
        def progress(label: str, records: int) -> None:
            emit({"type": "progress", "label": label, "records": records})

        projects = list(request.projects)
        by = request.started_by
        remote = ws.config.executor.type == "celery"
        if remote and request.retry is None and not request.dry_run:
            return self._run_on_workers(ws, state, request, cancel, progress)
        engine = Engine(ws, state, progress)
        if request.retry is not None:
            keys: dict[LegId, list[str]] = {}
            wanted = set(request.retry.records)
            for queued in state.queue():
                ours = queued.leg.project in projects or not projects
                if ours and (request.retry.all or queued.source_key in wanted):
                    keys.setdefault(queued.leg, []).append(queued.source_key)
            if not keys:
                raise P2CError("No failed record in the error queue matches.")
            chosen = sorted({leg.project for leg in keys})
            options = RunOptions(retry_only=True, retry_keys=keys)
            result = engine.run(chosen, options, cancel=cancel, started_by=by)
        else:
            options = RunOptions(full=request.full, dry_run=request.dry_run)
            result = engine.run(projects, options, cancel=cancel, started_by=by)
        return _report(result, request)

    def _run_on_workers(
        self,
        ws: Workspace,
        state: _ServiceState,
        request: RunRequest,
        cancel: CancelToken,
        progress: Callable[[str, int], None],
    ) -> RunReport:
        """Send the request's projects to the Celery workers and follow them to the end.
        A broker that does not answer is tried again a few times before the run is
        recorded as failed to start; the service goes on either way."""
        from p2c.workers import RemoteRuns  # Celery loads only for a Celery workspace

        def on_run(run_id: int) -> None:
            if state.run_id is None:
                state.run_id = run_id
                state.on_start(run_id)

        for attempt in range(_BROKER_ATTEMPTS):
            try:
                remote = RemoteRuns(ws, progress=progress, notice=log.info, on_run=on_run)
                break
            except ConnectionFailed as error:
                if attempt + 1 == _BROKER_ATTEMPTS or cancel.wait(2.0 * 2**attempt):
                    raise
                log.warning("%s Trying again.", error.message)
        try:
            results = remote.run(
                list(request.projects),
                full=request.full,
                cancel=cancel,
                started_by=request.started_by,
            )
        finally:
            remote.close()
        merged = RunResult(results[0].run_id if results else 0)
        for result in results:
            merged.tasks.extend(result.tasks)
            merged.cancelled = merged.cancelled or result.cancelled
            merged.run_id = merged.run_id or result.run_id
        return _report(merged, request)

    def _report_from_state(
        self, state: StateStore, run_id: int, request: RunRequest, status: str
    ) -> RunReport:
        tasks = [_task_dict(t) for t in state.task_runs(run_id)]
        return RunReport(run_id, str(status), request.projects, tasks)

    def failed_start(
        self, request: RunRequest, reason: str, on_start: Callable[[int], None] | None = None
    ) -> RunReport:
        """Record a run that could not start: Error with the reason (on the run, and on a
        task run named ``(start)`` per project). Without a readable state database nothing
        can be recorded."""
        if request.dry_run:
            return RunReport(
                None, "Error", request.projects, reason=reason, dry_run=True, failed_start=True
            )
        try:
            state = StateStore(self.state_url)
        except P2CError:
            return RunReport(None, "Error", request.projects, reason=reason, failed_start=True)
        try:
            run_id = state.start_run(
                list(request.projects), "failed-start", started_by=request.started_by
            )
            if on_start is not None:
                on_start(run_id)
            for project in request.projects:
                task_run = state.start_task(run_id, LegId(project, "(start)", ""))
                state.finish_task(task_run, TaskCounts(), RunStatus.ERROR, reason)
            state.finish_run(run_id, RunStatus.ERROR, reason)
            report = self._report_from_state(state, run_id, request, RunStatus.ERROR)
        finally:
            state.close()
        report.reason = reason
        report.failed_start = True
        return report

    def recover(
        self, unfinished: Sequence[Any], state_url: str, status_of: Callable[[int], str | None]
    ) -> list[tuple[int, str]]:
        """The final status of runs this service started and never saw end (its process was
        killed). The engine marks runs whose process is gone; a run left by a predecessor
        with this very process id (a container's first process) it cannot tell from a live
        one, so it is stopped here. Runs of another live process are left alone.
        """
        host, me = socket.gethostname(), os.getpid()
        marked: list[tuple[int, str]] = []
        state = StateStore(state_url)
        try:
            state.settle()
            for row in unfinished:
                if row.host != host:
                    continue  # another machine's: its own service (or time) settles it
                status = status_of(row.run_id) or RunStatus.ERROR
                if status == RunStatus.RUNNING and row.pid == me:
                    reason = (
                        f"the service process that ran it (pid {row.pid} on {row.host}) "
                        "stopped before it finished; the next run continues after its last "
                        "whole batch"
                    )
                    state.stop_run(row.run_id, RunStatus.ERROR, reason)
                    status = RunStatus.ERROR
                if status != RunStatus.RUNNING:
                    marked.append((row.run_id, str(status)))
        finally:
            state.close()
        return marked


def _task_dict(task: Any) -> dict[str, Any]:
    return {
        "project": task.project,
        "task": task.task,
        "leg": task.leg,
        "status": task.status,
        "counts": {c: int(getattr(task, c) or 0) for c in COUNTS},
        "message": task.message,
    }


def _report(result: RunResult, request: RunRequest) -> RunReport:
    tasks = [
        {
            "project": t.project,
            "task": t.task,
            "leg": t.leg,
            "status": t.status,
            "counts": {c: getattr(t.counts, c) for c in COUNTS},
            "message": t.message,
            "examples": list(t.examples),
        }
        for t in result.tasks
    ]
    status = str(result.status)
    return RunReport(
        None if result.dry_run else (result.run_id or None),
        status,
        request.projects,
        tasks,
        reason=result.cancelled,
        dry_run=result.dry_run,
    )
