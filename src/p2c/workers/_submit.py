"""Runs sent to the workers and followed to their end: ``p2c run``, ``p2c retry`` and
``p2c serve`` with ``executor: {type: celery}``.

Each project is one job (one Celery task, one run in the history). A project is sent once
every prerequisite project of the same request has ended well, so Accounts runs before the
contacts and independent projects run in parallel on as many workers; a project whose
prerequisite failed is skipped with the reason, as the in-process engine does. While the
jobs run, their progress comes back through the board and is passed to the same callbacks
the engine calls in process.
"""

from __future__ import annotations

__all__ = ["RemoteRuns", "check_broker"]

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from p2c._errors import ConfigError, ExitCode
from p2c.config import check_organizations
from p2c.connectors import use_rate_budgets
from p2c.engine import (
    CancelToken,
    PlannedProject,
    RunResult,
    StateStore,
    TaskCounts,
    TaskResult,
    plan,
)
from p2c.workers._app import broker_client, celery_app, unreachable_broker
from p2c.workers._board import JobBoard
from p2c.workers._budget import redis_budgets
from p2c.workers._jobs import Job, RetrySelection, raise_refusal, result_from
from p2c.workspace import CeleryExecutor, Workspace

Progress = Callable[[str, int], None]
Expected = Callable[[str, int | None], None]
Notice = Callable[[str], None]

_POLL = 0.2
_NO_WORKER_NOTICE = 5.0  # seconds before saying that no worker took a job yet


def _executor(ws: Workspace) -> CeleryExecutor:
    executor = ws.config.executor
    if not isinstance(executor, CeleryExecutor):
        raise ConfigError(
            "The workspace runs in process (executor: local): there are no workers to send "
            "runs to.",
            fix="set `executor: {type: celery, broker: redis://HOST:6379/0}` in p2c.yaml",
        )
    return executor


def check_broker(ws: Workspace) -> redis.Redis:
    """A connection to the workspace's broker, checked.

    Raises:
        ConnectionFailed: the broker does not answer (exit status 5).
    """
    executor = _executor(ws)
    client = broker_client(executor, timeout=3.0)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise unreachable_broker(executor, error) from None
    return client


@dataclass
class _Followed:
    job: Job
    sent: float = field(default_factory=time.monotonic)
    seen: int = 0
    started: bool = False


class RemoteRuns:
    """Sends a request's projects to the workers as jobs and follows them.

    Args:
        ws: The workspace (``executor: celery``).
        progress: Called as the engine would: records done in a task leg.
        expected: Called as the engine would: records a pass will read.
        notice: Told what the user should know while waiting (no worker yet, a job handed
            back by a stopping worker).
        on_run: Called with each run id as soon as a worker started the run.

    Raises:
        ConnectionFailed: the broker cannot be reached.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        progress: Progress | None = None,
        expected: Expected | None = None,
        notice: Notice | None = None,
        on_run: Callable[[int], None] | None = None,
    ) -> None:
        self.ws = ws
        self.executor = _executor(ws)
        self.client = check_broker(ws)
        self.board = JobBoard(self.client)
        self.app = celery_app(self.executor)
        self.progress = progress or (lambda label, n: None)
        self.expected = expected or (lambda label, n: None)
        self.notice = notice or (lambda text: None)
        self.on_run = on_run or (lambda run_id: None)

    def close(self) -> None:
        self.client.close()

    def run(
        self,
        projects: Sequence[str] | None,
        *,
        full: bool = False,
        wait: float = 0.0,
        cancel: CancelToken | None = None,
        started_by: str = "command",
    ) -> list[RunResult]:
        """Run the projects (default all) on the workers; one result per job, in the order
        they ended, then one for the projects that were skipped or never sent."""
        cancel = cancel or CancelToken()
        planned = self._plan(projects)
        names = {p.project.name for p in planned}
        waiting = {p.project.name: p for p in planned}
        followed: dict[str, _Followed] = {}
        results: list[RunResult] = []
        failed: set[str] = set()
        skipped = RunResult(0)
        try:
            while waiting or followed:
                if cancel.cancelled:
                    self._cancel(followed, waiting, skipped, cancel.reason or "cancelled")
                self._send_ready(waiting, followed, failed, skipped, names, full, wait, started_by)
                for name, item in list(followed.items()):
                    result = self._follow(item)
                    if result is not None:
                        del followed[name]
                        results.append(result)
                        if result.status in ("Error", "Cancelled"):
                            failed.add(name)
                if followed:
                    cancel.wait(_POLL)
        except redis.RedisError as error:
            raise unreachable_broker(self.executor, error) from None
        if skipped.tasks or skipped.cancelled:
            results.append(skipped)
        return results

    def _plan(self, projects: Sequence[str] | None) -> list[PlannedProject]:
        state = StateStore(self.ws.state_url())
        try:
            planned = plan(self.ws.config.projects, projects, state.last_status, self.ws.templates)
        finally:
            state.close()
        # The checks' requests count in the servers' windows as the workers' do: they
        # spend the identities' shared budgets, or the workers learn too small a quota.
        use_rate_budgets(redis_budgets(self.client))
        try:
            check_organizations(self.ws, [p.project.connection_set for p in planned])
        finally:
            use_rate_budgets(None)
        return planned

    def _send_ready(
        self,
        waiting: dict[str, PlannedProject],
        followed: dict[str, _Followed],
        failed: set[str],
        skipped: RunResult,
        names: set[str],
        full: bool,
        wait: float,
        started_by: str,
    ) -> None:
        for name, item in list(waiting.items()):
            ours = [p for p in item.prerequisites if p in names]
            blocked = [p for p in ours if p in failed]
            if blocked:
                del waiting[name]
                failed.add(name)
                why = f"prerequisite project {blocked[0]!r} failed"
                for task in item.template.tasks:
                    for leg in task.legs:
                        skipped.tasks.append(
                            TaskResult(
                                name,
                                task.name,
                                leg.name,
                                "Skipped",
                                TaskCounts(),
                                why,
                                ExitCode.PREREQUISITE,
                            )
                        )
                continue
            if any(p in waiting or p in followed for p in ours):
                continue
            del waiting[name]
            job = Job(projects=(name,), full=full, started_by=started_by, wait=wait)
            self.send(job)
            followed[name] = _Followed(job)

    def send(self, job: Job) -> None:
        """Put a job on the queue."""
        try:
            self.app.send_task(
                "p2c.run",
                args=[job.model_dump(mode="json")],
                queue=self.executor.queue,
                task_id=job.id,
            )
        except Exception as error:  # kombu's OperationalError and friends: the broker
            raise unreachable_broker(self.executor, error) from None

    def retry(
        self,
        projects: Sequence[str],
        *,
        run_id: int | None = None,
        source_key: str | None = None,
        wait: float = 0.0,
        cancel: CancelToken | None = None,
        started_by: str = "retry",
    ) -> RunResult | None:
        """Retry queued failed records of ``projects`` on a worker (those of run ``run_id``,
        the record ``source_key``, or all), as ``Engine.retry`` does in process: one job,
        one run; None when nothing waits in the error queue.

        Raises:
            P2CError: what the worker met before the run began (no such run or record), with
                its exit status.
            ConnectionFailed: the broker cannot be reached.
        """
        cancel = cancel or CancelToken()
        selection = RetrySelection(run_id=run_id, source_key=source_key)
        job = Job(projects=tuple(projects), started_by=started_by, wait=wait, retry=selection)
        item = _Followed(job)
        try:
            self.send(job)
            while True:
                if cancel.cancelled and self.board.cancelled(job.id) is None:
                    self.board.cancel(job.id, cancel.reason or "cancelled")
                document = self._follow_document(item)
                if document is not None:
                    break
                cancel.wait(_POLL)
        except redis.RedisError as error:
            raise unreachable_broker(self.executor, error) from None
        if document.get("nothing"):
            return None
        raise_refusal(document)
        return result_from(document)

    def _follow(self, item: _Followed) -> RunResult | None:
        document = self._follow_document(item)
        return None if document is None else result_from(document)

    def _follow_document(self, item: _Followed) -> dict[str, Any] | None:
        events = self.board.events(item.job.id, item.seen)
        item.seen += len(events)
        for event in events:
            kind = event.get("type")
            if kind == "advance":
                self.progress(str(event["label"]), int(event["n"]))
            elif kind == "expected":
                n = event["n"]
                self.expected(str(event["label"]), None if n is None else int(n))
            elif kind == "run":
                self.on_run(int(event["run_id"]))
            elif kind == "started":
                item.started = True
            elif kind == "handed-back":
                self.notice(
                    f"{', '.join(item.job.projects)}: the worker {event['worker']} is stopping "
                    "and handed the run back; another worker goes on after its last batch."
                )
        if not item.started and time.monotonic() - item.sent > _NO_WORKER_NOTICE:
            item.started = True  # said once
            self.notice(
                f"{', '.join(item.job.projects)}: waiting for a worker to take the run "
                f"(queue {self.executor.queue!r}; is `p2c worker` running?)"
            )
        return self.board.result(item.job.id)

    def _cancel(
        self,
        followed: dict[str, _Followed],
        waiting: dict[str, PlannedProject],
        skipped: RunResult,
        reason: str,
    ) -> None:
        for item in followed.values():
            if self.board.cancelled(item.job.id) is None:
                self.board.cancel(item.job.id, reason)
        if waiting:
            skipped.cancelled = reason
            waiting.clear()
