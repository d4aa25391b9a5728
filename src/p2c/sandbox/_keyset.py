"""A keyset condition in a filter, found to be read as a row value.

An incremental read asks for the records after a position in (watermark, key) order as a
filter like any other (see the engine's cursor): ``w ge V and (w gt V or k gt K)``, the key
compared field by field when it has several (``k1 gt A or (k1 eq A and k2 gt B)``). SQLite
starts such a read at the position in the (watermark, key) index only when it is a row
value, ``(w, k) > (V, K)``; otherwise it walks every index entry from ``w = V`` on, all the
records that share the position's timestamp (a load stamps most of its records with one
second). Both forms select the same records.
"""

from __future__ import annotations

__all__ = ["Keyset", "split_keyset"]

import functools
from dataclasses import dataclass
from typing import Any

from p2c.odata import Compare, Filter, Logical


@dataclass(frozen=True)
class Keyset:
    """Records after ``values`` in the order of ``columns``."""

    columns: tuple[str, ...]
    values: tuple[Any, ...]


def _conjuncts(tree: Filter) -> list[Filter]:
    if isinstance(tree, Logical) and tree.op == "and":
        return [*_conjuncts(tree.left), *_conjuncts(tree.right)]
    return [tree]


def _key_chain(tree: Filter) -> list[tuple[str, Any]] | None:
    """``k1 gt A or (k1 eq A and <chain>)`` as [(k1, A), …]; None for another shape."""
    if isinstance(tree, Compare) and tree.op == "gt":
        return [(tree.field, tree.value)]
    if not (isinstance(tree, Logical) and tree.op == "or"):
        return None
    first, rest = tree.left, tree.right
    if not (isinstance(first, Compare) and first.op == "gt"):
        return None
    if not (isinstance(rest, Logical) and rest.op == "and"):
        return None
    same = rest.left
    if not (isinstance(same, Compare) and same.op == "eq"):
        return None
    if (same.field, same.value) != (first.field, first.value):
        return None
    tail = _key_chain(rest.right)
    return None if tail is None else [(first.field, first.value), *tail]


def _after(low: Filter, later: Filter) -> Keyset | None:
    """``w ge V`` and ``w gt V or <key chain>`` as one keyset, or None."""
    if not (isinstance(low, Compare) and low.op == "ge"):
        return None
    if not (isinstance(later, Logical) and later.op == "or"):
        return None
    head = later.left
    if not (isinstance(head, Compare) and head.op == "gt"):
        return None
    if (head.field, head.value) != (low.field, low.value):
        return None
    chain = _key_chain(later.right)
    if chain is None or any(field == low.field for field, _ in chain):
        return None
    return Keyset(
        (low.field, *(field for field, _ in chain)), (low.value, *(value for _, value in chain))
    )


def split_keyset(tree: Filter) -> tuple[Filter | None, Keyset | None]:
    """The filter's keyset condition apart from the rest of the filter (None when the
    filter is that condition alone); (tree, None) when it has none."""
    parts = _conjuncts(tree)
    for i, low in enumerate(parts):
        for j, later in enumerate(parts):
            keyset = _after(low, later) if i != j else None
            if keyset is None:
                continue
            rest = [p for n, p in enumerate(parts) if n not in (i, j)]
            if not rest:
                return None, keyset
            return functools.reduce(lambda a, b: Logical("and", a, b), rest), keyset
    return tree, None
