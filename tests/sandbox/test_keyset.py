"""An incremental cursor's "after (watermark, key)" condition is read as a row value that
selects exactly the records the filter does, and starts the read at the position in the
index."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from p2c.dynamics import SALES
from p2c.engine import Cursor
from p2c.engine._cursor import Incremental
from p2c.odata import Compare, Filter, Logical, evaluate, parse_filter, to_sql
from p2c.sandbox import SalesSandbox, sample_document
from p2c.sandbox._keyset import Keyset, split_keyset
from p2c.sandbox._query import _statement

STARTED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
MOMENTS = ["2025-03-01T10:00:00Z", "2025-03-01T10:00:01Z", "2025-03-01T10:00:02Z"]


def _after(key: tuple[str, ...], position: list[Any], moment: str = MOMENTS[1]) -> Filter:
    """The condition the engine's cursor gives for a position."""
    cursor = Incremental("modifiedon", key, "d", lag=timedelta(0), started=STARTED)
    cursor.resume(Cursor(moment, json.dumps(position), "d"))
    where = cursor.where()
    assert where is not None
    return where


def test_the_cursor_condition_is_found_alone_and_beside_a_filter() -> None:
    after = _after(("area", "number"), ["usmf", 5])
    assert split_keyset(after) == (
        None,
        Keyset(("modifiedon", "area", "number"), (MOMENTS[1], "usmf", 5)),
    )
    leg = parse_filter("statecode eq 0 and msdynce_isactivecustomer eq true")
    rest, keyset = split_keyset(Logical("and", leg, after))
    assert rest == leg
    assert keyset is not None and keyset.columns == ("modifiedon", "area", "number")


def test_other_shapes_are_left_to_the_filter() -> None:
    w, v = "modifiedon", MOMENTS[1]
    for tree in [
        parse_filter("modifiedon ge 2025-03-01T10:00:01Z"),
        # Not the same timestamp on both sides.
        Logical(
            "and",
            Compare("ge", w, v),
            Logical("or", Compare("gt", w, MOMENTS[0]), Compare("gt", "id", "b")),
        ),
        # ``or`` at the top: not a condition every record must meet.
        Logical(
            "or", Compare("ge", w, v), Logical("or", Compare("gt", w, v), Compare("gt", "id", "b"))
        ),
        # A tie broken by ``ge``: not after the position.
        Logical(
            "and", Compare("ge", w, v), Logical("or", Compare("gt", w, v), Compare("ge", "id", "b"))
        ),
        # A composite key whose tie names another field.
        Logical(
            "and",
            Compare("ge", w, v),
            Logical(
                "or",
                Compare("gt", w, v),
                Logical(
                    "or",
                    Compare("gt", "a", 1),
                    Logical("and", Compare("eq", "b", 1), Compare("gt", "c", 2)),
                ),
            ),
        ),
    ]:
        assert split_keyset(tree) == (tree, None)


_records = st.lists(
    st.tuples(
        st.sampled_from([*MOMENTS, None]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 3),
        st.booleans(),
    ),
    max_size=30,
)


@given(
    records=_records,
    position=st.tuples(
        st.sampled_from(MOMENTS), st.sampled_from(["a", "b", "c"]), st.integers(0, 3)
    ),
)
def test_the_row_value_selects_what_the_filter_selects(
    records: list[tuple[Any, ...]], position: tuple[str, str, int]
) -> None:
    moment, area, number = position
    tree = Logical(
        "and", parse_filter("flag eq true"), _after(("area", "number"), [area, number], moment)
    )
    rest, keyset = split_keyset(tree)
    assert rest is not None and keyset is not None
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (modifiedon, area, number, flag)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", records)
    condition, params = to_sql(rest, lambda name: f'"{name}"')
    names = ", ".join(f'"{c}"' for c in keyset.columns)
    marks = ", ".join("?" * len(keyset.columns))
    sql = f"SELECT * FROM t WHERE ({condition}) AND (({names}) > ({marks}))"
    found = db.execute(sql, [*params, *keyset.values]).fetchall()
    columns = ("modifiedon", "area", "number", "flag")
    expected = [r for r in records if evaluate(tree, dict(zip(columns, r, strict=True)))]
    assert sorted(found, key=repr) == sorted(expected, key=repr)


def test_the_sandbox_reads_after_the_position_from_the_index(tmp_path: Path) -> None:
    sales = SalesSandbox(tmp_path / "sales.db", create=True)
    sales.initialize()
    sales.load(sample_document(40))
    try:
        db = sales.store.db
        db.execute("UPDATE contact SET modifiedon = ?", (MOMENTS[1],))
        db.execute("UPDATE contact SET modifiedon = ? WHERE rowid % 3 = 0", (MOMENTS[0],))
        every = [r for page in sales.query("contacts", ["contactid", "modifiedon"]) for r in page]
        ordered = sorted(every, key=lambda r: (r["modifiedon"], r["contactid"]))
        position = ordered[len(ordered) // 2]
        after = _after(("contactid",), [position["contactid"]], position["modifiedon"])
        order = ("modifiedon", "contactid")
        read = [
            r for page in sales.query("contacts", order, where=after, order_by=order) for r in page
        ]
        assert read == ordered[len(ordered) // 2 + 1 :]
        contact = SALES.entity("contact")
        sql, params, _, _ = _statement(
            contact,
            columns=order,
            lookups=(),
            where=after,
            visible=sales.visible_columns(contact),
            resolve=SALES.entity,
            order=[(c, False) for c in order],
            after=None,
            limit=None,
            offset=0,
            fold_case=False,
        )
        plan = " ".join(str(row) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "(modifiedon,contactid)>(?,?)" in plan
    finally:
        sales.close()
