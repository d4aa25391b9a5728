"""The execution history in the state database: runs and their task runs, with statuses that
stay true.

A run is Running while its process works on it, and says who that is (host, pid) and when it
last committed something (``heartbeat_at``, with every batch). A task run's counts are
committed with each batch, so a run stopped at any point shows what it did. A run whose
process is gone is marked Error, with the reason, whenever the history is read (and when its
lock is taken over): nothing stays Running after its process.
"""

from __future__ import annotations

__all__ = ["RunHistory", "beat", "counts_values", "note_batch"]

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from p2c.engine._driver import DriverSQL
from p2c.engine._lock import settle_gone_runs
from p2c.engine._records import LegId, RunStatus, TaskCounts
from p2c.engine._tables import record_error_table, run_table, task_run_table

# The worst status first: a project's last status is the worst of its tasks in its last run.
_WORST_FIRST = ("Error", "Skipped", "Cancelled", "Warning", "Completed")


def _now() -> datetime:
    return datetime.now(UTC)


def counts_values(counts: TaskCounts) -> dict[str, int]:
    return {
        "read": counts.read,
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "skipped": counts.skipped,
        "failed": counts.failed,
    }


def beat(db: sa.Connection, sql: DriverSQL, run_id: int, now: datetime) -> None:
    """The run is alive: it just committed something."""
    db.exec_driver_sql(sql.sql(_BEAT), (sql.moment(now), run_id))


def note_batch(
    db: sa.Connection,
    sql: DriverSQL,
    run_id: int,
    task_run_id: int,
    counts: TaskCounts | None,
    now: datetime,
) -> None:
    """In a batch's transaction: the task run's counts so far, and its run's sign of life."""
    if counts is not None and task_run_id:
        db.exec_driver_sql(sql.sql(_COUNTS), (*_counts(counts), task_run_id))
    if run_id:
        beat(db, sql, run_id, now)


def _counts(counts: TaskCounts) -> tuple[int, ...]:
    values = counts_values(counts)
    return tuple(values[c] for c in _COUNT_COLUMNS)


_COUNT_COLUMNS = ("read", "created", "updated", "unchanged", "skipped", "failed")
_BEAT = "UPDATE run SET heartbeat_at = ? WHERE id = ?"
_COUNTS = f"UPDATE task_run SET {', '.join(f'{c} = ?' for c in _COUNT_COLUMNS)} WHERE id = ?"
_START_TASK = (
    "INSERT INTO task_run (run_id, project, task, leg, status, started_at, "
    f"{', '.join(_COUNT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0)"
)
_START_RUN = (
    "INSERT INTO run (started_at, status, projects, mode, started_by, host, pid, heartbeat_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_FINISH_RUN = "UPDATE run SET finished_at = ?, status = ?, message = ? WHERE id = ?"
_ANY_OLDER = "SELECT id FROM run WHERE started_at < ? LIMIT 1"
_FINISH_TASK = (
    "UPDATE task_run SET status = ?, message = ?, finished_at = ?, "
    f"{', '.join(f'{c} = ?' for c in _COUNT_COLUMNS)} WHERE id = ?"
)


class RunHistory:
    """Runs and task runs (a base of ``StateStore``, which opens ``engine``)."""

    engine: sa.Engine
    driver: DriverSQL

    # writing ------------------------------------------------------------------------------------

    def touch_run(self, run_id: int) -> None:
        """The run is alive, though it committed nothing lately (a long batch)."""
        with self.engine.begin() as db:
            beat(db, self.driver, run_id, _now())

    def start_run(
        self, projects: Sequence[str], mode: str = "incremental", *, started_by: str = "command"
    ) -> int:
        """Record a run as Running, held by this process.

        Args:
            started_by: What started it: ``command``, ``retry``, ``schedule``,
                ``api:<token name>``.
        """
        sql = self.driver
        now = sql.moment(_now())
        running = RunStatus.RUNNING.value
        host, pid = socket.gethostname(), os.getpid()
        values = (now, running, "\n".join(projects), mode, started_by, host, pid, now)
        with self.engine.begin() as db:
            return sql.insert_id(db, _START_RUN, values)

    def finish_run(self, run_id: int, status: str, message: str | None = None) -> None:
        sql = self.driver
        with self.engine.begin() as db:
            db.exec_driver_sql(
                sql.sql(_FINISH_RUN), (sql.moment(_now()), str(status), message, run_id)
            )

    def stop_run(self, run_id: int, status: str, message: str) -> None:
        """End a run that did not finish its work (cancelled, crashed): the run and its tasks
        still Running get ``status`` and ``message``; their counts stay those committed."""
        now = _now()
        values = {"status": str(status), "message": message, "finished_at": now}
        with self.engine.begin() as db:
            db.execute(run_table.update().where(run_table.c.id == run_id).values(values))
            db.execute(
                task_run_table.update()
                .where(
                    task_run_table.c.run_id == run_id,
                    task_run_table.c.status == RunStatus.RUNNING.value,
                )
                .values(values)
            )

    def start_task(self, run_id: int, leg: LegId) -> int:
        now = _now()
        sql = self.driver
        with self.engine.begin() as db:
            values = (run_id, leg.project, leg.task, leg.leg, RunStatus.RUNNING.value)
            task_run_id = sql.insert_id(db, _START_TASK, (*values, sql.moment(now)))
            beat(db, sql, run_id, now)
            return task_run_id

    def finish_task(
        self, task_run_id: int, counts: TaskCounts, status: str, message: str | None = None
    ) -> None:
        sql = self.driver
        ended = (str(status), message, sql.moment(_now()))
        with self.engine.begin() as db:
            db.exec_driver_sql(sql.sql(_FINISH_TASK), (*ended, *_counts(counts), task_run_id))

    def settle(self) -> list[int]:
        """Mark Error the runs still Running whose process is gone (killed, crashed, or
        silent for ten minutes), with the reason. Returns their ids."""
        with self.engine.begin() as db:
            return settle_gone_runs(db)

    def purge(self, older_than: datetime) -> int:
        """Forget runs (with their task runs and errors) started before ``older_than``. The
        error queue is kept: a failed record stays until it is written."""
        sql = self.driver
        with self.engine.begin() as db:
            # Mostly there is none: one cheap look instead of three deletes.
            found = db.exec_driver_sql(sql.sql(_ANY_OLDER), (sql.moment(older_than),))
            if found.first() is None:
                return 0
            old = sa.select(run_table.c.id).where(run_table.c.started_at < older_than)
            db.execute(record_error_table.delete().where(record_error_table.c.run_id.in_(old)))
            db.execute(task_run_table.delete().where(task_run_table.c.run_id.in_(old)))
            return int(
                db.execute(run_table.delete().where(run_table.c.started_at < older_than)).rowcount
            )

    # reading (each read settles runs whose process is gone first) -------------------------------

    def runs(self, limit: int = 20) -> list[sa.Row[Any]]:
        self.settle()
        with self.engine.connect() as db:
            return list(db.execute(run_table.select().order_by(run_table.c.id.desc()).limit(limit)))

    def run(self, run_id: int) -> sa.Row[Any] | None:
        self.settle()
        with self.engine.connect() as db:
            return db.execute(run_table.select().where(run_table.c.id == run_id)).first()

    def task_runs(self, run_id: int) -> list[sa.Row[Any]]:
        with self.engine.connect() as db:
            return list(
                db.execute(
                    task_run_table.select()
                    .where(task_run_table.c.run_id == run_id)
                    .order_by(task_run_table.c.id)
                )
            )

    def errors(self, run_id: int) -> list[sa.Row[Any]]:
        with self.engine.connect() as db:
            return list(
                db.execute(
                    record_error_table.select()
                    .where(record_error_table.c.run_id == run_id)
                    .order_by(record_error_table.c.id)
                )
            )

    def last_status(self, project: str) -> str | None:
        """The latest finished status of a project (worst of its task runs in that run)."""
        self.settle()
        with self.engine.connect() as db:
            run_id = db.execute(
                sa.select(sa.func.max(task_run_table.c.run_id)).where(
                    task_run_table.c.project == project,
                    task_run_table.c.status != RunStatus.RUNNING.value,
                )
            ).scalar()
            if run_id is None:
                return None
            statuses = {
                r[0]
                for r in db.execute(
                    sa.select(task_run_table.c.status).where(
                        task_run_table.c.run_id == run_id, task_run_table.c.project == project
                    )
                )
            }
        return next((s for s in _WORST_FIRST if s in statuses), None)
