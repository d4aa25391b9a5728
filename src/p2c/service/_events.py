"""The progress of runs, kept for the server-sent event stream of the admin center.

Each run of this service keeps its events (task started, batch done, task ended, run
ended) in memory until the 200 most recent runs have come after it; memory stays flat
however long the service runs.
"""

from __future__ import annotations

__all__ = ["EventLog", "RunEvents"]

import threading
from collections import OrderedDict
from typing import Any

_RUNS_KEPT = 200
_EVENTS_KEPT = 2000  # per run; progress events past this are folded into the last one


class EventLog:
    """One run's events, appended by the run's thread, read by any number of streams."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.done = False
        self._lock = threading.Lock()

    def add(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self.events) >= _EVENTS_KEPT and event.get("type") == "progress":
                last = self.events[-1]
                if last.get("type") == "progress" and last.get("label") == event.get("label"):
                    last["records"] = last.get("records", 0) + event.get("records", 0)
                    return
            self.events.append(dict(event, seq=len(self.events)))

    def close(self, event: dict[str, Any]) -> None:
        self.add(event)
        with self._lock:
            self.done = True

    def since(self, index: int) -> tuple[list[dict[str, Any]], bool]:
        """Events from ``index`` on, and whether the run has ended."""
        with self._lock:
            return self.events[index:], self.done


class RunEvents:
    """Event logs by run key (the run id, or ``dry-N`` for a dry run)."""

    def __init__(self) -> None:
        self._logs: OrderedDict[str, EventLog] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, key: str) -> EventLog:
        with self._lock:
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = EventLog()
                while len(self._logs) > _RUNS_KEPT:
                    self._logs.popitem(last=False)
            return log

    def get(self, key: str) -> EventLog | None:
        with self._lock:
            return self._logs.get(key)
