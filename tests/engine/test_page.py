"""The page in rows: keys, digests (the same as the record path's and as stored before),
and the tally of a page's outcomes."""

from __future__ import annotations

import hashlib

from p2c._rows import RowRecords
from p2c.dynamics import Outcome, WriteStatus
from p2c.engine._mapping import compile_map
from p2c.engine._page import Digests, RowPage, tally
from p2c.engine._records import TaskCounts
from p2c.templates import parse_transform

DEFINITION = b"d" * 64


def test_a_digest_is_the_keyed_blake2b_of_the_mapped_values_as_stored_before() -> None:
    """Lineage digests written by earlier versions stay valid: an unchanged record is not
    written again after an upgrade."""
    values = ["C1", None, 2.5, True, "Åsa"]
    expected = hashlib.blake2b(repr(values).encode(), digest_size=16, key=DEFINITION).hexdigest()
    digests = Digests(DEFINITION)
    assert digests(values) == expected
    assert digests(tuple(values)) == expected
    assert digests(dict(zip("abcde", values, strict=True)).values()) == expected
    assert digests(["C2"]) != expected


def _page() -> RowPage:
    compiled = compile_map(
        {
            "CustomerAccount": "number",
            "Name": parse_transform({"from": "name", "default": "?"}),
        },
        {"dataAreaId": "usmf"},
    )
    return RowPage(compiled, ("id", "number", "name"), ("id",), Digests(DEFINITION))


def test_rows_map_to_the_records_digests_and_leave_out_the_unchanged() -> None:
    page = _page()
    rows = [("a", "C1", "Ann"), ("b", "C2", None), ("c", "C3", "Cy")]
    prepared = page.prepare(rows)
    assert prepared.keys == ["a", "b", "c"]
    assert prepared.digests == [Digests(DEFINITION)(m) for m in prepared.rows]
    unchanged = Digests(DEFINITION)(["C2", "?", "usmf"])
    counts = TaskCounts()
    known = {"b": ("usmf/C2", unchanged), "c": ("usmf/C3", "other")}
    batch = RowPage.keep(prepared, known, {"b"}, counts)
    assert batch.records == [("C1", "Ann", "usmf"), ("C3", "Cy", "usmf")]
    assert batch.keys == ["a", "c"]
    assert batch.digests == [Digests(DEFINITION)(m) for m in batch.records]
    assert (batch.settled, counts.unchanged) == (["b"], 1)
    record = page.record(batch.records[0])
    assert record == {"CustomerAccount": "C1", "Name": "Ann", "dataAreaId": "usmf"}
    # Nothing known (a first sync): every row is kept, as mapped.
    assert RowPage.keep(prepared, {}, set(), counts).records == prepared.rows


def test_composite_source_keys_are_joined_and_rows_read_as_records() -> None:
    compiled = compile_map({"X": "x"})
    page = RowPage(compiled, ("k1", "x", "k2"), ("k1", "k2"), Digests(DEFINITION))
    assert page.keys([("a", 1, 2), ("b", 3, "z")]) == ["a/2", "b/z"]
    view = RowRecords(("k1", "x"), [("a", 1), ("b", 2)])
    assert len(view) == 2
    assert view[-1] == {"k1": "b", "x": 2}
    assert [record["k1"] for record in reversed(view)] == ["b", "a"]


def test_tally_counts_statuses_and_names_destination_keys() -> None:
    results = [
        Outcome(("usmf", "C1"), WriteStatus.CREATED),
        Outcome(("C2",), WriteStatus.UPDATED),
        Outcome(("usmf", "C3"), WriteStatus.FAILED, "Name", "bad"),
        Outcome((7,), WriteStatus.UNCHANGED),
    ]
    counts = TaskCounts()
    heard: list[tuple[int, str]] = []
    written, failed = tally(
        results,
        ["a", "b", "c", "d"],
        ["1", "2", "3", "4"],
        counts,
        lambda i, k: heard.append((i, k)),
    )
    assert written == [("a", "usmf/C1", "1"), ("b", "C2", "2"), ("d", "7", "4")]
    assert failed == [2]
    assert (counts.created, counts.updated, counts.unchanged, counts.failed) == (1, 1, 1, 0)
    assert heard == [(0, "usmf/C1"), (1, "C2"), (3, "7")]


def test_tally_without_a_listener_is_the_same_tally() -> None:
    """The quick tally (no listener, every key value a text) and the record-by-record one
    (a listener, or a key value of another type) agree."""
    results = [
        Outcome(("usmf", "C1"), WriteStatus.CREATED),
        Outcome(("C2",), WriteStatus.UPDATED),
        Outcome(("usmf", "C3"), WriteStatus.FAILED, "Name", "bad"),
        Outcome(("usmf", "C4"), WriteStatus.UNCHANGED),
        Outcome(("usmf", "C5"), WriteStatus.CREATED),
    ]
    for page in (results, results[:2], [*results, Outcome((7,), WriteStatus.CREATED)]):
        keys, digests = list("abcdef"[: len(page)]), list("123456"[: len(page)])
        quick, slow = TaskCounts(), TaskCounts()
        expected = tally(page, keys, digests, slow, lambda i, k: None)
        assert tally(page, keys, digests, quick) == expected
        assert quick == slow
