"""Commit-behind: a leg's state commits on a thread of their own, one batch behind.

The state's commit of a batch (lineage, errors, counts, the cursor) is mostly the
database's own work, during which Python is free: it overlaps with the next page's read,
map and write. Commits stay in order and one at a time: a batch's commit starts only when
the one before it is done, and the leg waits for the last one before it reads or changes
the state in any other way (the end of a read, a cancel, an error). The destination
acknowledged a batch before its commit is handed over, so a run that dies with one commit
in flight is what a run that died between write and commit always was: the next run reads
the batch again, from the cursor before it, and finds its records unchanged.
"""

from __future__ import annotations

__all__ = ["Behind"]

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class Behind:
    """Runs one piece of work at a time on its own thread, one step behind the caller.

    ``submit`` waits for the work before to finish (raising its error, if it failed) and
    hands over the next; ``wait`` waits for the last. ``close`` waits, then ends the thread.
    """

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def submit(self, work: Callable[[], None]) -> None:
        self.wait()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="p2c-commit")
        self._pending = self._executor.submit(work)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None
