"""Sandbox systems per worker thread.

A sandbox system holds a SQLite connection, which serves one thread at a time; each worker
thread opens its own and keeps it (WAL lets readers run beside a writer). Writes to one
system are serialized by its lock, so writers queue in Python instead of spinning on
SQLite's busy timeout.
"""

from __future__ import annotations

__all__ = ["SystemPool"]

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)


class SystemPool(Generic[T]):
    """One opened system per thread, made by ``factory``."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._opened: list[T] = []
        self._guard = threading.Lock()
        self.write_lock = threading.RLock()

    def get(self) -> T:
        system: T | None = getattr(self._local, "system", None)
        if system is None:
            system = self._factory()
            self._local.system = system
            with self._guard:
                self._opened.append(system)
        return system

    def close(self) -> None:
        with self._guard:
            opened, self._opened = self._opened, []
        for system in opened:
            system.close()
