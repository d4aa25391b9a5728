"""The run loop: plan the projects, lock them, run each task leg, keep the history.

A run ends Completed, Warning, Error or Cancelled; it is never left Running. A
``CancelToken`` is looked at before each task leg and after each batch (committed, in a real
run), so a cancelled run stops between batches and is recorded Cancelled with what it wrote;
``RunAbandoned`` stops it at once and it is still recorded; any other exception marks the run
Error with the reason before it goes on up (an internal error exits 70 from the command
line). A run whose process vanished (SIGKILL, a machine that died) is marked by the history
(see ``_history.py``).

A dry run touches neither the destination nor the state: sandbox destinations are copied
to a scratch folder first, so the preview of a later project sees what an earlier one
would have written; other destinations are asked to preview.
"""

from __future__ import annotations

__all__ = ["Engine", "RunResult", "TaskResult"]

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from p2c._errors import ExitCode, NotFoundError, P2CError
from p2c.config import check_organizations
from p2c.connectors import DryRun
from p2c.engine._cancel import CancelToken, RunAbandoned, RunCancelled
from p2c.engine._collector import objects_before_kept
from p2c.engine._leg import Expected, LegRun
from p2c.engine._lock import STALE_AFTER, ProjectLocks
from p2c.engine._partition import Partition, Partitioner, PartitionResult
from p2c.engine._plan import PlannedProject, plan
from p2c.engine._pulse import Pulse
from p2c.engine._records import LegId, RunOptions, RunStatus, TaskCounts
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
    """What a run did, task leg by task leg.

    Attributes:
        run_id: The run in the history; 0 for a dry run, or a run stopped before it started.
        cancelled: Why the run stopped before its end, when it was cancelled.
        left: Records known to be left for the next run, when the run was cancelled and
            knew what it had to do (a retry); None when unknown.
    """

    run_id: int
    tasks: list[TaskResult] = field(default_factory=list)
    dry_run: bool = False
    cancelled: str | None = None
    left: int | None = None

    @property
    def exit_code(self) -> ExitCode:
        codes = [t.exit_code for t in self.tasks]
        if any(t.counts.failed for t in self.tasks) or ExitCode.FAILED_RECORDS in codes:
            return ExitCode.FAILED_RECORDS
        return max(codes, default=ExitCode.OK)

    @property
    def status(self) -> RunStatus:
        if self.cancelled is not None:
            return RunStatus.CANCELLED
        statuses = {t.status for t in self.tasks}
        if statuses & {"Error", "Skipped"}:
            return RunStatus.ERROR
        if "Warning" in statuses:
            return RunStatus.WARNING
        return RunStatus.COMPLETED

    @property
    def written(self) -> int:
        """Records created or updated, over every task leg."""
        return sum(t.counts.created + t.counts.updated for t in self.tasks)


def _stop_reason(error: BaseException) -> tuple[RunStatus, str]:
    if isinstance(error, KeyboardInterrupt):
        return RunStatus.CANCELLED, "interrupted: stopped at once, in the middle of a batch"
    if isinstance(error, P2CError):
        return RunStatus.ERROR, str(error)
    return RunStatus.ERROR, f"internal error: {type(error).__name__}: {error}"


class Engine:
    """Runs a workspace's projects.

    Args:
        workspace: The opened workspace.
        state: The state database.
        progress: Called after each page with a label and the number of records.
        wait: Seconds to wait for a project another run holds.
        stale_after: Seconds after which a silent lock holder is taken for gone (default:
            ten minutes; workers use their executor's ``stale_after_seconds``).
        heartbeat_every: Refresh the run's locks and history row this often from a thread
            (None: after each batch only).
        partitioner: Runs the key-range partitions of a leg's first sync in parallel; None
            reads every first sync in one pass.
        expected: Called before each pass of a task leg with its label and how many records
            the pass reads, when the source can count them cheaply (else None): the total
            of a progress display. Counting costs a query, so it is asked only when given.
    """

    def __init__(
        self,
        workspace: Workspace,
        state: StateStore,
        progress: Progress | None = None,
        *,
        wait: float = 0.0,
        expected: Expected | None = None,
        stale_after: float | None = None,
        heartbeat_every: float | None = None,
        partitioner: Partitioner | None = None,
    ):
        self.workspace = workspace
        self.state = state
        self.progress = progress or (lambda label, n: None)
        self.wait = wait
        self.expected = expected
        self.stale_after = stale_after or STALE_AFTER.total_seconds()
        self.heartbeat_every = heartbeat_every
        self.partitioner = partitioner

    def run(
        self,
        projects: Sequence[str] | None = None,
        options: RunOptions | None = None,
        *,
        cancel: CancelToken | None = None,
        started_by: str = "command",
    ) -> RunResult:
        """Run projects (default all) in prerequisite order.

        Args:
            projects: Project names.
            options: Full, dry run, retry.
            cancel: Cancel it (from another thread or a signal handler) to stop the run after
                the batch in progress; the result then has ``cancelled`` set and the history
                says Cancelled. Raising ``RunAbandoned`` in the running thread stops it at
                once, recorded the same way.
            started_by: What started the run, kept in the history: ``command``, ``retry``,
                ``schedule``, ``api:<token name>``.

        Raises:
            P2CError: the run could not start (plan, lock, state database); or, after the
                run was recorded Error with the reason, any exception that stopped it.
        """
        options = options or RunOptions()
        cancel = cancel or CancelToken()
        planned = plan(
            self.workspace.config.projects,
            projects,
            self.state.last_status,
            self.workspace.templates,
        )
        # Business units and legal entities exist, before anything is written (p2c.config).
        check_organizations(self.workspace, [p.project.connection_set for p in planned])
        if options.dry_run:
            return self._dry_run(planned, options, cancel)
        names = [p.project.name for p in planned]
        done: list[RunResult] = []
        try:
            with ProjectLocks(
                self.state.engine,
                names,
                wait=self.wait,
                cancel=cancel,
                stale_after=self.stale_after,
            ) as locks:
                if cancel.cancelled:
                    raise RunCancelled(cancel.reason or "cancelled")
                done.append(self._locked_run(planned, options, locks.heartbeat, cancel, started_by))
        except (RunCancelled, RunAbandoned):
            if not done:  # stopped before the run started (waiting for a lock): no history
                return RunResult(0, cancelled=cancel.reason or "cancelled")
        return done[0]

    def run_partition(self, part: Partition, cancel: CancelToken | None = None) -> PartitionResult:
        """Run one key range of a leg's first sync for the run that split it (which holds
        the project's lock and saves the cursor once every partition is done).

        Args:
            part: The key range.
            cancel: Cancelled, the partition stops after the batch in progress; its result
                says why in ``cancelled``.

        Raises:
            P2CError: the partition cannot run (its project or leg is gone) or failed.
        """
        item = plan(
            self.workspace.config.projects,
            [part.project],
            lambda _: "Completed",  # the run that split the leg checked its prerequisites
            self.workspace.templates,
        )[-1]
        legs = [
            leg
            for task in item.template.tasks
            if task.name == part.task
            for leg in task.legs
            if leg.name == part.leg
        ]
        if not legs:
            raise NotFoundError(
                f"{part.name}: project {part.project!r} has no task leg {part.task!r} "
                f"{part.leg!r} any more.",
                fix="p2c.yaml changed while the run was going on: run again",
            )
        runner = LegRun(
            self.workspace,
            self.state,
            item.project,
            part.task,
            legs[0],
            RunOptions(),
            run_id=part.run_id,
            task_run_id=part.task_run_id,
            progress=self._checked(cancel or CancelToken()),
            heartbeat=lambda: None,
            partition=part,
        )
        try:
            with objects_before_kept():
                outcome = runner.run()
        except RunCancelled as stop:
            return PartitionResult(
                runner.outcome.counts, None, runner.outcome.notes, str(stop) or "cancelled"
            )
        if outcome.stopped:
            raise P2CError(f"{part.name}: {outcome.stopped}")
        return PartitionResult(outcome.counts, runner.position, outcome.notes)

    def retry(
        self,
        *,
        run_id: int | None = None,
        source_key: str | None = None,
        projects: Sequence[str] | None = None,
        cancel: CancelToken | None = None,
        started_by: str = "retry",
    ) -> RunResult | None:
        """Read the queued failed records again and write them (after the data, the mapping
        or the destination was fixed): those of one run, one record, or all.

        Returns:
            The run's result, or None when nothing waits in the error queue (for that run).

        Raises:
            NotFoundError: there is no such run, or no queued record has that key.
        """
        keys: dict[LegId, list[str]] = {}
        for queued in self.state.queue(run_id=run_id, source_key=source_key):
            if not projects or queued.leg.project in projects:
                keys.setdefault(queued.leg, []).append(queued.source_key)
        if not keys:
            if source_key is not None:
                raise NotFoundError(
                    f"No failed record in the error queue has the key {source_key!r}.",
                    record=source_key,
                    fix="`p2c errors` lists the queue",
                )
            if run_id is not None and self.state.run(run_id) is None:
                raise NotFoundError(
                    f"There is no run {run_id}.", fix="`p2c history` lists the runs"
                )
            return None
        chosen = sorted({leg.project for leg in keys})
        options = RunOptions(retry_only=True, retry_keys=keys)
        return self.run(chosen, options, cancel=cancel, started_by=started_by)

    def _locked_run(
        self,
        planned: list[PlannedProject],
        options: RunOptions,
        heartbeat: Callable[[], None],
        cancel: CancelToken,
        started_by: str,
    ) -> RunResult:
        retention = timedelta(days=self.workspace.config.state.retention_days)
        self.state.settle()  # runs of other projects whose process is gone: not Running
        self.state.purge(datetime.now(UTC) - retention)
        mode = "retry" if options.retry_only else "full" if options.full else "incremental"
        names = [p.project.name for p in planned]
        result = RunResult(self.state.start_run(names, mode, started_by=started_by))
        try:
            with self._pulse(heartbeat, result.run_id):
                self._run_all(planned, options, result, self.workspace, heartbeat, cancel)
        except RunAbandoned as abandoned:
            why = cancel.reason or str(abandoned) or "stopped"
            result.cancelled = f"{why}: stopped at once, the batch in progress abandoned"
            self.state.stop_run(result.run_id, RunStatus.CANCELLED, result.cancelled)
            result.tasks.extend(self._recorded_tasks(result.run_id, len(result.tasks)))
        except BaseException as error:
            status, reason = _stop_reason(error)
            try:
                self.state.stop_run(result.run_id, status, reason)
            except Exception as failed:  # the state database may be what failed
                error.add_note(f"p2c could not record run {result.run_id} as {status}: {failed}")
            raise
        else:
            self.state.finish_run(result.run_id, result.status, result.cancelled)
        if result.cancelled is not None and options.retry_only:
            result.left = self._left(result.run_id, options)
        return result

    def _pulse(self, heartbeat: Callable[[], None], run_id: int) -> AbstractContextManager[object]:
        if self.heartbeat_every is None:
            return nullcontext()

        def beat() -> None:
            heartbeat()
            self.state.touch_run(run_id)

        return Pulse(beat, self.heartbeat_every)

    def _recorded_tasks(self, run_id: int, known: int) -> list[TaskResult]:
        """The task runs of a run beyond the first ``known``, as the history has them."""
        return [
            TaskResult(
                row.project,
                row.task,
                row.leg,
                row.status,
                TaskCounts(
                    row.read, row.created, row.updated, row.unchanged, row.skipped, row.failed
                ),
                row.message,
            )
            for row in self.state.task_runs(run_id)[known:]
        ]

    def _left(self, run_id: int, options: RunOptions) -> int:
        """Queued records a cancelled retry did not get to."""
        left = 0
        for leg, wanted in (options.retry_keys or {}).items():
            waiting = {q.source_key for q in self.state.queue(leg=leg) if q.last_run_id != run_id}
            left += len(waiting.intersection(wanted))
        return left

    def _dry_run(
        self, planned: list[PlannedProject], options: RunOptions, cancel: CancelToken
    ) -> RunResult:
        result = RunResult(0, dry_run=True)
        with tempfile.TemporaryDirectory(prefix="p2c-dry-run-") as scratch:
            workspace = _scratch_copy(self.workspace, Path(scratch))
            try:
                self._run_all(planned, options, result, workspace, lambda: None, cancel)
            except RunAbandoned:
                result.cancelled = cancel.reason or "stopped"
        return result

    @staticmethod
    def _legs(
        planned: list[PlannedProject], options: RunOptions
    ) -> Iterator[tuple[PlannedProject, LegId, Leg]]:
        for item in planned:
            for task in item.template.tasks:
                for leg in task.legs:
                    leg_id = LegId(item.project.name, task.name, leg.name)
                    if options.retry_only and not (options.retry_keys or {}).get(leg_id):
                        continue
                    yield item, leg_id, leg

    def _run_all(
        self,
        planned: list[PlannedProject],
        options: RunOptions,
        result: RunResult,
        workspace: Workspace,
        heartbeat: Callable[[], None],
        cancel: CancelToken,
    ) -> None:
        failed_projects: set[str] = set()
        for item, leg_id, leg in self._legs(planned, options):
            if cancel.cancelled:
                result.cancelled = cancel.reason or "cancelled"
                return
            blocked = [p for p in item.prerequisites if p in failed_projects]
            task_run = 0 if options.dry_run else self.state.start_task(result.run_id, leg_id)
            if blocked:
                why = f"prerequisite project {blocked[0]!r} failed"
                outcome = self._skip(task_run, leg_id, why)
            else:
                runner = LegRun(
                    workspace,
                    self.state,
                    item.project,
                    leg_id.task,
                    leg,
                    options,
                    run_id=result.run_id,
                    task_run_id=task_run,
                    progress=self._checked(cancel),
                    heartbeat=heartbeat,
                    expected=self.expected,
                    partitioner=None if options.dry_run else self.partitioner,
                )
                outcome = self._run_leg(runner, leg_id, task_run)
            result.tasks.append(outcome)
            if outcome.status == "Cancelled":
                result.cancelled = cancel.reason or "cancelled"
                return
            if outcome.status in ("Error", "Skipped"):
                failed_projects.add(item.project.name)

    def _checked(self, cancel: CancelToken) -> Progress:
        """The progress callback, which a leg calls after each batch (once it is committed,
        in a real run): where a cancelled run stops."""

        def progress(label: str, n: int) -> None:
            self.progress(label, n)
            if cancel.cancelled:
                raise RunCancelled(cancel.reason or "cancelled")

        return progress

    def _skip(self, task_run: int, leg: LegId, why: str) -> TaskResult:
        counts = TaskCounts()
        if task_run:
            self.state.finish_task(task_run, counts, "Skipped", why)
        return TaskResult(
            leg.project, leg.task, leg.leg, "Skipped", counts, why, ExitCode.PREREQUISITE
        )

    def _run_leg(self, runner: LegRun, leg_id: LegId, task_run: int) -> TaskResult:
        project, task, leg = leg_id.project, leg_id.task, leg_id.leg
        try:
            with objects_before_kept():
                outcome = runner.run()
        except RunCancelled as stop:
            counts = runner.outcome.counts
            message = f"{stop}: stopped after a whole batch; the rest is read by the next run"
            if task_run:
                self.state.finish_task(task_run, counts, "Cancelled", message)
            return TaskResult(project, task, leg, "Cancelled", counts, message)
        except P2CError as error:
            message = str(error)
            counts = runner.outcome.counts
            if task_run:
                self.state.finish_task(task_run, counts, "Error", message)
            return TaskResult(project, task, leg, "Error", counts, message, error.exit_code)
        status = "Error" if outcome.stopped else outcome.counts.status
        message = "; ".join([*outcome.notes, *([outcome.stopped] if outcome.stopped else [])])
        if task_run:
            self.state.finish_task(task_run, outcome.counts, status, message or None)
        return TaskResult(
            project, task, leg, status, outcome.counts, message or None, examples=outcome.examples
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
