"""Stopping a run: asked politely between batches, or at once.

A :class:`CancelToken` is handed to ``Engine.run``; whoever holds it (the command line's
signal handler, the service's REST API) calls ``cancel``. The engine looks at it before each
task leg and after each batch is committed, so a cancelled run stops with every batch it
started either recorded or not begun, and is recorded Cancelled with what it wrote.

Stopping at once (a second Ctrl-C) is :class:`RunAbandoned`, raised by the signal handler
wherever the run stands: the batch in flight is abandoned (its records are read again by the
next run, and found unchanged where they were written), and the run is still recorded.
"""

from __future__ import annotations

__all__ = ["CancelToken", "RunAbandoned", "RunCancelled"]

import threading


class CancelToken:
    """Asks a run to stop after the batch in progress. Thread-safe: a run in one thread
    can be cancelled from another."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason: str | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the run to stop; the first reason given is the one recorded."""
        if not self._event.is_set():
            self._reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        """Why the run was asked to stop (``interrupted (SIGINT)``), once it was."""
        return self._reason

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking as soon as the run is cancelled; True
        when it is."""
        return self._event.wait(timeout)


class RunCancelled(Exception):
    """Raised inside the engine where it looks at a cancelled token: the leg stops there."""


class RunAbandoned(BaseException):
    """Stops a run at once, from wherever it stands (raise it from a signal handler).

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way
    (a connector's retry loop) takes it for a failure of one request.
    """
