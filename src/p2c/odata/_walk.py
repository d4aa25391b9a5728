"""Walks over ``$filter`` trees: SQL, ``$filter`` text, evaluation, fields, renaming.

Every walk is iterative (an explicit stack, no recursion), so a tree of any depth works,
including a left-deep chain of thousands of ``or`` that a caller built by hand. A chain of
one operator is rendered as a balanced nest of parentheses, log2(n) deep: SQLite refuses
expressions nested more than 1,000 deep, and other services' parsers have limits too.
"""

from __future__ import annotations

__all__ = ["evaluate", "fields_of", "map_leaves", "to_odata", "to_sql"]

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from p2c.odata._filter import COMPARE_SQL, Call, Compare, Filter, Logical, Not, combine

T = TypeVar("T")
Leaf = Compare | Call


def _operands(node: Logical) -> list[Filter]:
    """The operands of a chain of one operator, left to right, however it nests."""
    found: list[Filter] = []
    stack: list[Filter] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Logical) and item.op == node.op:
            stack.append(item.right)
            stack.append(item.left)
        else:
            found.append(item)
    return found


def _fold(
    tree: Filter,
    leaf: Callable[[Leaf], T],
    chain: Callable[[str, list[T]], T],
    negate: Callable[[T], T],
) -> T:
    """Combine a tree bottom-up: ``leaf`` for each comparison (left to right), ``chain`` for
    the operands of each chain of one operator, ``negate`` for ``not``."""
    values: list[T] = []
    stack: list[tuple[Filter, list[Filter] | None]] = [(tree, None)]
    while stack:
        node, parts = stack.pop()
        if parts is not None:  # its parts are done: their values are the last ones
            done = values[len(values) - len(parts) :]
            del values[len(values) - len(parts) :]
            values.append(chain(node.op, done) if isinstance(node, Logical) else negate(done[0]))
            continue
        if isinstance(node, Logical):
            parts = _operands(node)
        elif isinstance(node, Not):
            parts = [node.operand]
        else:
            values.append(leaf(node))
            continue
        stack.append((node, parts))
        stack.extend((part, None) for part in reversed(parts))
    return values[0]


def _leaves(tree: Filter) -> Iterator[Leaf]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Logical):
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, Not):
            stack.append(node.operand)
        else:
            yield node


def _nest(op: str, parts: Sequence[str]) -> str:
    """``(a op b)``, ``((a op b) op c)``…: parenthesized as a balanced tree."""
    level = list(parts)
    if len(level) == 1:
        return f"({level[0]})"
    while len(level) > 1:
        paired = [f"({level[i]} {op} {level[i + 1]})" for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def fields_of(tree: Filter) -> set[str]:
    """Every field the filter reads."""
    return {node.field for node in _leaves(tree)}


def map_leaves(tree: Filter, change: Callable[[Leaf], Filter]) -> Filter:
    """The tree with each comparison and function call replaced by ``change(node)``; chains
    of one operator come back balanced."""
    return _fold(tree, change, combine, Not)


def to_sql(
    tree: Filter, column: Callable[[str], str], convert: Callable[[str, Any], Any] | None = None
) -> tuple[str, list[Any]]:
    """A parameterized SQL condition. ``column`` maps a field to a quoted column (and rejects
    unknown fields); ``convert`` turns a literal into the stored form of that field."""
    params: list[Any] = []

    def leaf(node: Leaf) -> str:
        col = column(node.field)
        if isinstance(node, Call):
            pattern = {"contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}[node.function]
            escaped = node.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(pattern.format(escaped))
            return f"({col} LIKE ? ESCAPE '\\')"
        if node.value is None:
            return f"({col} IS {'NOT ' if node.op == 'ne' else ''}NULL)"
        params.append(convert(node.field, node.value) if convert else node.value)
        if node.op == "ne":
            return f"({col} IS NOT ?)"
        return f"({col} {COMPARE_SQL[node.op]} ?)"

    sql = _fold(tree, leaf, lambda op, parts: _nest(op.upper(), parts), lambda s: f"(NOT {s})")
    return sql, params


def to_odata(tree: Filter) -> str:
    """The filter as ``$filter`` text again (for the HTTP connectors)."""

    def leaf(node: Leaf) -> str:
        if isinstance(node, Call):
            return f"{node.function}({node.field},{_odata_literal(node.value)})"
        return f"{node.field} {node.op} {_odata_literal(node.value)}"

    return _fold(tree, leaf, _nest, lambda text: f"not ({text})")


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2})?")


def _odata_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        return value
    return "'" + str(value).replace("'", "''") + "'"


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def evaluate(tree: Filter, record: Mapping[str, Any]) -> bool:
    """Whether a record passes the filter (OData semantics: null compares only with null)."""

    def leaf(node: Leaf) -> bool:
        return _matches(node, record.get(node.field))

    def chain(op: str, values: list[bool]) -> bool:
        return all(values) if op == "and" else any(values)

    return _fold(tree, leaf, chain, lambda value: not value)


def _matches(node: Leaf, actual: Any) -> bool:
    if isinstance(node, Call):
        if not isinstance(actual, str):
            return False
        return {
            "contains": node.value in actual,
            "startswith": actual.startswith(node.value),
            "endswith": actual.endswith(node.value),
        }[node.function]
    expected = node.value
    if node.op == "eq":
        return bool(actual == expected)
    if node.op == "ne":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    if isinstance(expected, str) and isinstance(actual, datetime):
        actual = actual.isoformat()
    try:
        return _ORDER[node.op](actual, expected)
    except TypeError:
        return False
