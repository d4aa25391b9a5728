"""The admin center's reads of the state database that the service's History does not
offer: per project its last run's counts, the error queue by project, records per day for
the chart, a project's own history page, a record's lineage.

Each read is a few indexed queries whatever the size of the history (see
benchmarks/admin_center.py: a million task runs, fifty thousand queued errors).
"""

from __future__ import annotations

__all__ = [
    "COUNTS",
    "DayCounts",
    "ProjectRun",
    "WebQueries",
    "worst",
]

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")
_PAST_TTL = 300.0  # seconds the chart's days before today are kept
_WORST = ("Error", "Cancelled", "Skipped", "Warning", "Completed")
_INDEXES = (
    # The error queue counted by project.
    "CREATE INDEX IF NOT EXISTS ix_web_error_queue_project ON error_queue (project)",
)


@dataclass(frozen=True)
class ProjectRun:
    """One run as a project saw it: its own task runs' worst status and summed counts."""

    run_id: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    started_by: str
    counts: dict[str, int]
    project: str = ""


@dataclass(frozen=True)
class DayCounts:
    day: date
    written: int
    failed: int


def _aware(moment: Any) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace(" ", "T", 1).replace("Z", "+00:00"))
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    """As SQLite keeps a UTC datetime (text that sorts as time does)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def worst(statuses: set[str]) -> str:
    """A project's status in a run: the worst of its task runs (Running while one runs)."""
    if "Running" in statuses:
        return "Running"
    return next((s for s in _WORST if s in statuses), "Completed")


class WebQueries:
    """Reads over the engine's tables (``run``, ``task_run``, ``error_queue``,
    ``record_error``, ``lineage_leg``, ``record_lineage``) by name, on the driver: pages must
    stay fast."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sqlite = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._past: tuple[tuple[date, date], float, dict[str, tuple[int, int]]] | None = None
        with engine.begin() as db:
            for statement in _INDEXES:
                db.exec_driver_sql(statement)

    def _sql(self, text: str) -> str:
        return text.replace("?", self._mark)

    # projects -------------------------------------------------------------------------------

    def last_runs(self, projects: list[str]) -> dict[str, ProjectRun]:
        """Each project's latest finished run, as the project saw it: one indexed lookup
        per project (by the (project, run_id) index, however long ago it ran), then the
        runs' rows together."""
        # Ordered as the (project, run_id) index is, so that every database walks it.
        latest = self._sql(
            "SELECT run_id FROM task_run WHERE project = ? AND status <> ? "
            "ORDER BY project DESC, run_id DESC LIMIT 1"
        )
        with self.engine.connect() as db:
            pairs = []
            for project in projects:
                run_id = db.exec_driver_sql(latest, (project, "Running")).scalar()
                if run_id is not None:
                    pairs.append((project, int(run_id)))
            runs = self._project_runs(db, pairs)
        return {r.project: r for r in runs}

    def history(
        self,
        project: str,
        *,
        before: int | None = None,
        limit: int = 25,
        days: int = 45,
        now: datetime | None = None,
    ) -> tuple[list[ProjectRun], int | None]:
        """A page of a project's runs, newest first, of the last ``days`` days; and the
        ``before`` of the next page (None: this is the last)."""
        since = (now or datetime.now(UTC)) - timedelta(days=days)
        keyset = " AND run_id < ?" if before is not None else ""
        params: list[Any] = [project, *([before] if before is not None else []), limit + 1]
        sql = (
            "SELECT DISTINCT run_id FROM task_run WHERE project = ?"
            f"{keyset} ORDER BY run_id DESC LIMIT ?"
        )
        with self.engine.connect() as db:
            ids = [int(r[0]) for r in db.exec_driver_sql(self._sql(sql), tuple(params))]
            runs = self._project_runs(db, [(project, i) for i in ids[:limit]])
        runs = [r for r in runs if r.started_at is None or r.started_at >= since]
        more = len(ids) > limit and len(runs) == limit
        return runs, (runs[-1].run_id if more else None)

    def _project_runs(self, db: sa.Connection, pairs: list[tuple[str, int]]) -> list[ProjectRun]:
        """The runs of (project, run id) pairs as each project saw them, newest first."""
        if not pairs:
            return []
        ids = sorted({run_id for _, run_id in pairs})
        wanted = set(pairs)
        marks = ", ".join("?" * len(ids))
        sums = ", ".join(f'sum("{c}")' for c in COUNTS)
        tasks = db.exec_driver_sql(
            self._sql(
                f"SELECT project, run_id, status, {sums} FROM task_run "
                f"WHERE run_id IN ({marks}) GROUP BY project, run_id, status"
            ),
            tuple(ids),
        ).all()
        runs = {
            int(r[0]): r
            for r in db.exec_driver_sql(
                self._sql(
                    f"SELECT id, started_at, finished_at, started_by FROM run WHERE id IN ({marks})"
                ),
                tuple(ids),
            )
        }
        by_service = {
            (str(r[1]), int(r[0])): str(r[2])
            for r in db.exec_driver_sql(
                self._sql(
                    f"SELECT run_id, project, started_by FROM service_run WHERE run_id IN ({marks})"
                ),
                tuple(ids),
            )
        }
        statuses: dict[tuple[str, int], set[str]] = {}
        counts: dict[tuple[str, int], dict[str, int]] = {}
        for project, run_id, status, *values in tasks:
            pair = (str(project), int(run_id))
            if pair not in wanted:
                continue
            statuses.setdefault(pair, set()).add(status)
            total = counts.setdefault(pair, dict.fromkeys(COUNTS, 0))
            for column, value in zip(COUNTS, values, strict=True):
                total[column] += int(value or 0)
        result = []
        for project, run_id in sorted(wanted, key=lambda p: (-p[1], p[0])):
            row = runs.get(run_id)
            if row is None:
                continue
            result.append(
                ProjectRun(
                    run_id,
                    worst(statuses.get((project, run_id), set())),
                    _aware(row[1]),
                    _aware(row[2]),
                    row[3] or by_service.get((project, run_id)) or "command",
                    counts.get((project, run_id), dict.fromkeys(COUNTS, 0)),
                    project,
                )
            )
        return result

    # the error queue ------------------------------------------------------------------------

    def queue_sizes(self) -> dict[str, int]:
        """Queued failed records by project."""
        with self.engine.connect() as db:
            return {
                str(project): int(size)
                for project, size in db.exec_driver_sql(
                    "SELECT project, count(*) FROM error_queue GROUP BY project"
                )
            }

    def queued_keys(self, project: str | None = None) -> set[str]:
        sql = "SELECT source_key FROM error_queue"
        params: tuple[Any, ...] = ()
        if project is not None:
            sql += " WHERE project = ?"
            params = (project,)
        with self.engine.connect() as db:
            return {str(r[0]) for r in db.exec_driver_sql(self._sql(sql), params)}

    # the chart ------------------------------------------------------------------------------

    def per_day(self, days: int = 14, now: datetime | None = None) -> list[DayCounts]:
        """Records written (created + updated) and failed per day (UTC), the last ``days``
        days, oldest first; a day without runs is zero. The days before today are read at
        most every few minutes (they hardly change); today is read each time."""
        moment = now or datetime.now(UTC)
        today = moment.date()
        first = today - timedelta(days=days - 1)
        with self._lock:
            cached = self._past
        if (
            cached is None
            or cached[0] != (first, today)
            or time.monotonic() - cached[1] > _PAST_TTL
        ):
            past = self._day_sums(_midnight(first), _midnight(today))
            with self._lock:
                self._past = cached = ((first, today), time.monotonic(), past)
        rows = {**cached[2], **self._day_sums(_midnight(today), None)}
        result = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            written, failed = rows.get(day.isoformat(), (0, 0))
            result.append(DayCounts(day, written, failed))
        return result

    def _day_sums(self, since: datetime, until: datetime | None) -> dict[str, tuple[int, int]]:
        day = (
            "substr(r.started_at, 1, 10)"
            if self._sqlite
            else "to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        )
        where = "r.started_at >= ?" + (" AND r.started_at < ?" if until else "")
        sql = (
            f"SELECT {day} AS day, sum(t.created + t.updated), sum(t.failed) "
            "FROM run r JOIN task_run t ON t.run_id = r.id "
            f"WHERE {where} GROUP BY {day}"
        )
        bounds = [since, *([until] if until else [])]
        params = tuple(_iso(b) if self._sqlite else b for b in bounds)
        with self.engine.connect() as db:
            return {
                str(d): (int(w or 0), int(f or 0))
                for d, w, f in db.exec_driver_sql(self._sql(sql), params)
            }

    # a run's failed records ----------------------------------------------------------------

    def run_errors(self, run_id: int, *, after: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        """A run's failed records by id after ``after``: task and leg, key, destination key
        (it holds the contact or account number), name, field, reason; and whether each is
        still queued (not written since: it can be retried)."""
        sql = (
            "SELECT e.id, e.project, e.task, t.leg, e.source_key, e.destination_key, "
            "e.record_name, e.field, e.message, e.retryable, q.attempts "
            "FROM record_error e JOIN task_run t ON t.id = e.task_run_id "
            "LEFT JOIN error_queue q ON q.project = e.project "
            "AND q.task = e.task AND q.leg = t.leg AND q.source_key = e.source_key "
            "WHERE e.run_id = ? AND e.id > ? ORDER BY e.id LIMIT ?"
        )
        names = (
            "id",
            "project",
            "task",
            "leg",
            "source_key",
            "destination_key",
            "name",
            "field",
            "reason",
            "retryable",
            "attempts",
        )
        with self.engine.connect() as db:
            rows = db.exec_driver_sql(self._sql(sql), (run_id, after, limit)).all()
        found = [dict(zip(names, row, strict=True)) for row in rows]
        for error in found:
            error["queued"] = error.pop("attempts") is not None
            error["retryable"] = bool(error["retryable"])
        return found

    # lineage --------------------------------------------------------------------------------

    def lineage(self, source_key: str) -> list[dict[str, Any]]:
        """Where a source record went: per project, task and leg its destination key."""
        sql = (
            # Leg by leg, each a lookup of the lineage's own key: no index of its own that
            # every run would have to keep up.
            "SELECT g.project, g.task, g.leg, r.source_entity, r.source_key, "
            "r.destination_entity, r.destination_key, r.run_id FROM lineage_leg AS g "
            "JOIN record_lineage AS r ON r.leg_id = g.id AND r.source_key = ? "
            "ORDER BY g.project, g.task, g.leg"
        )
        with self.engine.connect() as db:
            rows = db.exec_driver_sql(self._sql(sql), (source_key,)).all()
        names = (
            "project",
            "task",
            "leg",
            "source_entity",
            "source_key",
            "destination_entity",
            "destination_key",
            "run_id",
        )
        return [dict(zip(names, row, strict=True)) for row in rows]
