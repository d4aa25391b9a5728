"""Row versions of the sandbox Sales: every create and update of a row gives its
``versionnumber`` the next number of one counter for the database, as Dataverse's row
version (SQL Server ``rowversion``) does. The Web API's ``@odata.etag`` is that number, so an
ETag costs one column rather than a digest of the whole row.

SQLite triggers keep the numbers, so every write path (loads, updates, the Prospect-to-cash
plug-ins, set-wise upserts) is covered without each knowing of it. A trigger costs every
row it could fire on, even when its condition keeps it from firing (a load of 50,000
contacts took a third longer), so the bulk writes of a load number their rows themselves,
with the tables' triggers set aside for the while (``numbered_here``).
"""

from __future__ import annotations

__all__ = [
    "COLUMN",
    "install_row_versions",
    "next_versions",
    "numbered_here",
    "stamp_sql",
    "stamped",
]

import contextlib
from collections.abc import Iterable, Iterator

from p2c.dynamics import Entity
from p2c.sandbox._store import Store

COLUMN = "versionnumber"
_COUNTER = "sandbox_row_version"


def _triggers(entity: Entity) -> dict[str, str]:
    """The two triggers of a table by name. The update trigger fires on a write of any other
    column, so its own write of the version does not fire it again."""
    others = ", ".join(f'"{c}"' for c in entity.columns if c != COLUMN)
    stamp = (
        f"BEGIN UPDATE {_COUNTER} SET n = n + 1; "
        f'UPDATE "{entity.name}" SET "{COLUMN}" = (SELECT n FROM {_COUNTER}) '
        "WHERE rowid = NEW.rowid; END"
    )
    insert, update = f"version_{entity.name}_insert", f"version_{entity.name}_update"
    # A create through SalesSandbox numbers its rows itself (next_versions): one statement
    # for a whole load rather than one per row.
    unnumbered = f'WHEN NEW."{COLUMN}" IS NULL'
    return {
        insert: f'CREATE TRIGGER "{insert}" AFTER INSERT ON "{entity.name}" {unnumbered} {stamp}',
        update: f'CREATE TRIGGER "{update}" AFTER UPDATE OF {others} ON "{entity.name}" {stamp}',
    }


def install_row_versions(store: Store, entities: Iterable[Entity]) -> None:
    """Create the counter and the triggers of the tables with a version column where they
    are missing or name other columns (the model gained one); rows written before get
    numbers of their own."""
    versioned = [e for e in entities if COLUMN in e.by_name]
    wanted = {name: sql for e in versioned for name, sql in _triggers(e).items()}
    listed = store.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    have: dict[str, str] = dict(listed)
    stale = [name for name, sql in wanted.items() if have.get(name) != sql]
    if not stale:
        return
    with store.transaction():
        store.db.execute(f"CREATE TABLE IF NOT EXISTS {_COUNTER} (n INTEGER NOT NULL)")
        if store.scalar(f"SELECT count(*) FROM {_COUNTER}") == 0:
            store.db.execute(f"INSERT INTO {_COUNTER} (n) VALUES (0)")
        for name in stale:
            store.db.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            store.db.execute(wanted[name])
        for entity in versioned:
            _number_unversioned(store, entity)


def _number_unversioned(store: Store, entity: Entity) -> None:
    """Rows without a version (written before the triggers) get distinct new ones."""
    table = f'"{entity.name}"'
    store.db.execute(
        f'UPDATE {table} SET "{COLUMN}" = (SELECT n FROM {_COUNTER}) + rowid '
        f'WHERE "{COLUMN}" IS NULL'
    )
    store.db.execute(f"UPDATE {_COUNTER} SET n = n + (SELECT coalesce(max(rowid), 0) FROM {table})")


def next_versions(store: Store, count: int) -> range:
    """``count`` new version numbers for rows about to be inserted, in the caller's
    transaction."""
    store.db.execute(f"UPDATE {_COUNTER} SET n = n + ?", (count,))
    last = store.scalar(f"SELECT n FROM {_COUNTER}")
    assert isinstance(last, int)
    return range(last - count + 1, last + 1)


@contextlib.contextmanager
def numbered_here(store: Store, entity: Entity) -> Iterator[None]:
    """Inside the caller's transaction, set the table's version triggers aside while the
    caller numbers the rows it writes (``next_versions`` for inserts, ``stamp_sql`` and
    ``stamped`` for updates), and put them back after. DDL is part of the transaction in
    SQLite: no other connection ever sees the table without them.
    """
    if COLUMN not in entity.by_name:
        yield
        return
    assert store.db.in_transaction, "numbered_here needs the caller's transaction"
    triggers = _triggers(entity)
    for name in triggers:
        store.db.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    try:
        yield
    finally:
        for sql in triggers.values():
            store.db.execute(sql)


def stamp_sql() -> str:
    """The assignment that gives each row an UPDATE changes a new number of its own, above
    every number given so far; ``stamped`` then moves the counter past them."""
    return f'"{COLUMN}" = (SELECT n FROM {_COUNTER}) + rowid'


def stamped(store: Store, entity: Entity) -> None:
    """After UPDATEs with ``stamp_sql``: the counter passes every number they gave."""
    store.db.execute(
        f'UPDATE {_COUNTER} SET n = n + (SELECT coalesce(max(rowid), 0) FROM "{entity.name}")'
    )
