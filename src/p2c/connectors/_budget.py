"""The rate budget of one application user and service: how many requests may be in flight,
and until when everyone waits after a 429.

Every :class:`~p2c.connectors._http.ApiSession` sends through a :class:`RateBudget`. The
policy's signals drive it the same way wherever it lives: ``x-ms-dop-hint`` sets the limit
(``resize``), a throttled answer pauses everyone for ``Retry-After`` (``pause``) after which
one request probes before the rest follow (``passed``). By default each session has its own,
in this process (:class:`LocalBudget`). A process can install another factory with
:func:`use_rate_budgets`: the Celery workers install one that keeps the budget in Redis, so
that N workers of one identity share it and do not multiply the 429s. The connectors never
name what stores it.
"""

from __future__ import annotations

__all__ = ["BudgetFactory", "LocalBudget", "RateBudget", "rate_budget", "use_rate_budgets"]

import threading
import time
from collections.abc import Callable
from typing import Protocol


class RateBudget(Protocol):
    """Bounded concurrency with a shared pause, for one identity and service."""

    def enter(self) -> None:
        """Wait for a slot (and for the end of a pause), then take it."""
        ...

    def leave(self) -> None:
        """Give the slot back."""
        ...

    def pause(self, seconds: float) -> None:
        """Throttled: nobody sends for ``seconds``; then one request probes first."""
        ...

    def passed(self) -> None:
        """A request was not throttled: every thread may go again."""
        ...

    def resize(self, limit: int) -> None:
        """The server's ``x-ms-dop-hint``: how many requests may be in flight."""
        ...


# (identity, initial limit, seconds a slot may be held at most) -> the budget
BudgetFactory = Callable[[str, int, float], RateBudget]


class LocalBudget:
    """A rate budget in this process: the limit follows the server's hint."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self.resume_at = 0.0
        # After a pause one request goes first: when it passes, the others follow; when it
        # is throttled again, they have not all spent a round trip on a 429.
        self.probing = False
        self._condition = threading.Condition()

    def enter(self) -> None:
        with self._condition:
            while True:
                wait = self.resume_at - time.monotonic()
                limit = 1 if self.probing else self.limit
                if wait <= 0 and self.active < limit:
                    self.active += 1
                    return
                self._condition.wait(timeout=wait if wait > 0 else None)

    def leave(self) -> None:
        with self._condition:
            self.active -= 1
            self._condition.notify_all()

    def pause(self, seconds: float) -> None:
        with self._condition:
            self.resume_at = max(self.resume_at, time.monotonic() + seconds)
            self.probing = True

    def passed(self) -> None:
        with self._condition:
            if self.probing:
                self.probing = False
                self._condition.notify_all()

    def resize(self, limit: int) -> None:
        with self._condition:
            if limit != self.limit:
                self.limit = limit
                self._condition.notify_all()


def _local(identity: str, limit: int, hold: float) -> RateBudget:
    return LocalBudget(limit)


_factory: BudgetFactory = _local


def use_rate_budgets(factory: BudgetFactory | None) -> None:
    """Make the sessions opened from now on take their budget from ``factory`` (None: each
    session its own, in this process)."""
    global _factory
    _factory = factory or _local


def rate_budget(identity: str, limit: int, hold: float) -> RateBudget:
    """The budget of ``identity`` (application and API root; no secret) for a new session."""
    return _factory(identity, limit, hold)
