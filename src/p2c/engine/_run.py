"""The run loop: plan the projects, lock them, run each task leg, keep the history.

A dry run touches neither the destination nor the state: sandbox destinations are copied
to a scratch folder first, so the preview of a later project sees what an earlier one
would have written; other destinations are asked to preview.
"""

from __future__ import annotations

__all__ = ["Engine", "RunResult", "TaskResult"]

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from p2c._errors import ExitCode, NotFoundError, P2CError
from p2c.config import check_organizations
from p2c.connectors import DryRun
from p2c.engine._leg import LegRun, RunOptions
from p2c.engine._lock import ProjectLocks
from p2c.engine._plan import PlannedProject, plan
from p2c.engine._records import LegId, TaskCounts
from p2c.engine._state import StateStore
from p2c.templates import Leg
from p2c.workspace import Workspace

Progress = Callable[[str, int], None]  # (label, records just processed)


@dataclass
class TaskResult:
    project: str
    task: str
    leg: str
    status: str
    counts: TaskCounts
    message: str | None = None
    exit_code: ExitCode = ExitCode.OK
    examples: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    run_id: int
    tasks: list[TaskResult] = field(default_factory=list)
    dry_run: bool = False

    @property
    def exit_code(self) -> ExitCode:
        codes = [t.exit_code for t in self.tasks]
        if any(t.counts.failed for t in self.tasks) or ExitCode.FAILED_RECORDS in codes:
            return ExitCode.FAILED_RECORDS
        return max(codes, default=ExitCode.OK)

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.tasks}
        for status in ("Error", "Skipped", "Warning"):
            if status in statuses:
                return status
        return "Completed"


class Engine:
    """Runs a workspace's projects.

    Args:
        workspace: The opened workspace.
        state: The state database.
        progress: Called after each page with a label and the number of records.
        wait: Seconds to wait for a project another run holds.
    """

    def __init__(
        self,
        workspace: Workspace,
        state: StateStore,
        progress: Progress | None = None,
        *,
        wait: float = 0.0,
    ):
        self.workspace = workspace
        self.state = state
        self.progress = progress or (lambda label, n: None)
        self.wait = wait

    def run(
        self, projects: Sequence[str] | None = None, options: RunOptions | None = None
    ) -> RunResult:
        options = options or RunOptions()
        planned = plan(self.workspace.config.projects, projects, self.state.last_status)
        # Business units and legal entities exist, before anything is written (p2c.config).
        check_organizations(self.workspace, [p.project.connection_set for p in planned])
        names = [p.project.name for p in planned]
        if options.dry_run:
            return self._dry_run(planned, options)
        with ProjectLocks(self.state.engine, names, wait=self.wait) as locks:
            retention = timedelta(days=self.workspace.config.state.retention_days)
            self.state.purge(datetime.now(UTC) - retention)
            mode = "retry" if options.retry_only else "full" if options.full else "incremental"
            run_id = self.state.start_run(names, mode)
            result = RunResult(run_id)
            try:
                self._run_all(planned, options, result, self.workspace, locks.heartbeat)
            finally:
                self.state.finish_run(run_id, result.status)
        return result

    def retry(
        self,
        *,
        run_id: int | None = None,
        source_key: str | None = None,
        projects: Sequence[str] | None = None,
    ) -> RunResult:
        """Read the queued failed records again and write them (after the data, the mapping
        or the destination was fixed): those of one run, one record, or all.

        Raises:
            NotFoundError: nothing in the error queue matches.
        """
        keys: dict[LegId, list[str]] = {}
        for queued in self.state.queue(run_id=run_id, source_key=source_key):
            if not projects or queued.leg.project in projects:
                keys.setdefault(queued.leg, []).append(queued.source_key)
        if not keys:
            raise NotFoundError(
                "No failed record in the error queue matches.",
                fix="`p2c errors` lists the queue",
            )
        chosen = sorted({leg.project for leg in keys})
        return self.run(chosen, RunOptions(retry_only=True, retry_keys=keys))

    def _dry_run(self, planned: list[PlannedProject], options: RunOptions) -> RunResult:
        result = RunResult(0, dry_run=True)
        with tempfile.TemporaryDirectory(prefix="p2c-dry-run-") as scratch:
            workspace = _scratch_copy(self.workspace, Path(scratch))
            self._run_all(planned, options, result, workspace, lambda: None)
        return result

    def _run_all(
        self,
        planned: list[PlannedProject],
        options: RunOptions,
        result: RunResult,
        workspace: Workspace,
        heartbeat: Callable[[], None],
    ) -> None:
        failed_projects: set[str] = set()
        for item in planned:
            blocked = [p for p in item.prerequisites if p in failed_projects]
            for task in item.template.tasks:
                for leg in task.legs:
                    leg_id = LegId(item.project.name, task.name, leg.name)
                    if options.retry_only and not (options.retry_keys or {}).get(leg_id):
                        continue
                    task_run = (
                        0 if options.dry_run else self.state.start_task(result.run_id, leg_id)
                    )
                    if blocked:
                        outcome = self._skip(
                            task_run, leg_id, f"prerequisite project {blocked[0]!r} failed"
                        )
                    else:
                        outcome = self._run_leg(
                            workspace,
                            item,
                            leg_id,
                            leg,
                            options,
                            result.run_id,
                            task_run,
                            heartbeat,
                        )
                    result.tasks.append(outcome)
                    if outcome.status in ("Error", "Skipped"):
                        failed_projects.add(item.project.name)

    def _skip(self, task_run: int, leg: LegId, why: str) -> TaskResult:
        counts = TaskCounts()
        if task_run:
            self.state.finish_task(task_run, counts, "Skipped", why)
        return TaskResult(
            leg.project, leg.task, leg.leg, "Skipped", counts, why, ExitCode.PREREQUISITE
        )

    def _run_leg(
        self,
        workspace: Workspace,
        item: PlannedProject,
        leg_id: LegId,
        leg: Leg,
        options: RunOptions,
        run_id: int,
        task_run: int,
        heartbeat: Callable[[], None],
    ) -> TaskResult:
        runner = LegRun(
            workspace,
            self.state,
            item.project,
            leg_id.task,
            leg,
            options,
            run_id=run_id,
            task_run_id=task_run,
            progress=self.progress,
            heartbeat=heartbeat,
        )
        try:
            outcome = runner.run()
        except P2CError as error:
            message = str(error)
            counts = runner.outcome.counts
            if task_run:
                self.state.finish_task(task_run, counts, "Error", message)
            return TaskResult(
                leg_id.project, leg_id.task, leg_id.leg, "Error", counts, message, error.exit_code
            )
        status = "Error" if outcome.stopped else outcome.counts.status
        message = "; ".join([*outcome.notes, *([outcome.stopped] if outcome.stopped else [])])
        if task_run:
            self.state.finish_task(task_run, outcome.counts, status, message or None)
        return TaskResult(
            leg_id.project,
            leg_id.task,
            leg_id.leg,
            status,
            outcome.counts,
            message or None,
            examples=outcome.examples,
        )


def _scratch_copy(workspace: Workspace, folder: Path) -> Workspace:
    """The workspace with its sandbox F&O and CDS copied into ``folder``: a dry run writes to
    the copies. Real destinations are left as they are: they preview."""
    sets = {}
    for name, connections in workspace.config.connection_sets.items():
        changed = {}
        for system in ("finops", "cds"):
            connection = getattr(connections, system)
            if connection is not None and connection.kind.dry_run is DryRun.SCRATCH_COPY:
                scratch = folder / name / system
                changed[system] = connection.kind.scratch_copy(connection, workspace.root, scratch)
        sets[name] = connections.model_copy(update=changed)
    config = workspace.config.model_copy(update={"connection_sets": sets})
    return Workspace(workspace.root, config)
