"""What a worker process knows: its workspace, the broker, the board, the runs it holds."""

from __future__ import annotations

__all__ = ["WorkerContext", "check_same_host", "context", "set_context"]

import ctypes
import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from p2c._errors import ConfigError
from p2c.engine import CancelToken, RunAbandoned
from p2c.workers._board import JobBoard
from p2c.workspace import CeleryExecutor, Workspace

log = logging.getLogger("p2c.workers")
_EXIT_AFTER = 5.0  # seconds after abandoning the batches in progress


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
    # Threads running batches that may be abandoned (how many regions deep).
    _batches: Counter[int] = field(default_factory=Counter)
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

    @contextmanager
    def abandonable(self) -> Iterator[None]:
        """Where this thread runs batches: past the grace after SIGTERM, ``RunAbandoned`` is
        raised in it (the engine records the run and stops at once)."""
        ident = threading.get_ident()
        with self._lock:
            self._batches[ident] += 1
        try:
            yield
        finally:
            with self._lock:
                self._batches[ident] -= 1
                if not self._batches[ident]:
                    del self._batches[ident]

    def stop(self) -> None:
        """SIGTERM: every run stops after its batch in progress and is handed back; a batch
        still going after ``stop_grace_seconds`` is abandoned."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        with self._lock:
            for token in self._tokens:
                token.cancel("the worker is stopping (SIGTERM)")
        timer = threading.Timer(self.executor.stop_grace_seconds, self.abandon)
        timer.daemon = True
        timer.name = "p2c-stop-grace"
        timer.start()

    def abandon(self) -> None:
        """The grace after SIGTERM is over: stop every batch in progress at once. A thread
        waiting in a call that Python cannot interrupt (a request, a locked database) sees
        it when the call returns; one still running ``_EXIT_AFTER`` seconds later makes the
        worker exit at once (status 1), its runs then recovered as after a crash."""
        with self._lock:
            batches = list(self._batches)
            for ident in batches:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(ident), ctypes.py_object(RunAbandoned)
                )
        if not batches:
            return
        log.warning("%d batch(es) outlived the stop grace: abandoned, to run again", len(batches))
        timer = threading.Timer(_EXIT_AFTER, self._exit_if_held)
        timer.daemon = True
        timer.name = "p2c-stop-exit"
        timer.start()

    def _exit_if_held(self) -> None:
        with self._lock:
            held = len(self._batches)
        if held:
            log.error(
                "%d run(s) still in a batch %.0f s after it was abandoned: exiting at once; "
                "another worker takes them over",
                held,
                _EXIT_AFTER,
            )
            logging.shutdown()
            os._exit(1)


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
