"""Benchmark: what the interpreter pays per record for a page's digests and staging, p2c's
way beside the alternatives tried, on one page shaped like a mapped contact person.

A run on the sandbox is bound by Python's interpreter lock: two of the largest holders
are the value digests (``repr`` of the mapped row, keyed blake2b) and binding a page's
values into the staging table. This prints, for a page of 5,000 rows of 25 values (12
texts that vary, 8 empty, 5 the same in every row, as ContactToCustomer's and Contacts'
pages are), each way's time, the fastest of 30 and the median, so that a change to either
path can be weighed against the figures here.

    .venv/bin/python benchmarks/interpreter_costs.py
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import string
import time
from collections.abc import Callable
from typing import Any

import apsw

# The engine's and the sandbox's own code: what a run does, measured in isolation.
from p2c.engine._page import Digests
from p2c.sandbox._store import insert_many

ROWS, WIDTH = 5_000, 25
TIMES = 30


def _page() -> list[tuple[Any, ...]]:
    pick = random.Random(15)

    def value(column: int) -> str | None:
        if column < 12:
            return "".join(pick.choices(string.ascii_letters, k=12))
        return None if column < 20 else "usmf"

    return [tuple(value(c) for c in range(WIDTH)) for _ in range(ROWS)]


def _timed(label: str, work: Callable[[], object], per: int, unit: str = "µs") -> None:
    seconds = []
    for _ in range(TIMES):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    best, median = min(seconds), statistics.median(seconds)
    each = (
        f"{best * 1e9 / per:4.0f} ns per value"
        if unit == "ns"
        else f"{best * 1e6 / per:4.2f} µs per row"
    )
    print(f"  {label:<58} {best * 1000:6.2f} ms (median {median * 1000:6.2f}), {each}")


def digests(rows: list[tuple[Any, ...]]) -> None:
    keyed = Digests(b"the leg's definition")
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    print(f"digests of a page ({ROWS:,} rows):")
    _timed("p2c: repr of the row as a list, keyed blake2b", lambda: list(map(keyed, rows)), ROWS)
    _timed("the repr alone", lambda: [repr(list(r)).encode() for r in rows], ROWS)
    _timed("json encoding alone (instead of repr)", lambda: list(map(encode, rows)), ROWS)


def staging(rows: list[tuple[Any, ...]]) -> None:
    db = apsw.Connection(":memory:")
    columns = [f"c{i}" for i in range(WIDTH)]
    db.execute(f"CREATE TEMP TABLE stage (seq INTEGER PRIMARY KEY, {', '.join(columns)})")
    head = f"INSERT INTO temp.stage ({', '.join(columns)}) VALUES "
    marks = f"({', '.join('?' * WIDTH)})"
    values = ROWS * WIDTH

    def p2c() -> None:
        db.execute("DELETE FROM temp.stage")
        insert_many(db, head, marks, rows, WIDTH)

    def executemany() -> None:
        db.execute("DELETE FROM temp.stage")
        db.executemany(head + marks, rows)

    def json_each() -> None:
        db.execute("DELETE FROM temp.stage")
        picks = ", ".join(f"value->>{i}" for i in range(WIDTH))
        db.execute(
            f"INSERT INTO temp.stage ({', '.join(columns)}) SELECT {picks} FROM json_each(?)",
            (json.dumps(rows),),
        )

    def without_empty_columns() -> None:
        db.execute("DELETE FROM temp.stage")
        kept = [
            (name, column)
            for name, column in zip(columns, zip(*rows, strict=True), strict=True)
            if column.count(None) != len(column)
        ]
        projected = list(zip(*(column for _, column in kept), strict=True))
        names = ", ".join(name for name, _ in kept)
        insert_many(
            db,
            f"INSERT INTO temp.stage ({names}) VALUES ",
            f"({', '.join('?' * len(kept))})",
            projected,
            len(kept),
        )

    print(f"staging a page ({ROWS:,} rows, {values:,} values):")
    _timed("p2c: multi-row VALUES, about 4,000 values a statement", p2c, values, "ns")
    _timed("executemany, a statement per row", executemany, values, "ns")
    _timed("the page as one JSON text through json_each", json_each, values, "ns")
    _timed(
        "without the page's empty columns (found by transposing it)",
        without_empty_columns,
        values,
        "ns",
    )
    db.close()


def main() -> None:
    rows = _page()
    digests(rows)
    staging(rows)
    flat = list(itertools.chain.from_iterable(rows))
    print(f"(a page's values: {len(flat):,}; of them empty: {flat.count(None):,})")


if __name__ == "__main__":
    main()
