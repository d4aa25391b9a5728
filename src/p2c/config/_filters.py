"""Source filters checked against the model of the source entity before a run: the syntax,
the fields, the type of each compared value, dates, and how deep the filter nests.

Filters are walked with a loop, not recursion: a filter that lists 1,500 ids joined with
``or`` is a chain 1,500 deep.
"""

from __future__ import annotations

__all__ = ["MAX_FILTER_DEPTH", "READ_ALL", "check_filter", "nesting"]

import re
import uuid
from datetime import datetime

from p2c._errors import ConfigError
from p2c.config._fields import describe, literal, source_field
from p2c.config._problems import Mismatch, near
from p2c.dynamics import Entity, Field, FieldType, SystemModel
from p2c.odata import Call, Compare, Filter, Logical, Not, parse_filter

MAX_FILTER_DEPTH = 32
"""How deep parentheses and ``not`` may nest in a filter (docs/templates.md)."""

READ_ALL = "all"
"""``filter: all``: read every record, the explicit way to drop a template's filter."""

_MOST_PROBLEMS = 5  # per filter: a list of 1,500 wrong ids needs one message, not 1,500
_SCAN = re.compile(r"'(?:[^']|'')*'|[()]|[A-Za-z_][A-Za-z0-9_./]*")
T = FieldType


def nesting(text: str) -> int:
    """How deep parentheses and ``not`` nest in filter text (string literals skipped)."""
    deepest = level = pending = 0
    outer: list[int] = []
    for match in _SCAN.finditer(text):
        token = match.group()
        if token == "(":
            outer.append(level)
            level += pending + 1
            pending = 0
        elif token == ")":
            level = outer.pop() if outer else 0
        elif token.lower() == "not":
            pending += 1
        else:
            pending = 0
        deepest = max(deepest, level + pending)
    return deepest


def check_filter(text: str, model: SystemModel, entity: Entity) -> list[Mismatch]:
    """What is wrong with a source filter of ``entity``; nothing when it can run."""
    if text.strip().lower() == READ_ALL:
        return []
    depth = nesting(text)
    if depth > MAX_FILTER_DEPTH:
        return [
            Mismatch(
                f"the filter nests {depth} levels deep (parentheses and not); p2c reads at "
                f"most {MAX_FILTER_DEPTH}",
                "flatten it: a list of values needs no parentheses (id eq 'a' or id eq 'b' "
                "or …), and not (not x) is x",
            )
        ]
    try:
        tree = parse_filter(text)
    except ConfigError as error:
        return [Mismatch(error.message.rstrip("."), error.fix or "use OData $filter syntax")]
    except RecursionError:
        return [Mismatch("the filter nests too deeply to read", "flatten it")]
    problems: list[Mismatch] = []
    stack: list[Filter] = [tree]
    while stack and len(problems) < _MOST_PROBLEMS:
        node = stack.pop()
        if isinstance(node, Logical):
            stack.extend((node.right, node.left))
        elif isinstance(node, Not):
            stack.append(node.operand)
        else:
            try:
                _check_condition(node, model, entity)
            except Mismatch as problem:
                if all(p.message != problem.message for p in problems):
                    problems.append(problem)
    return problems


def _check_condition(node: Compare | Call, model: SystemModel, entity: Entity) -> None:
    field = source_field(model, entity, node.field.replace("/", "."))
    if isinstance(node, Call):
        if field.type is not T.STRING:
            raise Mismatch(
                f"{node.function}() reads text, and {field.name} is {describe(field)}",
                f"compare {field.name} with eq, ne, gt, ge, lt or le",
            )
        return
    if node.value is not None:
        _check_value(node, field)


def _check_value(node: Compare, field: Field) -> None:
    value, kind, name = node.value, field.type, field.name
    shown = literal(value)
    if kind is T.BOOL:
        if not isinstance(value, bool):
            raise _wrong(field, shown, f"write {name} {node.op} true (or false), without quotes")
    elif kind is T.NOYES:
        if value not in ("Yes", "No"):
            raise _wrong(field, shown, f"write {name} {node.op} 'Yes' (or 'No')")
    elif kind in (T.INT, T.PICKLIST, T.MONEY):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(field, shown, "write the number without quotes")
        if kind is T.PICKLIST and field.options and value not in field.options:
            raise _wrong(field, shown, f"use one of the options: {describe(field)}")
    elif kind is T.DATETIME:
        if not isinstance(value, str) or not _is_moment(value):
            raise Mismatch(
                f"{shown} is not a valid date and time for {name}",
                "write a date and time that exists, as 2024-01-31T00:00:00Z",
            )
    elif kind is T.ENUM:
        if value not in field.options:
            options = map(str, field.options)
            raise _wrong(field, shown, near(str(value), options) + f"use {describe(field)}")
    elif kind in (T.GUID, T.LOOKUP):
        if not isinstance(value, str) or not _is_guid(value):
            raise _wrong(field, shown, "compare with a GUID in quotes")
    elif not isinstance(value, str):
        raise _wrong(field, shown, f"quote the value: {name} {node.op} '{shown}'")


def _wrong(field: Field, shown: str, fix: str) -> Mismatch:
    return Mismatch(
        f"the filter compares {field.name}, which is {describe(field)}, with {shown}", fix
    )


def _is_moment(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
