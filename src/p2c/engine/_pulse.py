"""A run's sign of life while it works: its project locks and its run in the history are
refreshed every few seconds from a thread of their own, not only after each batch.

A run on a worker (``p2c.workers``) needs it: another worker takes over a run whose holder
is silent for ``stale_after`` seconds, which must hold through a long batch (a data package
import, a slow page). A run started from the command line relies on its batches alone.
"""

from __future__ import annotations

__all__ = ["Pulse"]

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("p2c.engine")


class Pulse:
    """Calls ``beat`` every ``every`` seconds until closed; a failed beat is logged and the
    next one tried (the state database may be away for a moment)."""

    def __init__(self, beat: Callable[[], None], every: float) -> None:
        self._beat = beat
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="p2c-pulse", daemon=True)

    def __enter__(self) -> Pulse:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._beat()
            except Exception as error:  # never let a missed beat end the run
                log.warning("p2c could not refresh the run's sign of life: %s", error)
