"""A SQLite database per sandbox system: tables made from entity metadata, plus settings.

Through APSW rather than the standard library's ``sqlite3``: it binds and fetches values
about three times faster, which is most of the cost of a sync on the sandbox.
"""

from __future__ import annotations

__all__ = ["Store", "chunks", "pages"]

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import apsw

from p2c._errors import NotFoundError
from p2c.dynamics import Entity
from p2c.sandbox._checkpoint import Checkpointer

T = TypeVar("T")

# SQLite allows 32,766 host parameters; stay well below for IN lists.
MAX_PARAMS = 900


def chunks(items: Sequence[T], size: int = MAX_PARAMS) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Store:
    """One system's SQLite database.

    Args:
        path: Database file; created with its tables when ``create`` is true.
        entities: The entities whose tables the database holds; a table that is missing
            is made when the store opens (only new tables: an existing one is not altered).
        create: Make the file if missing.
    """

    def __init__(self, path: Path, entities: Iterable[Entity], *, create: bool = False) -> None:
        if not create and not path.exists():
            raise NotFoundError(
                f"Sandbox database {path} does not exist.",
                fix="create the workspace with `p2c init DIR` or pass --workspace DIR",
            )
        self.path = path
        # Transactions are explicit (see ``transaction``), so a failed load rolls back whole.
        self.db = apsw.Connection(str(path))
        # First: switching to WAL takes a lock another connection may hold for a moment.
        self.db.set_busy_timeout(30_000)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # The log is copied back into the file on a thread of its own (``_checkpoint.py``).
        self.checkpointer = Checkpointer(path)
        self.db.set_wal_hook(self.checkpointer.hook)
        self.entities = {e.name: e for e in entities}
        listed = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {row[0] for row in listed}
        # Every open: an entity added to the model since the file was made gets its table,
        # and a column added to an entity (Sales' versionnumber) its column.
        missing = [e for e in self.entities.values() if create or e.name not in tables]
        added = self._added_columns([e for e in self.entities.values() if e.name in tables])
        if missing or added:
            with self.transaction():
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS sandbox_setting (name TEXT PRIMARY KEY, value TEXT)"
                )
                for entity in missing:
                    for statement in entity.ddl():
                        self.db.execute(statement)
                for statement in added:
                    self.db.execute(statement)

    def _added_columns(self, entities: Iterable[Entity]) -> list[str]:
        """ALTER TABLE statements for the model's columns an existing table lacks."""
        statements = []
        for entity in entities:
            listed = self.db.execute(f'PRAGMA table_info("{entity.name}")')
            have = {row[1] for row in listed}
            for f in entity.fields:
                wanted = [(f.name, f.sql_type)]
                if f.polymorphic:
                    wanted.append((f"{f.name}type", "TEXT"))
                statements += [
                    f'ALTER TABLE "{entity.name}" ADD COLUMN "{name}" {kind}'
                    for name, kind in wanted
                    if name not in have
                ]
        return statements

    def close(self) -> None:
        self.checkpointer.close()
        self.db.close()

    def transaction(self) -> _Transaction:
        """All-or-nothing block; nested use joins the outer transaction."""
        return _Transaction(self.db)

    # settings --------------------------------------------------------------------------------

    def setting(self, name: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM sandbox_setting WHERE name = ?", (name,))
        return default if value is None else str(value)

    def set_setting(self, name: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO sandbox_setting (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    # rows ------------------------------------------------------------------------------------

    def insert(self, entity: Entity, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        self.db.executemany(f'INSERT INTO "{entity.name}" ({names}) VALUES ({marks})', rows)

    def existing(self, entity: Entity, column: str, values: Sequence[Any]) -> set[Any]:
        """Which of ``values`` occur in ``column``."""
        found: set[Any] = set()
        for part in chunks(list(set(values))):
            marks = ", ".join("?" * len(part))
            found.update(
                row[0]
                for row in self.db.execute(
                    f'SELECT "{column}" FROM "{entity.name}" WHERE "{column}" IN ({marks})', part
                )
            )
        return found

    def rows(
        self, entity: Entity, where: str = "", params: Sequence[Any] = (), order: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stored rows as dicts of column -> stored value."""
        order_by = order or ", ".join(f'"{k}"' for k in entity.key)
        names = entity.columns
        columns = ", ".join(f'"{c}"' for c in names)
        cursor = self.db.execute(
            f'SELECT {columns} FROM "{entity.name}" {where} ORDER BY {order_by}', params
        )
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it changed."""
        self.db.execute(sql, params)
        return int(self.db.changes())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first value of the first row, or None when there is no row."""
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def count(self, entity: Entity) -> int:
        return int(self.scalar(f'SELECT COUNT(*) FROM "{entity.name}"'))


_BOUND = 4000  # values bound per statement: a few hundred rows


def insert_many(
    db: apsw.Connection, head: str, marks: str, rows: Sequence[Sequence[Any]], width: int
) -> None:
    """Insert rows of ``width`` values each (``marks``: one row's ``(?, ?, …)``) with
    multi-row ``VALUES``: a statement per few hundred rows, not a step per row as
    ``executemany`` takes. About half the time; and where another Python thread runs, one
    wait for the interpreter per statement instead of one per row.

    Raises:
        ValueError: A row does not have ``width`` values.
    """
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row must have {width} values")
    per = max(1, _BOUND // max(1, width))
    full = head + ", ".join([marks] * per)
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        sql = full if len(part) == per else head + ", ".join([marks] * len(part))
        db.execute(sql, list(itertools.chain.from_iterable(part)))


def pages(cursor: Iterable[T], size: int) -> Iterator[list[T]]:
    """A cursor's rows in lists of ``size``."""
    rows = iter(cursor)
    while page := list(itertools.islice(rows, size)):
        yield page


class _Transaction:
    def __init__(self, db: apsw.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> apsw.Connection:
        self.outer = not self.db.in_transaction
        if self.outer:
            self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, *_: object) -> None:
        if not self.outer:
            return
        if kind is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
