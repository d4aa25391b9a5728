"""What a worker process knows: its workspace, the broker, the board, the runs it holds."""

from __future__ import annotations

__all__ = ["WorkerContext", "check_same_host", "context", "set_context"]

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from p2c._errors import ConfigError
from p2c.engine import CancelToken
from p2c.workers._board import JobBoard
from p2c.workspace import CeleryExecutor, Workspace


@dataclass
class WorkerContext:
    """A worker's settings and state; one per process."""

    root: Path
    executor: CeleryExecutor
    client: redis.Redis
    app: Any
    board: JobBoard = field(init=False)
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    stopping: threading.Event = field(default_factory=threading.Event)
    _tokens: set[CancelToken] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.board = JobBoard(self.client)

    @contextmanager
    def holding(self, token: CancelToken) -> Iterator[None]:
        """A run in progress: stopped between batches when the worker is asked to stop."""
        with self._lock:
            self._tokens.add(token)
        if self.stopping.is_set():
            token.cancel("the worker is stopping (SIGTERM)")
        try:
            yield
        finally:
            with self._lock:
                self._tokens.discard(token)

    def stop(self) -> None:
        """SIGTERM: every run stops after its batch in progress and is handed back."""
        self.stopping.set()
        with self._lock:
            for token in self._tokens:
                token.cancel("the worker is stopping (SIGTERM)")


_context: WorkerContext | None = None


def set_context(value: WorkerContext) -> None:
    global _context
    _context = value


def context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("p2c's tasks run in `p2c worker`, which sets up their context")
    return _context


def check_same_host(ws: Workspace, projects: tuple[str, ...], sender: str) -> None:
    """A sandbox connection is files in the workspace folder: a worker on another host than
    the one that sent the job would read and write other files than the sender's.

    Raises:
        ConfigError: a project uses a sandbox connection and this host is not the sender's.
    """
    here = socket.gethostname()
    if sender == here:
        return
    for name in projects:
        project = ws.project(name)
        connections = ws.connection_set(project.connection_set)
        for system in ("sales", "finops", "cds"):
            connection = getattr(connections, system)
            if connection is not None and connection.type == "sandbox":
                raise ConfigError(
                    f"Project {name!r} uses the sandbox ({system}: SQLite files in the "
                    f"workspace folder), which works only when every worker runs on the host "
                    f"that holds those files: the run was sent from {sender}, this worker runs "
                    f"on {here}.",
                    record=name,
                    fix="run the workers on that host, or connect the project to Dynamics "
                    "over HTTPS (dataverse, finops), which works from any host",
                )
