"""The sandbox store: its multi-row insert (rows in order across statements, or none),
and its log copied back into the file on a thread of its own."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import apsw
import pytest

from p2c.sandbox._checkpoint import WAKE_PAGES
from p2c.sandbox._store import Store, insert_many


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


def _fill(store: Store, megabytes: int) -> None:
    blob = "x" * 4000
    for start in range(0, megabytes * 256, 256):  # a transaction per MB
        with store.transaction():
            store.db.executemany(
                "INSERT INTO filler (n, text) VALUES (?, ?)",
                [(n, blob) for n in range(start, start + 256)],
            )


def test_the_log_is_copied_back_while_the_store_is_open(tmp_path: Path) -> None:
    """Past ``WAKE_PAGES`` of log the checkpoint thread copies it into the file while the
    writer goes on; the close finds little left."""
    path = tmp_path / "system.db"
    store = Store(path, [], create=True)
    try:
        store.db.execute("CREATE TABLE filler (n INTEGER PRIMARY KEY, text TEXT)")
        _fill(store, 2 * WAKE_PAGES * 4096 // 2**20)
        deadline = time.monotonic() + 10
        while path.stat().st_size < WAKE_PAGES * 4096 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.stat().st_size >= WAKE_PAGES * 4096  # the file has the rows already
    finally:
        store.close()
    assert not path.with_name("system.db-wal").exists()  # all copied back, the log gone
    check = apsw.Connection(str(path))
    assert check.execute("SELECT count(*) FROM filler").fetchone() == (
        2 * WAKE_PAGES * 4096 // 2**20 * 256,
    )


def test_a_small_store_starts_no_thread(tmp_path: Path) -> None:
    before = {t.name for t in threading.enumerate()}
    store = Store(tmp_path / "small.db", [], create=True)
    store.db.execute("CREATE TABLE t (n)")
    store.db.execute("INSERT INTO t VALUES (1)")
    assert {t.name for t in threading.enumerate()} - before == set()
    store.close()
