"""The state store's batch commit: on SQLite a batch's lineage goes in as one statement
over a JSON array; it must leave exactly what the row-at-a-time upsert leaves. Bringing an
older database up to date is all or nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from engine_scenarios import as_version_4

from p2c import P2CError
from p2c.engine import LegId, StateStore

LEG = LegId("contacts", "ContactToCustomer", "main")
ENTITIES = ("contacts", "CustomersV2")


def _lineage(store: StateStore) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in store.lineage()]


def _commit(store: StateStore, run_id: int, written: list[tuple[str, str, str | None]]) -> None:
    store.commit_batch(run_id, 0, LEG, ENTITIES, [], written)


def test_lineage_in_one_statement_is_the_row_at_a_time_upsert(tmp_path: Path) -> None:
    one = StateStore(f"sqlite:///{tmp_path / 'one.db'}")
    rows = StateStore(f"sqlite:///{tmp_path / 'rows.db'}")
    rows._lineage_json = None  # the path PostgreSQL takes
    assert one._lineage_json is not None
    first: list[tuple[str, str, str | None]] = [
        ("1", "usmf/C1", "d1"),
        ("2", "usmf/C2", None),
        ("ü \"quoted\" \\ 'x'", "usmf/Ü", "d3"),
        ("1", "usmf/C1b", "d1b"),  # the same source twice in a batch: the last one holds
    ]
    second: list[tuple[str, str, str | None]] = [("2", "usmf/C2", "d2"), ("4", "usmf/C4", "")]
    for store in (one, rows):
        _commit(store, 1, first)
        _commit(store, 2, second)
    try:
        assert _lineage(one) == _lineage(rows)
        assert {r[3]: (r[6], r[7], r[8]) for r in _lineage(one)} == {
            "1": ("usmf/C1b", 1, "d1b"),
            "2": ("usmf/C2", 2, "d2"),
            "4": ("usmf/C4", 2, ""),
            "ü \"quoted\" \\ 'x'": ("usmf/Ü", 1, "d3"),
        }
    finally:
        one.close()
        rows.close()


def test_an_update_of_the_schema_that_fails_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(f"sqlite:///{path}")
    _commit(store, 1, [("1", "usmf/C1", "d1")])
    store.close()
    with sqlite3.connect(path) as db:
        as_version_4(db.execute)
        # An old lineage the move cannot read: it fails half way, after the new tables
        # are made and the legs numbered.
        db.execute("ALTER TABLE lineage DROP COLUMN digest")
    before = _tables_and_version(path)

    with pytest.raises((P2CError, sa.exc.SQLAlchemyError)):
        StateStore(f"sqlite:///{path}")

    assert _tables_and_version(path) == before
    assert "record_lineage" not in before[0] and "lineage" in before[0]


def _tables_and_version(path: Path) -> tuple[set[str], str]:
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        (version,) = db.execute("SELECT value FROM p2c_schema WHERE name = 'version'").fetchone()
    return tables, version
