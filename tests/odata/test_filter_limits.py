"""``$filter`` trees at size: long chains work everywhere, deep nesting is refused clearly.

Nothing in the parser, the renderers, the evaluator or the SQL may recurse once per term: a
list of 1,500 ids joined with ``or`` is an everyday source filter.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from p2c import ConfigError
from p2c.dynamics import SALES
from p2c.odata import (
    MAX_DEPTH,
    Compare,
    Filter,
    Logical,
    Not,
    combine,
    evaluate,
    fields_of,
    map_leaves,
    parse_filter,
    to_odata,
    to_sql,
)
from p2c.sandbox import SalesSandbox, select

IDS = [str(uuid.UUID(int=n + 1)) for n in range(1500)]
LONG = " or ".join(f"contactid eq '{i}'" for i in IDS)


def depth(tree: Filter) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, Logical):
            stack += [(node.left, level + 1), (node.right, level + 1)]
        elif isinstance(node, Not):
            stack.append((node.operand, level + 1))
    return deepest


def contacts_table(ids: list[str]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE contact (contactid TEXT, n INTEGER)")
    db.executemany("INSERT INTO contact VALUES (?, ?)", [(i, n) for n, i in enumerate(ids)])
    return db


def test_1500_ids_joined_with_or_parse_into_a_balanced_tree() -> None:
    tree = parse_filter(LONG)

    assert depth(tree) <= 12  # log2(1500) + 1, not 1,500
    assert fields_of(tree) == {"contactid"}
    assert evaluate(tree, {"contactid": IDS[-1]})
    assert not evaluate(tree, {"contactid": str(uuid.uuid4())})


def test_1500_ids_render_to_sql_that_sqlite_runs() -> None:
    sql, params = to_sql(parse_filter(LONG), lambda field: f'"{field}"')
    db = contacts_table([*IDS[:700], str(uuid.uuid4())])

    assert len(params) == 1500
    assert db.execute(f"SELECT COUNT(*) FROM contact WHERE {sql}", params).fetchone() == (700,)


def test_1500_ids_render_to_odata_text_that_parses_again() -> None:
    text = to_odata(parse_filter(LONG))

    assert text.count("(") <= 1500 and text.count("(") == text.count(")")
    assert evaluate(parse_filter(text), {"contactid": IDS[1234]})


def test_a_left_deep_chain_built_by_hand_renders_balanced() -> None:
    # 5,000 terms, each the left operand of the next: as a caller might build a tree.
    tree: Filter = Compare("eq", "n", 0)
    for n in range(1, 5_000):
        tree = Logical("or", tree, Compare("eq", "n", n))
    db = contacts_table(IDS)

    sql, params = to_sql(tree, lambda field: f'"{field}"')

    assert db.execute(f"SELECT COUNT(*) FROM contact WHERE {sql}", params).fetchone() == (1500,)
    assert params == list(range(5_000))  # in the order of the SQL text
    assert evaluate(tree, {"n": 4_999})
    assert to_odata(tree).count("(") < 5_000 * 2
    assert depth(map_leaves(tree, lambda node: node)) <= 14


def test_deep_not_chains_walk_without_recursion() -> None:
    tree: Filter = Compare("eq", "n", 1)
    for _ in range(10_001):
        tree = Not(tree)

    assert not evaluate(tree, {"n": 1})
    assert to_odata(tree).startswith("not (not (")
    assert to_sql(tree, lambda field: field)[1] == [1]
    assert fields_of(tree) == {"n"}


def test_mixed_operators_keep_their_precedence() -> None:
    tree = parse_filter("a eq 1 or b eq 2 and c eq 3 or not (d eq 4)")

    assert evaluate(tree, {"a": 1})
    assert evaluate(tree, {"b": 2, "c": 3, "d": 4})
    assert not evaluate(tree, {"b": 2, "d": 4})
    assert evaluate(tree, {"d": 5})
    assert to_odata(tree) == "((a eq 1 or (b eq 2 and c eq 3)) or not (d eq 4))"


def test_combine_builds_balanced_chains() -> None:
    leaves: list[Filter] = [Compare("eq", "n", n) for n in range(1000)]

    tree = combine("and", leaves)

    assert depth(tree) == 11
    assert combine("or", leaves[:1]) == leaves[0]
    with pytest.raises(ValueError):
        combine("or", [])


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "a eq 1" + ")" * (MAX_DEPTH + 1),
        "not " * (MAX_DEPTH + 1) + "a eq 1",
        "(" * 100_000 + "a eq 1" + ")" * 100_000,
        "not (" * 60_000 + "a eq 1" + ")" * 60_000,
    ],
    ids=["101 parentheses", "101 nots", "100,000 parentheses", "60,000 not ("],
)
def test_nesting_past_the_limit_is_refused_naming_the_limit(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_filter(text)

    message = str(caught.value)
    assert f"more than {MAX_DEPTH} levels deep" in message
    assert f"nest at most {MAX_DEPTH} levels" in message
    assert len(message) < 600  # an excerpt of the filter, not all of it


def test_nesting_up_to_the_limit_is_read() -> None:
    text = "(" * MAX_DEPTH + "a eq 1" + ")" * MAX_DEPTH

    assert parse_filter(text) == Compare("eq", "a", 1)
    assert parse_filter("not " * MAX_DEPTH + "a eq 1") is not None


@pytest.mark.parametrize(
    "number", ["9" * 20, "-" + "9" * 20, "9" * 5000, "1" * 400 + ".5", "9223372036854775808"]
)
def test_numbers_no_column_holds_are_refused(number: str) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        parse_filter(f"n eq {number}")


def test_the_largest_whole_numbers_are_read() -> None:
    assert parse_filter("n eq 9223372036854775807") == Compare("eq", "n", 2**63 - 1)
    assert parse_filter("n eq -9223372036854775808") == Compare("eq", "n", -(2**63))


def test_a_syntax_error_in_a_long_filter_shows_where() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_filter(LONG + " or contactid eq")

    message = str(caught.value)
    assert f"position {len(LONG) + 17}" in message
    assert "ends too early" in message
    assert len(message) < 600


def test_the_sandbox_reads_with_a_1500_id_filter(sales: SalesSandbox) -> None:
    sales.load({"contacts": [{"contactid": i, "lastname": f"L{n}"} for n, i in enumerate(IDS)]})
    contact = SALES.entity("contact")

    pages = select(
        sales.store,
        contact,
        columns=["contactid"],
        where=parse_filter(" or ".join(f"contactid eq '{i}'" for i in IDS[::2])),
        visible=sales.visible_columns(contact),
        resolve=SALES.entity,
    )

    assert sorted(r["contactid"] for page in pages for r in page) == sorted(IDS[::2])
