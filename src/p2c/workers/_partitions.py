"""Key-range partitions of a first sync on the workers (the engine's ``Partitioner``).

The run that splits a leg sends every partition but the first as a task, runs the first
itself, and then runs any partition no worker has taken yet (so one worker alone, or a
worker pool busy with the run itself, never waits for itself). It waits for the partitions
other workers run and takes over any whose worker went silent (its lease expired). Each
partition's result is on the board; the engine moves the leg's cursor once all are in.
"""

from __future__ import annotations

__all__ = ["CeleryPartitioner", "run_partition_here", "split_key"]

from collections.abc import Sequence
from typing import Any

from p2c._errors import ExitCode, P2CError
from p2c.engine import (
    CancelToken,
    Engine,
    Partition,
    PartitionResult,
    RunAbandoned,
    StateStore,
)
from p2c.workers._board import Lease
from p2c.workers._context import WorkerContext
from p2c.workspace import Workspace

_POLL = 0.2


class _PartitionFailed(P2CError):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(exit_code)


def split_key(job_id: str, part: Partition) -> str:
    """The board's key of one split leg: its cancel request stops every partition."""
    return f"{job_id}:split:{part.run_id}:{part.task_run_id}"


def run_partition_here(
    ctx: WorkerContext,
    ws: Workspace,
    state: StateStore,
    job_id: str,
    key: str,
    document: dict[str, Any],
) -> None:
    """Run a partition this worker holds the lease of, and put its result on the board.

    It stops after the batch in progress when the run is cancelled (the job's cancel
    request, or the split's when the run that split the leg stopped) and says so in its
    result. When this worker is stopping (SIGTERM) it gives the partition back without a
    result instead (at once, when the batch outlives the stop grace): the run that split
    the leg runs it again (re-reading a range is safe).
    """
    part = Partition.from_document(document)
    board = ctx.board
    token = CancelToken()
    watch = (job_id, split_key(job_id, part))

    def progress(label: str, n: int) -> None:
        board.event(job_id, {"type": "advance", "label": label, "n": n})
        asked = board.first_cancelled(watch)  # after each batch, not only each heartbeat
        if asked:
            token.cancel(asked)

    lease = Lease(
        board,
        key,
        ctx.holder,
        every=ctx.executor.heartbeat_seconds,
        stale_after=ctx.executor.stale_after_seconds,
        on_cancel=token.cancel,
        watch=watch,
    )
    with ctx.holding(token), lease:
        asked = board.first_cancelled(watch)
        if asked:
            token.cancel(asked)
        try:
            with ctx.abandonable():
                result = Engine(ws, state, progress).run_partition(part, token)
            outcome: dict[str, Any] = {"result": result.document()}
        except P2CError as error:
            outcome = {"error": str(error), "exit_code": int(error.exit_code)}
        except RunAbandoned:  # the stop grace is over: the range is read again
            return
        if lease.lost or (
            token.cancelled and ctx.stopping.is_set() and not board.first_cancelled(watch)
        ):
            return  # handed back, or taken over
        board.finish(key, ctx.holder, outcome)


class CeleryPartitioner:
    """Runs the partitions of a job's first syncs on the workers.

    Args:
        cancel: The run's token: once cancelled, partitions nobody took do not start, the
            others are asked to stop after their batch in progress.
    """

    def __init__(
        self,
        ctx: WorkerContext,
        ws: Workspace,
        state: StateStore,
        job_id: str,
        cancel: CancelToken | None = None,
    ) -> None:
        self.ctx = ctx
        self.ws = ws
        self.state = state
        self.job_id = job_id
        self.cancel = cancel or CancelToken()
        self.count = ctx.executor.partitions
        self.min_records = ctx.executor.partition_min_records

    def _key(self, part: Partition) -> str:
        return f"{self.job_id}:part:{part.run_id}:{part.task_run_id}:{part.index}"

    def run(self, parts: Sequence[Partition]) -> list[PartitionResult]:
        try:
            return self._run(parts)
        except BaseException:  # abandoned (SIGTERM's grace is over): no range goes on
            self.ctx.board.cancel(split_key(self.job_id, parts[0]), "the run stopped")
            raise

    def _run(self, parts: Sequence[Partition]) -> list[PartitionResult]:
        ctx = self.ctx
        keys = [self._key(p) for p in parts]
        for key, part in zip(keys[1:], parts[1:], strict=True):
            ctx.app.send_task(
                "p2c.partition",
                args=[self.job_id, key, part.document()],
                queue=ctx.executor.queue,
            )
        results: dict[int, PartitionResult] = {}
        told = False
        while len(results) < len(parts):
            if self.cancel.cancelled and not told:
                reason = self.cancel.reason or "cancelled"
                ctx.board.cancel(split_key(self.job_id, parts[0]), reason)
                told = True
            ran = False
            for index, (key, part) in enumerate(zip(keys, parts, strict=True)):
                if index in results:
                    continue
                if ctx.board.take(key, ctx.holder, ctx.executor.stale_after_seconds) == "ours":
                    if self.cancel.cancelled:  # nobody took it: it does not start
                        skipped = PartitionResult(cancelled=self.cancel.reason or "cancelled")
                        ctx.board.finish(key, ctx.holder, {"result": skipped.document()})
                    else:
                        run_partition_here(
                            ctx, self.ws, self.state, self.job_id, key, part.document()
                        )
                    ctx.board.release(key, ctx.holder)
                    ran = True
                outcome = ctx.board.result(key)
                if outcome is not None:
                    results[index] = self._result(part, outcome)
            if not ran and len(results) < len(parts):
                self.cancel.wait(_POLL)
        return [results[i] for i in range(len(parts))]

    @staticmethod
    def _result(part: Partition, outcome: dict[str, Any]) -> PartitionResult:
        if "error" in outcome:
            raise _PartitionFailed(str(outcome["error"]), int(outcome["exit_code"]))
        return PartitionResult.from_document(outcome["result"])
