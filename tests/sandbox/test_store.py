"""The sandbox store's multi-row insert: rows in order across statements, or none."""

from __future__ import annotations

import apsw
import pytest

from p2c.sandbox._store import insert_many


def _table() -> apsw.Connection:
    db = apsw.Connection(":memory:")
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a, b, c, d DEFAULT 'x')")
    return db


def test_rows_go_in_in_order_over_several_statements() -> None:
    db = _table()
    rows = [(i, f"text {i}", None if i % 7 else 1.5) for i in range(5000)]
    insert_many(db, "INSERT INTO t (a, b, c, d) VALUES ", "(?, ?, ?, 'y')", rows, 3)
    got = list(db.execute("SELECT seq, a, b, c, d FROM t ORDER BY seq"))
    assert got == [(i + 1, *row, "y") for i, row in enumerate(rows)]


def test_a_row_of_the_wrong_width_inserts_nothing() -> None:
    db = _table()
    with pytest.raises(ValueError, match="3 values"):
        insert_many(db, "INSERT INTO t (a, b, c) VALUES ", "(?, ?, ?)", [(1, 2, 3), (1, 2)], 3)
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
