"""The state database: history, per-record errors and the error queue, lineage with value
digests, incremental cursors.

SQLAlchemy Core over SQLite by default (``sqlite:///state.db`` in the workspace) or
PostgreSQL by URL (``postgresql+psycopg://…``). Statuses follow the Data Integrator:
Completed (all records upserted), Warning (some failed), Error (none succeeded, or the task
stopped), plus Cancelled for a run asked to stop. Everything one batch changes (errors,
queue, lineage, cursor, the task's counts) is committed in one transaction, so a run killed
at any point leaves the state of its last whole batch. The history itself is in
``_history.py``.
"""

from __future__ import annotations

__all__ = ["StateStore"]

import json
import operator
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from p2c._errors import ConfigError
from p2c.engine._database import open_engine, state_error
from p2c.engine._driver import DriverSQL
from p2c.engine._history import RunHistory, note_batch
from p2c.engine._records import Cursor, ErrorRow, LegId, QueuedRecord, TaskCounts
from p2c.engine._tables import (
    MIGRATES_FROM,
    SCHEMA_VERSION,
    error_queue_table,
    lineage_leg_table,
    lineage_table,
    metadata,
    record_error_table,
    schema_table,
    task_cursor_table,
)

# The advisory lock a PostgreSQL state holds while its schema is made or brought up to date.
_SCHEMA_LOCK = 0x7032635F  # "p2c_"
# SQLite allows 32,766 host parameters, PostgreSQL 65,535; IN lists stay well below.
_CHUNK = 900


def _open_schema(db: sa.Connection, safe: str) -> None:
    """Create the tables of a new database, bring one of an earlier version up to date, or
    refuse one of another version. Creating and bringing up to date are one transaction, and
    one process's at a time: another that opens the database meanwhile waits, then finds it
    done."""
    existing, version = _found(db)
    if version != SCHEMA_VERSION:
        _lock_schema(db)
        existing, version = _found(db)
    if version not in (None, SCHEMA_VERSION, *MIGRATES_FROM):
        raise ConfigError(
            f"The state database {safe} has schema version {version}; this p2c "
            f"uses version {SCHEMA_VERSION}.",
            fix="point state.url in p2c.yaml at a new database (the old one keeps "
            "the history of the older p2c)",
        )
    metadata.create_all(db)
    if version is None:
        db.execute(schema_table.insert().values(name="version", value=SCHEMA_VERSION))
    elif version != SCHEMA_VERSION:
        _add_missing_columns(db)
        if "lineage" in existing:
            _move_lineage(db)
        db.execute(
            schema_table.update()
            .where(schema_table.c.name == "version")
            .values(value=SCHEMA_VERSION)
        )


def _found(db: sa.Connection) -> tuple[set[str], str | None]:
    """The database's tables and its schema version (None: a new database)."""
    existing = set(sa.inspect(db).get_table_names())
    if existing and "p2c_schema" not in existing:
        return existing, "1"
    if not existing:
        return existing, None
    version = db.execute(
        sa.select(schema_table.c.value).where(schema_table.c.name == "version")
    ).scalar()
    return existing, version


def _lock_schema(db: sa.Connection) -> None:
    """Hold the database's schema for the rest of the transaction. On SQLite the transaction
    starts here, with the write lock (the driver would otherwise run each CREATE and ALTER
    on its own, outside any transaction); on PostgreSQL, whose DDL is transactional, an
    advisory lock of the transaction."""
    if db.dialect.name == "sqlite":
        db.exec_driver_sql("BEGIN IMMEDIATE")
    elif db.dialect.name == "postgresql":
        db.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")


def _add_missing_columns(db: sa.Connection) -> None:
    """The light migration: columns a newer schema added (all nullable) are added to the
    tables of an older database; no row is rewritten."""
    inspector = sa.inspect(db)
    quote = db.dialect.identifier_preparer.quote
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            assert column.nullable, f"{table.name}.{column.name} must be nullable to be added"
            kind = column.type.compile(dialect=db.dialect)
            db.execute(
                sa.text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}")
            )


def _move_lineage(db: sa.Connection) -> None:
    """Version 5: the lineage of an older database (``lineage``, every row with its leg's
    three names) moved into ``lineage_leg`` and ``record_lineage``, in the transaction
    that opens it; the old table is dropped."""
    db.execute(
        sa.text(
            "INSERT INTO lineage_leg (project, task, leg) "
            "SELECT DISTINCT project, task, leg FROM lineage"
        )
    )
    db.execute(
        sa.text(
            "INSERT INTO record_lineage (leg_id, source_key, source_entity, "
            "destination_entity, destination_key, run_id, digest) "
            "SELECT g.id, o.source_key, o.source_entity, o.destination_entity, "
            "o.destination_key, o.run_id, o.digest FROM lineage AS o JOIN lineage_leg AS g "
            "ON g.project = o.project AND g.task = o.task AND g.leg = o.leg"
        )
    )
    db.execute(sa.text("DROP TABLE lineage"))


def _now() -> datetime:
    return datetime.now(UTC)


def _leg_values(leg: LegId) -> tuple[str, str, str]:
    return (leg.project, leg.task, leg.leg)


# The statements of every task leg, for the driver (``_driver.py``).
_OF_LEG = "project = ? AND task = ? AND leg = ?"
_CURSOR_COLUMNS = ("watermark", "last_key", "definition", "delta", "run_id", "updated_at")
_CURSOR = f"SELECT watermark, last_key, definition, delta FROM task_cursor WHERE {_OF_LEG}"
_SAVE_CURSOR = (
    f"UPDATE task_cursor SET {', '.join(f'{c} = ?' for c in _CURSOR_COLUMNS)} WHERE {_OF_LEG}"
)
_NEW_CURSOR = (
    f"INSERT INTO task_cursor (project, task, leg, {', '.join(_CURSOR_COLUMNS)}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LEG_ID = f"SELECT id FROM lineage_leg WHERE {_OF_LEG}"
_NEW_LEG_ID = (
    "INSERT INTO lineage_leg (project, task, leg) VALUES (?, ?, ?) "
    "ON CONFLICT (project, task, leg) DO NOTHING"
)
_HAS_LINEAGE = "SELECT run_id FROM record_lineage WHERE leg_id = ? LIMIT 1"
_QUEUED_KEYS = f"SELECT source_key FROM error_queue WHERE {_OF_LEG}"


def _by_keys(
    db: sa.Connection, table: sa.Table, leg: LegId, keys: Sequence[str], *columns: str
) -> Iterable[sa.Row[Any]]:
    """Rows of a leg's source keys (the given columns), an IN list at a time."""
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        yield from db.execute(
            sa.select(*(table.c[c] for c in columns)).where(
                leg.where(table), table.c.source_key.in_(part)
            )
        )


def _delete_keys(db: sa.Connection, table: sa.Table, leg: LegId, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        db.execute(table.delete().where(leg.where(table), table.c.source_key.in_(part)))


class StateStore(RunHistory):
    """Runs, task runs, errors, the error queue, lineage and cursors in one database."""

    def __init__(self, url: str) -> None:
        self.engine, safe = open_engine(url)
        try:
            with self.engine.begin() as db:
                _open_schema(db, safe)
        except Exception as exc:  # a database error says what is wrong with the database
            problem = state_error(exc, safe)
            self.engine.dispose()
            if problem is None:
                raise
            raise problem from None
        self.driver = DriverSQL(self.engine)
        mark = self.driver.mark
        self._mark = mark
        # Task legs by their number in lineage_leg; a leg's number never changes.
        self._leg_ids: dict[LegId, int] = {}
        self._digests_sql = (
            "SELECT source_key, destination_key, digest FROM record_lineage "
            f"WHERE leg_id = {mark} AND source_key IN ({{}})"
        )
        columns = [c.name for c in lineage_table.columns]
        self._lineage_columns = columns
        keys = [c.name for c in lineage_table.primary_key]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        # Straight to the driver: one row per written record, and SQLAlchemy's per-row
        # parameter processing would cost more than the write itself.
        self._lineage_upsert = (
            f"INSERT INTO record_lineage ({', '.join(columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
        # On SQLite, a batch's lineage in one statement: its rows as one JSON array, the
        # values every row shares bound once. A third less time than a row at a time.
        self._lineage_json: str | None = None
        if self.engine.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 38):
            each = dict.fromkeys(columns, "?")
            for position, name in enumerate(("source_key", "destination_key", "digest")):
                each[name] = f"json_extract(j.value, '$[{position}]')"
            self._lineage_json = (
                f"INSERT INTO record_lineage ({', '.join(columns)}) "
                f"SELECT {', '.join(each.values())} FROM json_each(?) AS j WHERE true "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
            )

    def close(self) -> None:
        self.engine.dispose()

    # one batch ----------------------------------------------------------------------------------

    def commit_batch(
        self,
        run_id: int,
        task_run_id: int,
        leg: LegId,
        entities: tuple[str, str],
        errors: Sequence[ErrorRow],
        written: Sequence[tuple[str, str, str | None]],
        *,
        dequeue: Sequence[str] = (),
        cursor: Cursor | None = None,
        counts: TaskCounts | None = None,
    ) -> None:
        """Record one acknowledged batch in one transaction.

        Args:
            errors: Failed records: kept in the history and in the error queue.
            written: (source key, destination key, digest) of records the destination holds.
            dequeue: Source keys to take off the error queue (written, found unchanged, or
                gone from the source).
            cursor: Where the next incremental read starts, when the batch moves it.
            counts: The task run's counts so far, this batch included: a run stopped at any
                point shows what it did.
        """
        now = _now()
        leg_id = self._leg_id(leg, add=True) if written else None
        with self.engine.begin() as db:
            note_batch(db, self.driver, run_id, task_run_id, counts, now)
            if errors:
                db.execute(
                    record_error_table.insert(),
                    [
                        {
                            "run_id": run_id,
                            "task_run_id": task_run_id,
                            "project": leg.project,
                            "task": leg.task,
                            "source_key": e.source_key,
                            "destination_key": e.destination_key,
                            "field": e.field,
                            "message": e.message,
                            "retryable": e.retryable,
                            "record_name": e.name,
                        }
                        for e in errors
                    ],
                )
                self._enqueue(db, run_id, leg, errors, now)
            _delete_keys(db, error_queue_table, leg, dequeue)
            if leg_id is not None:
                self._write_lineage(db, run_id, leg_id, entities, written)
            if cursor is not None:
                self._save_cursor(db, run_id, leg, cursor, now)

    def _write_lineage(
        self,
        db: sa.Connection,
        run_id: int,
        leg_id: int,
        entities: tuple[str, str],
        written: Sequence[tuple[str, str, str | None]],
    ) -> None:
        if self._lineage_json is not None:
            shared = {
                "leg_id": leg_id,
                "source_entity": entities[0],
                "destination_entity": entities[1],
                "run_id": run_id,
            }
            values = [shared[c] for c in self._lineage_columns if c in shared]
            # In key order: the index takes them page by page instead of at random (a
            # stable sort: of a key given twice, the last still holds).
            rows = sorted(written, key=operator.itemgetter(0))
            db.exec_driver_sql(self._lineage_json, (*values, json.dumps(rows)))
            return
        db.exec_driver_sql(
            self._lineage_upsert,
            [(leg_id, s, *entities, d, run_id, digest) for s, d, digest in written],
        )

    def _leg_id(self, leg: LegId, *, add: bool = False) -> int | None:
        """The leg's number in lineage_leg (``add``: given it first, in a transaction of its
        own, if it has none). Known once committed: a batch that rolls back does not take
        a number with it."""
        known = self._leg_ids.get(leg)
        if known is not None:
            return known
        names = _leg_values(leg)
        with self.engine.begin() as db:
            if add:
                db.exec_driver_sql(self.driver.sql(_NEW_LEG_ID), names)
            found = db.exec_driver_sql(self.driver.sql(_LEG_ID), names).scalar()
        if found is not None:
            self._leg_ids[leg] = int(found)
        return found

    def _enqueue(
        self, db: sa.Connection, run_id: int, leg: LegId, errors: Sequence[ErrorRow], now: datetime
    ) -> None:
        keys = [e.source_key for e in errors]
        known = {
            row.source_key: (row.attempts, row.first_run_id)
            for row in _by_keys(
                db, error_queue_table, leg, keys, "source_key", "attempts", "first_run_id"
            )
        }
        _delete_keys(db, error_queue_table, leg, list(known))
        rows = {}
        for e in errors:
            attempts, first = known.get(e.source_key, (0, run_id))
            rows[e.source_key] = {
                "project": leg.project,
                "task": leg.task,
                "leg": leg.leg,
                "source_key": e.source_key,
                "destination_key": e.destination_key,
                "field": e.field,
                "message": e.message,
                "retryable": e.retryable,
                "attempts": attempts + 1,
                "first_run_id": first,
                "last_run_id": run_id,
                "failed_at": now,
            }
        db.execute(error_queue_table.insert(), list(rows.values()))

    # cursors --------------------------------------------------------------------------------------

    def cursor(self, leg: LegId) -> Cursor | None:
        with self.engine.connect() as db:
            row = db.exec_driver_sql(self.driver.sql(_CURSOR), _leg_values(leg)).first()
        if row is None:
            return None
        watermark, last_key, definition, delta = row
        return Cursor(watermark or "", last_key or "", definition, delta)

    def save_cursor(self, run_id: int, leg: LegId, cursor: Cursor) -> None:
        with self.engine.begin() as db:
            self._save_cursor(db, run_id, leg, cursor, _now())

    def _save_cursor(
        self, db: sa.Connection, run_id: int, leg: LegId, cursor: Cursor, now: datetime
    ) -> None:
        sql = self.driver
        values = (
            cursor.watermark,
            cursor.last_key,
            cursor.definition,
            cursor.delta,
            run_id,
            sql.moment(now),
        )
        updated = db.exec_driver_sql(sql.sql(_SAVE_CURSOR), (*values, *_leg_values(leg)))
        if not updated.rowcount:
            db.exec_driver_sql(sql.sql(_NEW_CURSOR), (*_leg_values(leg), *values))

    def reset_cursors(self, project: str | None = None) -> int:
        """Forget where incremental reads stand; the next run of each leg is a full pass."""
        statement = task_cursor_table.delete()
        if project:
            statement = statement.where(task_cursor_table.c.project == project)
        with self.engine.begin() as db:
            return int(db.execute(statement).rowcount)

    def cursors(self) -> list[sa.Row[Any]]:
        with self.engine.connect() as db:
            return list(
                db.execute(
                    task_cursor_table.select().order_by(
                        task_cursor_table.c.project, task_cursor_table.c.task
                    )
                )
            )

    # lineage and digests ------------------------------------------------------------------------

    def has_lineage(self, leg: LegId) -> bool:
        leg_id = self._leg_id(leg)
        if leg_id is None:
            return False
        with self.engine.connect() as db:
            found = db.exec_driver_sql(self.driver.sql(_HAS_LINEAGE), (leg_id,))
            return found.first() is not None

    def digests(self, leg: LegId, source_keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """(destination key, digest) of the given source records, where known.

        Straight to the driver, its rows as plain tuples: a page's keys are thousands, and
        SQLAlchemy's row objects (and, in a new process, compiling the statement for each
        length of IN list) cost more than the lookup itself."""
        found: dict[str, tuple[str, str | None]] = {}
        leg_id = self._leg_id(leg)
        if leg_id is None:
            return found
        with self.engine.connect() as db:
            for start in range(0, len(source_keys), _CHUNK):
                part = source_keys[start : start + _CHUNK]
                marks = ", ".join([self._mark] * len(part))
                statement = self._digests_sql.format(marks)
                rows = db.exec_driver_sql(statement, (leg_id, *part)).fetchall()
                found.update((key, (destination, digest)) for key, destination, digest in rows)
        return found

    def lineage(self, project: str | None = None) -> list[sa.Row[Any]]:
        """Every lineage row (of one project), each with its leg's names."""
        legs, rows = lineage_leg_table.c, lineage_table.c
        query = sa.select(
            legs.project, legs.task, legs.leg, *(c for c in rows if c is not rows.leg_id)
        ).join_from(lineage_table, lineage_leg_table, rows.leg_id == legs.id)
        if project:
            query = query.where(legs.project == project)
        with self.engine.connect() as db:
            return list(db.execute(query.order_by(rows.source_key)))

    # the error queue ----------------------------------------------------------------------------

    def queue(
        self,
        *,
        leg: LegId | None = None,
        project: str | None = None,
        run_id: int | None = None,
        source_key: str | None = None,
        retryable: bool | None = None,
    ) -> list[QueuedRecord]:
        """Failed records not written since, filtered as asked."""
        t = error_queue_table
        query = t.select().order_by(t.c.project, t.c.task, t.c.leg, t.c.source_key)
        if leg is not None:
            query = query.where(leg.where(t))
        if project is not None:
            query = query.where(t.c.project == project)
        if run_id is not None:
            query = query.where(t.c.last_run_id == run_id)
        if source_key is not None:
            query = query.where(t.c.source_key == source_key)
        if retryable is not None:
            query = query.where(t.c.retryable == retryable)
        with self.engine.connect() as db:
            return [
                QueuedRecord(
                    LegId(r.project, r.task, r.leg),
                    r.source_key,
                    r.destination_key,
                    r.field,
                    r.message,
                    r.retryable,
                    r.attempts,
                    r.first_run_id,
                    r.last_run_id,
                    r.failed_at,
                )
                for r in db.execute(query)
            ]

    def queued_keys(self, leg: LegId) -> set[str]:
        with self.engine.connect() as db:
            rows = db.exec_driver_sql(self.driver.sql(_QUEUED_KEYS), _leg_values(leg))
            return {key for (key,) in rows}
