"""The state store's batch commit: on SQLite a batch's lineage goes in as one statement
over a JSON array; it must leave exactly what the row-at-a-time upsert leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
