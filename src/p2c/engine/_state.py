"""The state database: execution history, per-record errors and lineage.

SQLAlchemy Core over SQLite by default (``sqlite:///state.db`` in the workspace) or
PostgreSQL by URL (``postgresql+psycopg://…``). Statuses follow the Data Integrator:
Completed (all records upserted), Warning (some failed), Error (none succeeded).
"""

from __future__ import annotations

__all__ = ["ErrorRow", "StateStore", "TaskCounts"]

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from p2c._errors import ConfigError


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()
run_table = sa.Table(
    "run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("projects", sa.Text, nullable=False),
)
task_run_table = sa.Table(
    "task_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False, index=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("leg", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("read", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("skipped", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
)
record_error_table = sa.Table(
    "record_error",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False, index=True),
    sa.Column("task_run_id", sa.Integer, sa.ForeignKey("task_run.id"), nullable=False),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("source_key", sa.String(400), nullable=False),
    sa.Column("destination_key", sa.String(400)),
    sa.Column("field", sa.String(200)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("retryable", sa.Boolean, nullable=False, default=False),
)
lineage_table = sa.Table(
    "lineage",
    metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("task", sa.String(200), primary_key=True),
    sa.Column("leg", sa.String(100), primary_key=True),
    sa.Column("source_key", sa.String(400), primary_key=True),
    sa.Column("source_entity", sa.String(100), nullable=False),
    sa.Column("destination_entity", sa.String(100), nullable=False),
    sa.Column("destination_key", sa.String(400), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    # A digest of the mapped values last acknowledged by the destination.
    sa.Column("digest", sa.String(40)),
)
_LINEAGE_COLUMNS = tuple(c.name for c in lineage_table.columns)
_LINEAGE_KEY = ("project", "task", "leg", "source_key")


@dataclass
class TaskCounts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def status(self) -> str:
        if not self.failed:
            return "Completed"
        return "Warning" if (self.created + self.updated + self.unchanged) else "Error"

    def add(self, other: TaskCounts) -> None:
        for name in ("read", "created", "updated", "unchanged", "skipped", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class ErrorRow:
    source_key: str
    destination_key: str | None
    field: str | None
    message: str
    retryable: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """Runs, task runs, record errors and lineage in one database."""

    def __init__(self, url: str) -> None:
        try:
            self.engine = sa.create_engine(url)
            metadata.create_all(self.engine)
        except (sa.exc.ArgumentError, sa.exc.OperationalError, ModuleNotFoundError) as exc:
            safe = (
                sa.engine.make_url(url).render_as_string(hide_password=True)
                if "://" in url
                else url
            )
            raise ConfigError(
                f"Cannot open the state database {safe}: {exc.__class__.__name__}.",
                fix="check state.url in p2c.yaml",
            ) from None
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in _LINEAGE_COLUMNS if c not in _LINEAGE_KEY
        )
        self._lineage_upsert = (
            f"INSERT INTO lineage ({', '.join(_LINEAGE_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(_LINEAGE_COLUMNS))}) "
            f"ON CONFLICT ({', '.join(_LINEAGE_KEY)}) DO UPDATE SET {updates}"
        )

    def close(self) -> None:
        self.engine.dispose()

    def start_run(self, projects: Sequence[str]) -> int:
        with self.engine.begin() as db:
            result = db.execute(
                run_table.insert().values(
                    started_at=_now(), status="Running", projects="\n".join(projects)
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, status: str) -> None:
        with self.engine.begin() as db:
            db.execute(
                run_table.update()
                .where(run_table.c.id == run_id)
                .values(status=status, finished_at=_now())
            )

    def start_task(self, run_id: int, project: str, task: str, leg: str) -> int:
        with self.engine.begin() as db:
            result = db.execute(
                task_run_table.insert().values(
                    run_id=run_id,
                    project=project,
                    task=task,
                    leg=leg,
                    status="Running",
                    started_at=_now(),
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_task(
        self, task_run_id: int, counts: TaskCounts, status: str, message: str | None = None
    ) -> None:
        with self.engine.begin() as db:
            db.execute(
                task_run_table.update()
                .where(task_run_table.c.id == task_run_id)
                .values(
                    status=status,
                    message=message,
                    finished_at=_now(),
                    read=counts.read,
                    created=counts.created,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
                    skipped=counts.skipped,
                    failed=counts.failed,
                )
            )

    def record_batch(
        self,
        run_id: int,
        task_run_id: int,
        project: str,
        task: str,
        leg: str,
        entities: tuple[str, str],
        errors: Iterable[ErrorRow],
        lineage: Iterable[tuple[str, str, str | None]],
    ) -> None:
        """Errors and lineage (source key, destination key, digest) of one written batch, in
        one transaction."""
        error_rows = [
            {
                "run_id": run_id,
                "task_run_id": task_run_id,
                "project": project,
                "task": task,
                "source_key": e.source_key,
                "destination_key": e.destination_key,
                "field": e.field,
                "message": e.message,
                "retryable": e.retryable,
            }
            for e in errors
        ]
        with self.engine.begin() as db:
            if error_rows:
                db.execute(record_error_table.insert(), error_rows)
            lineage_rows = [
                (project, task, leg, source, entities[0], entities[1], destination, run_id, digest)
                for source, destination, digest in lineage
            ]
            if lineage_rows:
                # Straight to the driver: this is the one statement per written record, and
                # SQLAlchemy's per-row parameter processing would cost more than the write.
                db.exec_driver_sql(self._lineage_upsert, lineage_rows)

    # reading -----------------------------------------------------------------------------------

    def runs(self, limit: int = 20) -> list[sa.Row[Any]]:
        with self.engine.connect() as db:
            return list(db.execute(run_table.select().order_by(run_table.c.id.desc()).limit(limit)))

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

    def lineage(self, project: str | None = None) -> list[sa.Row[Any]]:
        query = lineage_table.select()
        if project:
            query = query.where(lineage_table.c.project == project)
        with self.engine.connect() as db:
            return list(db.execute(query.order_by(lineage_table.c.source_key)))

    def last_status(self, project: str) -> str | None:
        """The latest finished status of a project (worst of its task runs in that run)."""
        with self.engine.connect() as db:
            run_id = db.execute(
                sa.select(sa.func.max(task_run_table.c.run_id)).where(
                    task_run_table.c.project == project, task_run_table.c.status != "Running"
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
        for status in ("Error", "Skipped", "Warning", "Completed"):
            if status in statuses:
                return status
        return None
