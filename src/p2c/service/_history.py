"""Reading the engine's history for the API: runs a page at a time, a run with its task
runs, its errors, the error queue.

The engine's tables are read by their names (``run``, ``task_run``, ``record_error``,
``error_queue``) with lightweight table clauses; the service never writes them. Pages are
keyset pages by run id, newest first, so a page costs the same with a million task runs as
with ten. Two indexes make the filters by project and status cheap; they are created here
(``CREATE INDEX IF NOT EXISTS``) until the engine's schema carries them.
"""

from __future__ import annotations

__all__ = ["COUNTS", "History", "RunPage"]

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")


class _UTC(sa.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_RUN_COLUMNS = (
    ("id", sa.Integer),
    ("started_at", _UTC),
    ("finished_at", _UTC),
    ("status", sa.String),
    ("projects", sa.Text),
    ("mode", sa.String),
)
_run = sa.table("run", *(sa.column(n, t()) for n, t in _RUN_COLUMNS))
# The same with the run's own `started_by` and `message` (why it stopped), where the
# engine's schema has them (schema 3 on).
_run_by = sa.table(
    "run",
    *(sa.column(n, t()) for n, t in _RUN_COLUMNS),
    sa.column("started_by", sa.String),
    sa.column("message", sa.Text),
)
_task_run = sa.table(
    "task_run",
    sa.column("id", sa.Integer),
    sa.column("run_id", sa.Integer),
    sa.column("project", sa.String),
    sa.column("task", sa.String),
    sa.column("leg", sa.String),
    sa.column("status", sa.String),
    *(sa.column(c, sa.Integer) for c in COUNTS),
    sa.column("message", sa.Text),
    sa.column("started_at", _UTC()),
    sa.column("finished_at", _UTC()),
)
_record_error = sa.table(
    "record_error",
    sa.column("id", sa.Integer),
    sa.column("run_id", sa.Integer),
    sa.column("project", sa.String),
    sa.column("task", sa.String),
    sa.column("source_key", sa.String),
    sa.column("destination_key", sa.String),
    sa.column("field", sa.String),
    sa.column("message", sa.Text),
    sa.column("retryable", sa.Boolean),
)
_queue = sa.table(
    "error_queue",
    sa.column("project", sa.String),
    sa.column("task", sa.String),
    sa.column("leg", sa.String),
    sa.column("source_key", sa.String),
    sa.column("destination_key", sa.String),
    sa.column("field", sa.String),
    sa.column("message", sa.Text),
    sa.column("retryable", sa.Boolean),
    sa.column("attempts", sa.Integer),
    sa.column("first_run_id", sa.Integer),
    sa.column("last_run_id", sa.Integer),
    sa.column("failed_at", _UTC()),
)
_lock = sa.table("project_lock", sa.column("project"), sa.column("host"), sa.column("pid"))
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_service_task_run_project ON task_run (project, run_id)",
    "CREATE INDEX IF NOT EXISTS ix_service_run_status ON run (status, id)",
)


@dataclass(frozen=True)
class RunPage:
    """Runs newest first; ``next_before`` is the keyset of the next page (None: last)."""

    runs: list[dict[str, Any]]
    next_before: int | None


class History:
    """The engine's history, read for the API."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        with engine.begin() as db:
            for statement in _INDEXES:
                db.exec_driver_sql(statement)
            columns = {c["name"] for c in sa.inspect(db).get_columns("run")}
        self._run = _run_by if {"started_by", "message"} <= columns else _run
        self._columns = ", ".join(c.name for c in self._run.columns)
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def runs(
        self,
        *,
        limit: int = 50,
        before: int | None = None,
        project: str | None = None,
        status: str | None = None,
    ) -> RunPage:
        """A keyset page of runs, newest first, with their summed counts and who started
        them. Plain SQL on the driver: this is the API's busiest read, and SQLAlchemy's
        row and type processing would cost more than the queries."""
        mark = self._mark
        where: list[str] = []
        params: list[int | str] = []
        if before is not None:
            where.append(f"id < {mark}")
            params.append(before)
        if status is not None:
            where.append(f"status = {mark}")
            params.append(status)
        if project is not None and status is None:
            # The project's run ids straight from the (project, run_id) index, newest first.
            keyset = f" AND run_id < {mark}" if before is not None else ""
            where = [
                f"id IN (SELECT DISTINCT run_id FROM task_run WHERE project = {mark}{keyset} "
                f"ORDER BY run_id DESC LIMIT {mark})"
            ]
            params = [project, *([before] if before is not None else []), limit + 1]
        elif project is not None:
            where.append(
                f"EXISTS (SELECT 1 FROM task_run t WHERE t.run_id = run.id AND t.project = {mark})"
            )
            params.append(project)
        sql = (
            f"SELECT {self._columns} FROM run"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY id DESC LIMIT {mark}"
        )
        with self.engine.connect() as db:
            rows = db.exec_driver_sql(sql, (*params, limit + 1)).all()
            page = rows[:limit]
            ids = [r[0] for r in page]
            counts = self._counts(db, ids)
            by = {} if self._run is _run_by else self._service_started_by(db, ids)
        runs = [_run_dict(r, counts.get(r[0]), by.get(r[0])) for r in page]
        return RunPage(runs, page[-1][0] if len(rows) > limit else None)

    def _ids(self, ids: list[int]) -> tuple[str, tuple[int, ...]]:
        """A condition on run ids: a range when the page is dense, else an IN list."""
        mark = self._mark
        low, high = min(ids), max(ids)
        if high - low < 4 * len(ids):
            return f"run_id >= {mark} AND run_id <= {mark}", (low, high)
        return f"run_id IN ({', '.join([mark] * len(ids))})", tuple(ids)

    def _counts(self, db: sa.Connection, ids: list[int]) -> dict[int, dict[str, int]]:
        if not ids:
            return {}
        condition, params = self._ids(ids)
        sums = ", ".join(f'sum("{c}")' for c in COUNTS)
        sql = f"SELECT run_id, {sums} FROM task_run WHERE {condition} GROUP BY run_id"
        wanted = set(ids)
        return {
            run_id: {c: int(v or 0) for c, v in zip(COUNTS, values, strict=True)}
            for run_id, *values in db.exec_driver_sql(sql, params)
            if run_id in wanted
        }

    def _service_started_by(self, db: sa.Connection, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        condition, params = self._ids(ids)
        sql = f"SELECT run_id, started_by FROM service_run WHERE {condition}"
        return {row[0]: row[1] for row in db.exec_driver_sql(sql, params)}

    def run(self, run_id: int) -> dict[str, Any] | None:
        """A run with its task runs (per task and leg: status, counts, message)."""
        with self.engine.connect() as db:
            row = db.execute(sa.select(self._run).where(self._run.c.id == run_id)).first()
            if row is None:
                return None
            tasks = db.execute(
                sa.select(_task_run).where(_task_run.c.run_id == run_id).order_by(_task_run.c.id)
            ).all()
            counts = self._counts(db, [run_id])
        result = _run_dict(row, counts.get(run_id))
        result["tasks"] = [
            {
                "project": t.project,
                "task": t.task,
                "leg": t.leg,
                "status": t.status,
                "counts": {c: getattr(t, c) or 0 for c in COUNTS},
                "message": t.message,
                "started_at": _iso(t.started_at),
                "finished_at": _iso(t.finished_at),
            }
            for t in tasks
        ]
        return result

    def status(self, run_id: int) -> str | None:
        with self.engine.connect() as db:
            value = db.execute(sa.select(_run.c.status).where(_run.c.id == run_id)).scalar()
        return None if value is None else str(value)

    def errors(self, run_id: int, *, limit: int = 100, after: int = 0) -> list[dict[str, Any]]:
        """A run's failed records with record key, field and reason, by id after ``after``."""
        t = _record_error
        query = (
            sa.select(t).where(t.c.run_id == run_id, t.c.id > after).order_by(t.c.id).limit(limit)
        )
        with self.engine.connect() as db:
            return [
                {
                    "id": r.id,
                    "project": r.project,
                    "task": r.task,
                    "record": r.source_key,
                    "destination_key": r.destination_key,
                    "field": r.field,
                    "reason": r.message,
                    "retryable": bool(r.retryable),
                }
                for r in db.execute(query)
            ]

    def queue(
        self, *, limit: int = 100, offset: int = 0, project: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The error queue a page at a time, and its size."""
        t = _queue
        query = sa.select(t).order_by(t.c.project, t.c.task, t.c.leg, t.c.source_key)
        total = sa.select(sa.func.count()).select_from(t)
        if project is not None:
            query = query.where(t.c.project == project)
            total = total.where(t.c.project == project)
        with self.engine.connect() as db:
            rows = db.execute(query.limit(limit).offset(offset)).all()
            size = int(db.execute(total).scalar() or 0)
        return [
            {
                "project": r.project,
                "task": r.task,
                "leg": r.leg,
                "record": r.source_key,
                "destination_key": r.destination_key,
                "field": r.field,
                "reason": r.message,
                "retryable": bool(r.retryable),
                "attempts": r.attempts,
                "first_run_id": r.first_run_id,
                "last_run_id": r.last_run_id,
                "failed_at": _iso(r.failed_at),
            }
            for r in rows
        ], size

    def queue_size(self) -> int:
        with self.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(_queue)).scalar() or 0)

    def last_status(self, project: str) -> str | None:
        """The latest finished status of a project (the worst of its task runs in its
        latest run), as ``p2c projects`` shows it."""
        t = _task_run
        with self.engine.connect() as db:
            run_id = db.execute(
                sa.select(sa.func.max(t.c.run_id)).where(
                    t.c.project == project, t.c.status != "Running"
                )
            ).scalar()
            if run_id is None:
                return None
            statuses = set(
                db.execute(
                    sa.select(t.c.status).where(t.c.run_id == run_id, t.c.project == project)
                ).scalars()
            )
        for status in ("Error", "Cancelled", "Skipped", "Warning", "Completed"):
            if status in statuses:
                return status
        return None

    def last_runs(self, project: str, limit: int = 5) -> list[dict[str, Any]]:
        return self.runs(limit=limit, project=project).runs

    def release_locks_of(self, host: str, pid: int) -> int:
        """Drop project locks held in the name of this very process (host and pid): at
        start it holds none, so such a lock is a dead predecessor's that had the same pid
        (a container's first process)."""
        with self.engine.begin() as db:
            return int(
                db.execute(
                    sa.delete(_lock).where(_lock.c.host == host, _lock.c.pid == pid)
                ).rowcount
            )


def _iso(moment: datetime | str | None) -> str | None:
    """ISO 8601 in UTC with a Z, from a datetime or as SQLite keeps one (UTC text)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        text = moment.replace(" ", "T", 1)
        return text if text.endswith("Z") or "+" in text[10:] else text + "Z"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _run_dict(
    row: Any, counts: dict[str, int] | None, started_by: str | None = None
) -> dict[str, Any]:
    # By position: the columns of _RUN_COLUMNS, then started_by and message where the run
    # has them.
    run_id, started, finished, status, projects, mode, *more = row
    return {
        "id": run_id,
        "status": status,
        "projects": [p for p in (projects or "").split("\n") if p],
        "mode": mode,
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        # Who started it: the run's own record, else the service's, else a command line.
        "started_by": (more[0] if more else started_by) or "command",
        "message": more[1] if more else None,
        "counts": counts or dict.fromkeys(COUNTS, 0),
    }
