"""The tasks a worker runs: a job (a run of projects, or a retry of queued failed records)
and a partition of a first sync.

A job is delivered at least once. Before running, a delivery looks at the board: a job with
a result is done (nothing to do); a job a live worker holds is sent again for later
(``retry``) so that, should that worker die, this message still stands for it; otherwise
the delivery takes the job's lease and runs it. The engine's project locks then keep one
run per project across every worker and host; a lock whose holder is gone (its process on
this host, or silent for ``stale_after_seconds``) is taken over, and the run goes on after
the last batch the dead worker committed.
"""

from __future__ import annotations

__all__ = ["TASKS", "run_job", "run_partition"]

import logging
from typing import Any

from p2c._errors import P2CError
from p2c.engine import CancelToken, Engine, RunAbandoned, RunOptions, RunResult, StateStore
from p2c.workers._board import Lease
from p2c.workers._context import WorkerContext, check_same_host, context
from p2c.workers._jobs import Job, error_document, nothing_document, result_document
from p2c.workers._partitions import CeleryPartitioner, run_partition_here
from p2c.workspace import Workspace

log = logging.getLogger("p2c.workers")


class _JobState(StateStore):
    """The state store of a job's run: tells the follower the run id as soon as it exists."""

    def __init__(self, url: str, ctx: WorkerContext, job: Job) -> None:
        super().__init__(url)
        self.ctx = ctx
        self.job = job

    def start_run(self, projects: Any, mode: str = "incremental", *, started_by: str = "") -> int:
        run_id = super().start_run(projects, mode, started_by=started_by)
        self.ctx.board.event(self.job.id, {"type": "run", "run_id": run_id})
        return run_id


def _execute(ctx: WorkerContext, job: Job, token: CancelToken) -> dict[str, Any] | None:
    """Run the job; its result document, or None when it was handed back (SIGTERM)."""
    executor = ctx.executor
    board = ctx.board
    try:
        ws = Workspace.open(ctx.root)
        check_same_host(ws, job.projects, job.host)
        state = _JobState(ws.state_url(), ctx, job)
    except P2CError as error:
        return error_document(job.projects, error)

    def progress(label: str, n: int) -> None:
        board.event(job.id, {"type": "advance", "label": label, "n": n})

    def expected(label: str, n: int | None) -> None:
        board.event(job.id, {"type": "expected", "label": label, "n": n})

    partitioner = (
        CeleryPartitioner(ctx, ws, state, job.id, token) if executor.partitions > 1 else None
    )
    engine = Engine(
        ws,
        state,
        progress,
        # A lock left by a dead worker on another host is stale after stale_after_seconds.
        wait=max(job.wait, 2 * executor.stale_after_seconds),
        expected=expected,
        stale_after=executor.stale_after_seconds,
        heartbeat_every=executor.heartbeat_seconds,
        partitioner=partitioner,
    )
    try:
        with ctx.abandonable():
            result = _run(engine, job, token)
        if result is None:
            return nothing_document()
    except P2CError as error:
        return error_document(job.projects, error)
    except Exception as error:  # recorded Error by the engine; the job ends with the reason
        log.exception("Job %s stopped on an internal error", job.id)
        return error_document(
            job.projects, P2CError(f"internal error: {type(error).__name__}: {error}")
        )
    finally:
        state.close()
    if result.cancelled is not None and ctx.stopping.is_set() and not board.cancelled(job.id):
        return None
    return result_document(result)


def _run(engine: Engine, job: Job, token: CancelToken) -> RunResult | None:
    """The job's run, or its retry (None: nothing to retry)."""
    if job.retry is not None:
        return engine.retry(
            run_id=job.retry.run_id,
            source_key=job.retry.source_key,
            projects=list(job.projects),
            cancel=token,
            started_by=job.started_by,
        )
    return engine.run(
        list(job.projects), RunOptions(full=job.full), cancel=token, started_by=job.started_by
    )


def run_job(task: Any, document: dict[str, Any]) -> str:
    """The task ``p2c.run``: run a job once, whatever how often it is delivered."""
    ctx = context()
    job = Job.model_validate(document)
    executor, board = ctx.executor, ctx.board
    taken = board.take(job.id, ctx.holder, executor.stale_after_seconds)
    if taken == "done":
        return "done before"
    if taken == "held":
        # Held by a live worker: come back later; should it die, this message takes over.
        wait = min(executor.stale_after_seconds, executor.visibility_timeout / 2)
        raise task.retry(countdown=wait, max_retries=None)
    token = CancelToken()
    lease = Lease(
        board,
        job.id,
        ctx.holder,
        every=executor.heartbeat_seconds,
        stale_after=executor.stale_after_seconds,
        on_cancel=token.cancel,
    )
    with ctx.holding(token), lease:
        board.event(job.id, {"type": "started", "worker": ctx.holder})
        try:
            outcome = _execute(ctx, job, token)
        except RunAbandoned:  # the stop grace ended just as the run did: run it again
            outcome = None
        if outcome is not None and not lease.lost:
            board.finish(job.id, ctx.holder, outcome)
    if outcome is None or lease.lost:  # stopping or taken over: the next goes on from here
        board.event(job.id, {"type": "handed-back", "worker": ctx.holder})
        ctx.app.send_task("p2c.run", args=[document], queue=executor.queue, task_id=job.id)
        return "handed back"
    return "done"


def run_partition(task: Any, job_id: str, key: str, document: dict[str, Any]) -> str:
    """The task ``p2c.partition``: one key range of a first sync, unless another worker (or
    the run that split it) already took it."""
    ctx = context()
    board = ctx.board
    taken = board.take(key, ctx.holder, ctx.executor.stale_after_seconds)
    if taken == "done":
        return "done before"
    if taken == "held":
        return "taken"  # its holder finishes it, or the run that split it takes it over
    try:
        ws = Workspace.open(ctx.root)
        state = StateStore(ws.state_url())
    except BaseException:  # given back at once: the run that split the leg need not wait
        board.release(key, ctx.holder)
        raise
    try:
        run_partition_here(ctx, ws, state, job_id, key, document)
    finally:
        state.close()
    return "done"


TASKS = {"p2c.run": run_job, "p2c.partition": run_partition}
