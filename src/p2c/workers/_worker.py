"""``p2c worker``: a Celery worker with p2c's tasks, for one workspace.

A worker is one process running up to ``concurrency`` jobs on threads (Celery's ``threads``
pool): a SIGKILL takes the whole worker and everything it ran, whose messages the broker
gives to another worker after the visibility timeout. Run one worker per core (or more
when the runs wait on Dynamics rather than compute). SIGTERM (and Ctrl-C) stops a worker
gracefully: every run it holds stops after the batch in progress, is recorded Cancelled,
and is handed back to the queue, where another worker goes on from the last batch; a batch
still going ``stop_grace_seconds`` later is abandoned (see ``WorkerContext.abandon``).
"""

from __future__ import annotations

__all__ = ["run_worker"]

import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from celery import signals

from p2c.connectors import use_rate_budgets
from p2c.workers._app import broker_client, celery_app
from p2c.workers._budget import redis_budgets
from p2c.workers._context import WorkerContext, set_context
from p2c.workers._submit import _executor
from p2c.workers._tasks import TASKS
from p2c.workspace import Workspace


def run_worker(
    root: Path | None,
    *,
    concurrency: int = 1,
    queues: Sequence[str] = (),
    loglevel: str = "INFO",
    name: str | None = None,
) -> None:
    """Run a worker until it is stopped (SIGTERM, SIGINT).

    Args:
        root: The workspace folder (its p2c.yaml says where the broker is).
        concurrency: Jobs at once, each on a thread.
        queues: Queues to take jobs from (default: the workspace's ``executor.queue``).
        name: The worker's node name (default ``p2c-<pid>@<host>``).
    """
    ws = Workspace.open(root)
    executor = _executor(ws)
    app = celery_app(executor, TASKS)
    client = broker_client(executor)
    ctx = WorkerContext(ws.root, executor, client, app)
    set_context(ctx)
    # One rate budget per identity and service, shared with every worker through Redis.
    use_rate_budgets(redis_budgets(client))

    def shutting_down(**_: Any) -> None:
        ctx.stop()

    signals.worker_shutting_down.connect(shutting_down, weak=False)

    worker = app.Worker(
        hostname=name or f"p2c-{os.getpid()}@{socket.gethostname()}",
        pool="threads",
        concurrency=concurrency,
        queues=list(queues) or [executor.queue],
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
        optimization="fair",
    )
    worker.start()
