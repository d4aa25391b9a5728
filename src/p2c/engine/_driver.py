"""The statements every run makes, straight to the database driver.

A run is a new process more often than not (the command line, a worker's job), and in a new
process SQLAlchemy compiles each Core statement the first time it runs: a few tenths of a
millisecond each, which on a small incremental run is a fifth of its time. The statements a
run makes once per task leg or per batch are therefore written here once, as SQL both
SQLite and PostgreSQL take, and executed with ``exec_driver_sql``: still through the
engine, its transactions and its error translation (``_database.py``), only not compiled.
Statements written with ``?`` get the driver's own mark; datetimes are bound as the
``UTCDateTime`` columns bind them, so rows read back by Core are the same either way.
"""

from __future__ import annotations

__all__ = ["DriverSQL"]

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from p2c.engine._tables import UTCDateTime


class DriverSQL:
    """The driver's form of statements and values for one engine."""

    def __init__(self, engine: sa.Engine) -> None:
        dialect = engine.dialect
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sqlite = dialect.name == "sqlite"
        moments = UTCDateTime().dialect_impl(dialect)
        self._moment = moments.bind_processor(dialect)
        self._read_moment = moments.result_processor(dialect, None)

    def sql(self, statement: str) -> str:
        """``statement`` (written with ``?`` marks) in the driver's paramstyle."""
        return statement if self.mark == "?" else statement.replace("?", self.mark)

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def moment(self, value: datetime | None) -> Any:
        """A datetime as a ``UTCDateTime`` column binds it."""
        return self._moment(value) if self._moment is not None else value

    def read_moment(self, value: Any) -> datetime | None:
        """A ``UTCDateTime`` column's value as read: an aware UTC datetime (or None)."""
        return self._read_moment(value) if self._read_moment is not None else value

    def insert_id(self, db: sa.Connection, statement: str, params: tuple[Any, ...]) -> int:
        """Run an INSERT (``?`` marks) into a table whose key is ``id``; the new row's id."""
        if self.sqlite:
            result = db.exec_driver_sql(statement, params)
            return int(result.lastrowid)
        result = db.exec_driver_sql(self.sql(statement) + " RETURNING id", params)
        return int(result.scalar_one())
