"""One run per project at a time, across processes and machines sharing a state database.

A lock is a row in the state database. A run that finds a project locked waits (up to
``wait`` seconds) or refuses with ``ProjectBusy``. A lock whose process is gone — the same
host and a pid that no longer exists, or a heartbeat older than ``stale_after`` from any
host — is taken over: a run killed with SIGKILL never blocks the next one for long.
"""

from __future__ import annotations

__all__ = ["ProjectLocks"]

import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from p2c._errors import ProjectBusy
from p2c.engine._tables import lock_table


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class ProjectLocks:
    """The locks of the projects of one run.

    Args:
        engine: The state database.
        projects: The projects to lock, all or none.
        wait: Seconds to wait for a busy project before giving up.
        stale_after: A lock not refreshed for this long is considered abandoned.
    """

    def __init__(
        self,
        engine: sa.Engine,
        projects: Sequence[str],
        *,
        wait: float = 0.0,
        stale_after: float = 600.0,
    ) -> None:
        self.engine = engine
        self.projects = sorted(set(projects))  # one order everywhere: no deadlock
        self.wait = wait
        self.stale_after = timedelta(seconds=stale_after)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.held: list[str] = []

    def __enter__(self) -> ProjectLocks:
        deadline = time.monotonic() + self.wait
        try:
            for project in self.projects:
                while not self._take(project):
                    if time.monotonic() >= deadline:
                        raise self._busy(project)
                    time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
                self.held.append(project)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def heartbeat(self) -> None:
        """Tell other runs this one is alive (called after every batch)."""
        if not self.held:
            return
        with self.engine.begin() as db:
            db.execute(
                lock_table.update()
                .where(lock_table.c.project.in_(self.held), lock_table.c.pid == self.pid)
                .values(heartbeat_at=datetime.now(UTC))
            )

    def release(self) -> None:
        if not self.held:
            return
        with self.engine.begin() as db:
            db.execute(
                lock_table.delete().where(
                    lock_table.c.project.in_(self.held),
                    lock_table.c.host == self.host,
                    lock_table.c.pid == self.pid,
                )
            )
        self.held = []

    def _take(self, project: str) -> bool:
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as db:
                row = db.execute(lock_table.select().where(lock_table.c.project == project)).first()
                if row is not None:
                    if not self._abandoned(row, now):
                        return False
                    db.execute(
                        lock_table.delete().where(
                            lock_table.c.project == project, lock_table.c.pid == row.pid
                        )
                    )
                db.execute(
                    lock_table.insert().values(
                        project=project,
                        host=self.host,
                        pid=self.pid,
                        acquired_at=now,
                        heartbeat_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            return False  # another run took it between our read and our insert
        except sa.exc.OperationalError as error:
            if "locked" in str(error.orig).lower():  # SQLite: another run is writing it
                return False
            raise
        return True

    def _abandoned(self, row: sa.Row[object], now: datetime) -> bool:
        heartbeat = row.heartbeat_at
        if heartbeat.tzinfo is None:
            heartbeat = heartbeat.replace(tzinfo=UTC)
        if now - heartbeat > self.stale_after:
            return True
        return bool(row.host == self.host and not _alive(row.pid))

    def _busy(self, project: str) -> ProjectBusy:
        with self.engine.connect() as db:
            row = db.execute(lock_table.select().where(lock_table.c.project == project)).first()
        holder = (
            f" by process {row.pid} on {row.host} since {row.acquired_at:%Y-%m-%d %H:%M:%S} UTC"
            if row
            else ""
        )
        return ProjectBusy(
            f"Project {project!r} is being run{holder}.",
            record=project,
            fix="wait for that run to finish, or pass --wait SECONDS to queue behind it",
        )
