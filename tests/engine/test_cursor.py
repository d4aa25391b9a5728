"""The incremental cursor of a leg, and the definition digest that keys cursors and lineage."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from p2c.connectors import ReadRequest, Source
from p2c.engine import Cursor
from p2c.engine._cursor import CursorProblem, Incremental, definition_digest
from p2c.odata import evaluate, to_odata
from p2c.templates import Leg, builtin_templates

STARTED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def incremental(
    key: tuple[str, ...] = ("id",), watermark: str | None = "modifiedon", lag: float = 5
) -> Incremental:
    return Incremental(watermark, key, "def-1", lag=timedelta(seconds=lag), started=STARTED)


def test_a_new_cursor_reads_everything_and_stores_nothing_yet() -> None:
    cursor = incremental()
    assert cursor.resume(None) is None
    assert cursor.where() is None
    assert cursor.state() == Cursor("", "", "def-1", None)
    assert cursor.state("token-7") == Cursor("", "", "def-1", "token-7")


def test_a_stored_cursor_of_another_definition_is_not_resumed() -> None:
    cursor = incremental()
    note = cursor.resume(Cursor("2025-03-01T10:00:00Z", '["b"]', "def-0", "token-1"))
    assert note == "the task's mapping or filter changed since the last run: read everything"
    assert cursor.where() is None and cursor.delta is None


def test_a_resumed_cursor_reads_after_its_position_ties_broken_by_key() -> None:
    cursor = incremental()
    assert cursor.resume(Cursor("2025-03-01T10:00:00Z", '["b"]', "def-1", "token-1")) is None
    assert cursor.delta == "token-1"
    where = cursor.where()
    assert where is not None
    assert to_odata(where) == (
        "(modifiedon ge 2025-03-01T10:00:00Z and (modifiedon gt 2025-03-01T10:00:00Z or id gt 'b'))"
    )
    earlier, same = "2025-03-01T09:59:59Z", "2025-03-01T10:00:00Z"
    passed = {
        (m, k)
        for m, k in itertools.product([earlier, same, "2025-03-01T10:00:01Z"], "abc")
        if evaluate(where, {"modifiedon": m, "id": k})
    }
    assert passed == {
        (same, "c"),
        ("2025-03-01T10:00:01Z", "a"),
        ("2025-03-01T10:00:01Z", "b"),
        ("2025-03-01T10:00:01Z", "c"),
    }


def test_a_composite_key_is_compared_field_by_field() -> None:
    cursor = incremental(key=("area", "number"))
    cursor.resume(Cursor("2025-03-01T10:00:00Z", '["usmf", 5]', "def-1"))
    where = cursor.where()
    assert where is not None
    same = "2025-03-01T10:00:00Z"
    passed = {
        (a, n)
        for a, n in itertools.product(["dat", "usmf", "usrt"], [4, 5, 6])
        if evaluate(where, {"modifiedon": same, "area": a, "number": n})
    }
    assert passed == {("usmf", 6), ("usrt", 4), ("usrt", 5), ("usrt", 6)}


def _page(*changes: tuple[Any, str]) -> list[dict[str, Any]]:
    return [{"modifiedon": moment, "id": key} for moment, key in changes]


def test_a_page_moves_the_cursor_to_its_last_settled_record() -> None:
    cursor = incremental(lag=5)
    # Settled up to 11:59:55. A timestamp to the second stands for the whole second.
    page = _page(
        ("2025-03-01T11:59:50Z", "a"),
        ("2025-03-01T11:59:54Z", "b"),
        ("2025-03-01T11:59:55Z", "c"),  # 11:59:55.999 may still come: not settled
        (None, "d"),
    )
    assert cursor.advance(page) == Cursor("2025-03-01T11:59:54Z", '["b"]', "def-1", None)
    assert (cursor.last_value, cursor.last_key) == ("2025-03-01T11:59:54Z", '["b"]')
    # Fractions of a second are taken as they are.
    exact = _page(("2025-03-01T11:59:54.999999+00:00", "e"))
    assert cursor.advance(exact) == Cursor("2025-03-01T11:59:54.999999+00:00", '["e"]', "def-1")
    # Nothing settled: the cursor stays where it is.
    assert cursor.advance(_page(("2025-03-01T11:59:58Z", "f"))) is None
    assert cursor.last_key == '["e"]'
    assert cursor.state("t") == Cursor("2025-03-01T11:59:54.999999+00:00", '["e"]', "def-1", "t")


def test_a_timestamp_without_zone_is_utc() -> None:
    cursor = incremental(lag=0)
    # Settled up to 12:00:00 exactly; the whole second 11:59:59 UTC is before it.
    assert cursor.advance(_page(("2025-03-01T11:59:59", "a"))) is not None
    assert cursor.last_value == "2025-03-01T11:59:59"


def test_without_a_watermark_column_only_change_tracking_narrows_reads() -> None:
    cursor = incremental(watermark=None)
    cursor.resume(Cursor("", "", "def-1", "token-3"))
    assert cursor.delta == "token-3"
    assert cursor.where() is None
    assert cursor.advance(_page(("2025-03-01T10:00:00Z", "a"))) is None


@pytest.mark.parametrize(
    ("watermark", "last_key", "problem"),
    [
        ("2999-01-01T00:00:00Z", '["a"]', "is in the future"),
        ("not a time", '["a"]', "is unreadable"),
        ("2025-03-01T10:00:00Z", "{", "is unreadable"),
        ("2025-03-01T10:00:00Z", '["a", "b"]', "does not fit the source"),
        ("2025-03-01T10:00:00Z", '"a"', "does not fit the source"),
    ],
)
def test_a_cursor_that_cannot_be_trusted_is_dropped(
    watermark: str, last_key: str, problem: str
) -> None:
    cursor = incremental()
    cursor.resume(Cursor(watermark, last_key, "def-1", "token-1"))
    with pytest.raises(CursorProblem, match=problem):
        cursor.where()
    # Read from the beginning; the first settled page replaces the stored position.
    assert cursor.where() is None
    assert cursor.state("token-2") == Cursor("", "", "def-1", "token-2")


def test_a_source_clock_a_little_ahead_is_trusted() -> None:
    cursor = incremental()
    ahead = (STARTED + timedelta(minutes=30)).isoformat()
    cursor.resume(Cursor(ahead, '["a"]', "def-1"))
    assert cursor.where() is not None


class _Held(Source):
    """A source of the given records; ``last`` evaluates the request as a source would."""

    def __init__(self, records: list[dict[str, Any]], finds_last: bool = True) -> None:
        self.records = records
        self.finds_last = finds_last
        self.asked: list[ReadRequest] = []

    def read(self, request: ReadRequest) -> Iterator[list[dict[str, Any]]]:
        raise AssertionError("pass_left_out reads one record, through last()")

    def record_key(self, entity: str) -> tuple[str, ...]:
        return ("id",)

    def last(self, request: ReadRequest) -> dict[str, Any] | None:
        self.asked.append(request)
        if not self.finds_last:
            return None
        where = request.filter
        passing = [r for r in self.records if where is None or evaluate(where, r)]
        return max(passing, key=lambda r: [str(r[c]) for c in request.order_by], default=None)


def test_a_whole_read_passes_the_settled_records_the_filter_left_out() -> None:
    cursor = incremental(lag=5)  # settled up to 11:59:55
    cursor.resume(Cursor("2025-03-01T10:00:00Z", '["b"]', "def-1"))
    source = _Held(
        _page(
            ("2025-03-01T10:00:00Z", "a"),  # before the cursor
            ("2025-03-01T11:00:00Z", "k"),
            ("2025-03-01T11:59:54Z", "x"),  # the last settled record, whatever the filter
            ("2025-03-01T11:59:55Z", "y"),  # 11:59:55.999 may still come: not settled
            ("2025-03-01T11:59:58Z", "z"),  # changed while the read ran
        )
    )
    assert cursor.pass_left_out(source, "contact")
    assert cursor.state() == Cursor("2025-03-01T11:59:54Z", '["x"]', "def-1")
    (asked,) = source.asked
    assert asked.entity == "contact" and asked.order_by == ("modifiedon", "id")
    # Only after the position, and only what is settled to the second.
    assert asked.filter is not None
    assert not evaluate(asked.filter, {"modifiedon": "2025-03-01T10:00:00Z", "id": "b"})
    assert evaluate(asked.filter, {"modifiedon": "2025-03-01T10:00:00Z", "id": "c"})
    assert not evaluate(asked.filter, {"modifiedon": "2025-03-01T11:59:55Z", "id": "y"})
    # Nothing further settled: the cursor stays.
    assert not cursor.pass_left_out(source, "contact")
    assert cursor.last_key == '["x"]'


def test_a_record_found_but_not_settled_does_not_move_the_cursor() -> None:
    cursor = incremental(lag=5)

    # A source that compares timestamps in another form could give one too late: the
    # record is checked as a page's last one is.
    class _Late(_Held):
        def last(self, request: ReadRequest) -> dict[str, Any] | None:
            return {"modifiedon": "2025-03-01T11:59:57Z", "id": "q"}

    assert not cursor.pass_left_out(_Late([]), "contact")
    assert cursor.state() == Cursor("", "", "def-1")


def test_a_source_that_cannot_find_its_last_record_leaves_the_cursor() -> None:
    cursor = incremental()
    cursor.resume(Cursor("2025-03-01T10:00:00Z", '["b"]', "def-1"))
    source = _Held(_page(("2025-03-01T11:00:00Z", "k")), finds_last=False)
    assert not cursor.pass_left_out(source, "contact")
    assert cursor.last_key == '["b"]'
    # Without a watermark there is no position to move.
    assert not incremental(watermark=None).pass_left_out(_Held([]), "contact")


# Digests of the built-in legs as the state databases of earlier versions hold them: a
# cursor or a value digest keyed by another digest would make the next run read and compare
# everything again. The three legs with a value map into a fixed set of values (gender,
# marital status, decision role) changed on purpose when they gained `else:` (an unmatched
# value has somewhere to go): they are read and compared in full once after the upgrade.
STORED_DIGESTS = {
    ("Accounts (Sales to Fin and Ops) - Direct", "Source > Destination"): (
        "5b29254813eceb0c93443bee4b7aa8cd",
        "f9ff2ef60aa86c99fb01d29fcc3f72d5",
    ),
    ("Accounts (Sales to Fin and Ops)", "Source > CDS"): (
        "8081f56911da0d64f35d0e0cca5a6d55",
        "adf66d8fbf85a0452de1a3a3291644f0",
    ),
    ("Accounts (Sales to Fin and Ops)", "CDS > Destination"): (
        "115b2f36ae683ae27a5fbf8abcc11b40",
        "c08ad15c10af620b8cc4a1170459a0a6",
    ),
    ("Contacts (Sales to Fin and Ops) - Direct", "Source > Destination"): (
        "971f123319a3f50737e1469414e559a5",
        "42c7e72837fedb02cc1bacc2aeec2879",
    ),
    ("Contacts to Customer (Sales to Fin and Ops) - Direct", "Source > Destination"): (
        "313bc21c95ba64b4735e74b7ee11db1e",
        "e458171da7d721dfe84fbef6ca3a51de",
    ),
    ("Contacts to Customer (Sales to Fin and Ops)", "Source > CDS"): (
        "557ceca4af7cd4d3325899b338c039a3",
        "2075dbef8b949b45c6fe12978e228ab7",
    ),
    ("Contacts to Customer (Sales to Fin and Ops)", "CDS > Destination"): (
        "195bb191fa37f71fde7bf6e08d1aa37d",
        "8b668d5c083596f67821456d07d97c31",
    ),
    ("Contacts (Sales to Fin and Ops)", "Source > CDS"): (
        "7673aa7eba200b93cb90ebe32c1a4e62",
        "4687d9f38f92e2c173beaf81e6a188a8",
    ),
    ("Contacts (Sales to Fin and Ops)", "CDS > Destination"): (
        "6ac3ffdfdc3064665782a72dc0a4371a",
        "fe1a2c088fff19522a1f44e23a0d03bf",
    ),
}


@pytest.mark.parametrize(("template", "leg"), sorted(STORED_DIGESTS))
def test_definition_digests_of_the_built_in_legs_are_those_already_stored(
    template: str, leg: str
) -> None:
    (found,) = [
        one for task in builtin_templates()[template].tasks for one in task.legs if one.name == leg
    ]
    assert (definition_digest(found, "ignore"), definition_digest(found, "deactivate")) == (
        STORED_DIGESTS[template, leg]
    )


def test_definition_digest_of_every_transform_kind_is_the_stored_one() -> None:
    leg = Leg.model_validate(
        {
            "source": {"system": "sales", "entity": "contacts"},
            "destination": {"system": "finops", "entity": "CustomersV2", "key": ["dataAreaId"]},
            "map": {
                "A": "a",
                "B": {"from": "b"},
                "C": {"default": 1},
                "D": {"from": "d", "value_map": {"": "X", "1": 2}, "default": "z"},
                "E": {"fn": "concat", "args": ["a", "b"], "separator": ", "},
                "F": {"fn": "truncate", "from": "f", "length": 3, "value_map": {"ab": "c"}},
            },
        }
    )
    # Computed by the flat transform model of earlier versions.
    assert definition_digest(leg, "ignore") == "7f4e3c0332e432ab155715b9da955a9e"
