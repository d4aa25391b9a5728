"""One run per project at a time, across processes and machines sharing a state database.

A lock is a row in the state database. A run that finds a project locked waits (up to
``wait`` seconds) or refuses with ``ProjectBusy``. A lock whose process is gone — the same
host and a pid that no longer exists, or a heartbeat older than ``stale_after`` from any
host — is taken over: a run killed with SIGKILL never blocks the next one for long.

The same rule tells that a run's process is gone: such a run, still Running in the history,
is marked Error with the reason (``settle_gone_runs``) when its lock is taken over and
whenever the history is read.
"""

from __future__ import annotations

__all__ = ["STALE_AFTER", "ProjectLocks", "holder_gone", "settle_gone_runs"]

import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from p2c._errors import ProjectBusy
from p2c.engine._cancel import CancelToken, RunCancelled
from p2c.engine._driver import DriverSQL
from p2c.engine._records import RunStatus
from p2c.engine._tables import lock_table, run_table, task_run_table

# A holder silent for this long is taken for gone, whatever its host.
STALE_AFTER = timedelta(minutes=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def holder_gone(
    host: str | None,
    pid: int | None,
    seen: datetime,
    now: datetime,
    *,
    stale_after: timedelta = STALE_AFTER,
) -> bool:
    """Whether the process that holds a lock or runs a run is gone: on this host and its pid
    no longer exists, or (any host) not heard from for ``stale_after``."""
    if now - _aware(seen) > stale_after:
        return True
    return bool(host == socket.gethostname() and pid is not None and not _alive(pid))


def _gone_reason(host: str | None, pid: int | None, seen: datetime, now: datetime) -> str:
    who = f" (pid {pid} on {host})" if host and pid is not None else ""
    at = f"{_aware(seen):%Y-%m-%d %H:%M:%S} UTC"
    if host == socket.gethostname() and pid is not None and not _alive(pid):
        return (
            f"the process running it{who} stopped before it finished (killed or crashed); "
            f"its last batch was recorded at {at}"
        )
    seconds = int((now - _aware(seen)).total_seconds())
    silent = f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"
    return (
        f"the process running it{who} has not been heard from since {at} ({silent}): "
        "it stopped (killed, crashed, or cut off from the state database) before it finished"
    )


def settle_gone_runs(db: sa.Connection, *, stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Mark Error every run still Running whose process is gone, and its tasks still
    Running, with the reason; they end at their last sign of life. Their counts are those
    committed with their last batch. Returns the ids of the runs marked."""
    now = datetime.now(UTC)
    t = run_table
    sql = DriverSQL(db.engine)
    running = db.exec_driver_sql(sql.sql(_RUNNING), (RunStatus.RUNNING.value,)).all()
    marked = []
    for run_id, host, pid, heartbeat_at, started_at in running:
        seen = sql.read_moment(heartbeat_at) or sql.read_moment(started_at)
        assert seen is not None  # started_at is NOT NULL
        if not holder_gone(host, pid, seen, now, stale_after=stale_after):
            continue
        values = {
            "status": RunStatus.ERROR.value,
            "message": _gone_reason(host, pid, seen, now),
            "finished_at": seen,
        }
        done = db.execute(
            t.update().where(t.c.id == run_id, t.c.status == RunStatus.RUNNING.value).values(values)
        )
        if done.rowcount:
            db.execute(
                task_run_table.update()
                .where(
                    task_run_table.c.run_id == run_id,
                    task_run_table.c.status == RunStatus.RUNNING.value,
                )
                .values(values)
            )
            marked.append(run_id)
    return marked


# The statements of every run, for the driver (``_driver.py``).
_RUNNING = "SELECT id, host, pid, heartbeat_at, started_at FROM run WHERE status = ?"
_HOLDER = "SELECT host, pid, heartbeat_at FROM project_lock WHERE project = ?"
_TAKE = (
    "INSERT INTO project_lock (project, host, pid, acquired_at, heartbeat_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_DROP = "DELETE FROM project_lock WHERE project = ? AND pid = ?"


class ProjectLocks:
    """The locks of the projects of one run.

    Args:
        engine: The state database.
        projects: The projects to lock, all or none.
        wait: Seconds to wait for a busy project before giving up.
        stale_after: A lock not refreshed for this long is considered abandoned.
        cancel: Stops the wait (``RunCancelled``) when cancelled.
    """

    def __init__(
        self,
        engine: sa.Engine,
        projects: Sequence[str],
        *,
        wait: float = 0.0,
        stale_after: float = STALE_AFTER.total_seconds(),
        cancel: CancelToken | None = None,
    ) -> None:
        self.engine = engine
        self.projects = sorted(set(projects))  # one order everywhere: no deadlock
        self.wait = wait
        self.stale_after = timedelta(seconds=stale_after)
        self.cancel = cancel
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.held: list[str] = []
        self.driver = DriverSQL(engine)  # the heartbeat, after every batch

    def __enter__(self) -> ProjectLocks:
        deadline = time.monotonic() + self.wait
        try:
            for project in self.projects:
                while not self._take(project):
                    if time.monotonic() >= deadline:
                        raise self._busy(project)
                    self._pause(min(1.0, max(0.05, deadline - time.monotonic())))
                self.held.append(project)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _pause(self, seconds: float) -> None:
        if self.cancel is None:
            time.sleep(seconds)
        elif self.cancel.wait(seconds):
            raise RunCancelled(self.cancel.reason or "cancelled")

    def heartbeat(self) -> None:
        """Tell other runs this one is alive (called after every batch)."""
        if not self.held:
            return
        sql = self.driver
        statement = sql.sql(
            f"UPDATE project_lock SET heartbeat_at = ? "
            f"WHERE project IN ({sql.marks(len(self.held))}) AND pid = ?"
        )
        with self.engine.begin() as db:
            db.exec_driver_sql(statement, (sql.moment(datetime.now(UTC)), *self.held, self.pid))

    def release(self) -> None:
        if not self.held:
            return
        sql = self.driver
        statement = sql.sql(
            f"DELETE FROM project_lock WHERE project IN ({sql.marks(len(self.held))}) "
            "AND host = ? AND pid = ?"
        )
        with self.engine.begin() as db:
            db.exec_driver_sql(statement, (*self.held, self.host, self.pid))
        self.held = []

    def _take(self, project: str) -> bool:
        now = datetime.now(UTC)
        sql = self.driver
        try:
            with self.engine.begin() as db:
                row = db.exec_driver_sql(sql.sql(_HOLDER), (project,)).first()
                if row is not None:
                    host, pid, heartbeat_at = row
                    seen = sql.read_moment(heartbeat_at)
                    assert seen is not None  # heartbeat_at is NOT NULL
                    if not holder_gone(host, pid, seen, now, stale_after=self.stale_after):
                        return False
                    db.exec_driver_sql(sql.sql(_DROP), (project, pid))
                    # Its run, if it was running one, is not Running any more.
                    settle_gone_runs(db, stale_after=self.stale_after)
                moment = sql.moment(now)
                db.exec_driver_sql(sql.sql(_TAKE), (project, self.host, self.pid, moment, moment))
        except sa.exc.IntegrityError:
            return False  # another run took it between our read and our insert
        except sa.exc.OperationalError as error:
            if "locked" in str(error.orig).lower():  # SQLite: another run is writing it
                return False
            raise
        return True

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
