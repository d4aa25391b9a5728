"""The Celery app of a workspace, built from its ``executor`` settings, and the Redis
connection the board and the rate budgets share.

Celery with Redis has one known pitfall: a task taken but not acknowledged comes back to
another worker only after the broker's *visibility timeout* (an hour by default). p2c
acknowledges a task when it ends (``acks_late``; a worker that dies mid-task does not lose
it, ``task_reject_on_worker_lost``) and sets the timeout from ``executor.visibility_timeout``
(a minute by default), with the sweep that gives such tasks back every tenth of it. A run
longer than that is delivered again while it still runs; the job's lease (``_board.py``)
makes the second delivery wait instead of running it twice.
"""

from __future__ import annotations

__all__ = ["broker_client", "broker_label", "broker_url", "celery_app", "unreachable_broker"]

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from celery import Celery

from p2c._errors import ConfigError, ConnectionFailed
from p2c.workspace import CeleryExecutor


def broker_url(executor: CeleryExecutor) -> str:
    """The broker URL with the password from ``broker_password_env`` (never printed)."""
    if executor.broker_password_env is None:
        return executor.broker
    password = os.environ.get(executor.broker_password_env)
    if password is None:
        raise ConfigError(
            f"The environment variable {executor.broker_password_env} (executor."
            "broker_password_env in p2c.yaml) is not set.",
            fix="set it to the Redis password",
        )
    parts = urlsplit(executor.broker)
    netloc = f":{password}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def broker_label(executor: CeleryExecutor) -> str:
    """How messages name the broker: its URL as p2c.yaml has it (no password there)."""
    return executor.broker


def broker_client(executor: CeleryExecutor, *, timeout: float = 5.0) -> redis.Redis:
    """A Redis connection to the broker, for the job board and the rate budgets."""
    return redis.Redis.from_url(
        broker_url(executor),
        socket_connect_timeout=timeout,
        socket_timeout=max(timeout, 10.0),
        health_check_interval=30,
    )


def unreachable_broker(executor: CeleryExecutor, error: Exception) -> ConnectionFailed:
    reason = str(error).split("\n", 1)[0].rstrip(".")
    password = (
        os.environ.get(executor.broker_password_env) if executor.broker_password_env else None
    )
    if password:
        reason = reason.replace(password, "***")
    return ConnectionFailed(
        f"Cannot reach the Celery broker (Redis) at {broker_label(executor)}: {reason}. "
        "No run was sent.",
        fix="start Redis there, or correct executor.broker in p2c.yaml (or set "
        "`executor: {type: local}` to run in this process)",
    )


def _restore_every(visibility_timeout: float) -> int:
    return max(1, int(visibility_timeout // 10))


def celery_app(executor: CeleryExecutor, tasks: dict[str, Any] | None = None) -> Any:
    """The Celery app (typed Any: Celery has no type hints) with p2c's settings and, for a
    worker, its tasks (name -> function taking the bound task first)."""
    app = Celery("p2c", broker=broker_url(executor), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=executor.queue,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": executor.visibility_timeout,
            "unacked_restore_interval": _restore_every(executor.visibility_timeout),
            "unacked_restore_throttle": 1,
            "socket_timeout": 15,
            "socket_connect_timeout": 5,
        },
        # Sending gives up quickly when the broker is down: `p2c run` says so (exit 5).
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    for name, function in (tasks or {}).items():
        app.task(name=name, bind=True, max_retries=None, acks_late=True)(function)
    return app
