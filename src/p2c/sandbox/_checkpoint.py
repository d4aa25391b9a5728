"""A store's log copied back into its database file on a thread of its own.

SQLite in WAL mode appends every commit to the log and copies the log back into the file
in a checkpoint, by default inside the commit that makes the log long enough, and always
when the last connection closes. Both are the writer's time. Here the commit only wakes a
thread that checkpoints through a connection of its own (``PASSIVE``: it never blocks the
writer, and copies what no reader still needs), while the writer goes on; SQLite does the
copying without Python, so it runs beside the writer's Python. What is left for the close
is what the last few commits added. Should the thread fall far behind (a reader holding an
old snapshot for long), the commit checkpoints itself, as SQLite's own automatic
checkpoint would, so the log stays bounded.
"""

from __future__ import annotations

__all__ = ["Checkpointer"]

import threading
from pathlib import Path

import apsw

# Pages of the log (4 KiB each) that wake the thread, and that make a commit checkpoint
# itself: 4 MB and 64 MB.
WAKE_PAGES = 1024
BEHIND_PAGES = 16384


class Checkpointer:
    """Checkpoints ``path``'s log on a thread, started at the first wake; ``hook`` is the
    writer's WAL hook (``Connection.set_wal_hook``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the thread is started once

    def hook(self, db: apsw.Connection, name: str, pages: int) -> int:
        if pages >= BEHIND_PAGES:
            db.wal_checkpoint(name)
        elif pages >= WAKE_PAGES:
            self._start()
            self._wake.set()
        return apsw.SQLITE_OK

    def close(self) -> None:
        """Stop the thread after the checkpoint it may be making; idempotent."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._work, name="p2c-checkpoint", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        try:
            db = apsw.Connection(str(self.path))
            db.execute("PRAGMA journal_mode").fetchall()  # opens the file: it sees the log
        except apsw.Error:
            return  # the writer's commits and its close checkpoint instead
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopped:
                    return
                db.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
        except apsw.Error:
            return  # e.g. a full disk: the writer meets it too, and says so
        finally:
            db.close()
