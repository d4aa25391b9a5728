"""Scale-out: runs on Celery workers with a Redis broker (``executor: {type: celery}``).

The Celery app is built from the workspace's executor settings (``_app.py``); a run of a
project is one task (``_tasks.py``), sent and followed by ``p2c run`` and ``p2c serve``
(``_submit.py``) and run by ``p2c worker`` (``_worker.py``). Where a job stands lives in
Redis (``_board.py``): so does the rate budget every worker of one application user and
service shares (``_budget.py``). First syncs can be split into key-range partitions run
in parallel (``_partitions.py``).
"""

from p2c.workers._app import broker_client, celery_app
from p2c.workers._board import JobBoard
from p2c.workers._budget import RedisBudget, redis_budgets
from p2c.workers._jobs import Job
from p2c.workers._submit import RemoteRuns, check_broker
from p2c.workers._worker import run_worker

__all__ = [
    "Job",
    "JobBoard",
    "RedisBudget",
    "RemoteRuns",
    "broker_client",
    "celery_app",
    "check_broker",
    "redis_budgets",
    "run_worker",
]
