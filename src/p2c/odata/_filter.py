"""OData ``$filter`` expressions: parsed into a tree, never pasted into SQL or URLs.

The subset that source filters use: comparisons (``eq ne gt ge lt le``), ``and``, ``or``,
``not``, parentheses, string/number/boolean/null/date-time literals, and the functions
``contains``, ``startswith`` and ``endswith``. The tree renders to parameterized SQL for the
sandbox and the emulator, back to ``$filter`` text for Dataverse and F&O, and evaluates in
memory.
"""

from __future__ import annotations

__all__ = [
    "Call",
    "Compare",
    "Filter",
    "Logical",
    "Not",
    "evaluate",
    "fields_of",
    "parse_filter",
    "to_odata",
    "to_sql",
]

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from p2c._errors import ConfigError

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_./]*)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = ("contains", "startswith", "endswith")


@dataclass(frozen=True)
class Compare:
    op: str  # eq ne gt ge lt le
    field: str
    value: Any


@dataclass(frozen=True)
class Call:
    function: str  # contains startswith endswith
    field: str
    value: str


@dataclass(frozen=True)
class Logical:
    op: str  # and / or
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    operand: Filter


Filter = Compare | Call | Logical | Not


def parse_filter(text: str) -> Filter:
    """Parse ``$filter`` text; raise ConfigError pointing at the offending token."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                if text[pos:].strip() == "":
                    break
                self._fail(f"unexpected character {text[pos:].strip()[0]!r}", pos)
            assert match is not None
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        self.index = 0

    def _fail(self, why: str, pos: int | None = None) -> None:
        at = (
            pos
            if pos is not None
            else (self.tokens[self.index][2] if self._more() else len(self.text))
        )
        raise ConfigError(
            f"Cannot read the filter {self.text!r} at position {at + 1}: {why}.",
            fix="use OData $filter syntax, e.g. msdynce_isactivecustomer eq true and "
            "statecode eq 0",
        )

    def _more(self) -> bool:
        return self.index < len(self.tokens)

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self._more() else None

    def _take(self) -> tuple[str, str, int]:
        if not self._more():
            self._fail("the expression ends too early")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, punct: str) -> None:
        _kind, value, _ = self._take()
        if value != punct:
            self.index -= 1
            self._fail(f"expected {punct!r}")

    def parse(self) -> Filter:
        if not self.tokens:
            self._fail("the filter is empty")
        tree = self._or()
        if self._more():
            self._fail(f"unexpected {self.tokens[self.index][1]!r}")
        return tree

    def _or(self) -> Filter:
        left = self._and()
        while (t := self._peek()) and t[0] == "name" and t[1].lower() == "or":
            self.index += 1
            left = Logical("or", left, self._and())
        return left

    def _and(self) -> Filter:
        left = self._unary()
        while (t := self._peek()) and t[0] == "name" and t[1].lower() == "and":
            self.index += 1
            left = Logical("and", left, self._unary())
        return left

    def _unary(self) -> Filter:
        token = self._peek()
        if token and token[0] == "name" and token[1].lower() == "not":
            self.index += 1
            return Not(self._unary())
        if token and token[1] == "(":
            self.index += 1
            inner = self._or()
            self._expect(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Filter:
        kind, value, _pos = self._take()
        if kind != "name":
            self.index -= 1
            self._fail("expected a field name")
        if value.lower() in _FUNCTIONS:
            self._expect("(")
            fkind, field, _ = self._take()
            if fkind != "name":
                self.index -= 1
                self._fail("expected a field name")
            self._expect(",")
            literal = self._literal()
            self._expect(")")
            if not isinstance(literal, str):
                self._fail(f"{value} compares text")
            return Call(value.lower(), field, literal)
        op_kind, op, _ = self._take()
        if op_kind != "name" or op.lower() not in _COMPARE:
            self.index -= 1
            self._fail(f"expected an operator ({', '.join(_COMPARE)}) after {value!r}")
        return Compare(op.lower(), value, self._literal())

    def _literal(self) -> Any:
        kind, value, _ = self._take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "datetime":
            return value
        if kind == "name" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "name" and value.lower() == "null":
            return None
        self.index -= 1
        self._fail("expected a value: 'text', a number, true, false, null or a date-time")
        return None


# renderers ------------------------------------------------------------------------------------


def fields_of(tree: Filter) -> set[str]:
    """Every field the filter reads."""
    if isinstance(tree, Logical):
        return fields_of(tree.left) | fields_of(tree.right)
    if isinstance(tree, Not):
        return fields_of(tree.operand)
    return {tree.field}


def to_sql(
    tree: Filter, column: Callable[[str], str], convert: Callable[[str, Any], Any] | None = None
) -> tuple[str, list[Any]]:
    """A parameterized SQL condition. ``column`` maps a field to a quoted column (and rejects
    unknown fields); ``convert`` turns a literal into the stored form of that field."""
    params: list[Any] = []

    def value_of(field: str, value: Any) -> Any:
        return convert(field, value) if convert else value

    def render(node: Filter) -> str:
        if isinstance(node, Logical):
            return f"({render(node.left)} {node.op.upper()} {render(node.right)})"
        if isinstance(node, Not):
            return f"(NOT {render(node.operand)})"
        col = column(node.field)
        if isinstance(node, Call):
            pattern = {"contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}[node.function]
            escaped = node.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(pattern.format(escaped))
            return f"({col} LIKE ? ESCAPE '\\')"
        if node.value is None:
            return f"({col} IS {'NOT ' if node.op == 'ne' else ''}NULL)"
        params.append(value_of(node.field, node.value))
        if node.op == "ne":
            return f"({col} IS NOT ?)"
        return f"({col} {_COMPARE[node.op]} ?)"

    return render(tree), params


def to_odata(tree: Filter) -> str:
    """The filter as ``$filter`` text again (for the HTTP connectors)."""
    if isinstance(tree, Logical):
        return f"({to_odata(tree.left)} {tree.op} {to_odata(tree.right)})"
    if isinstance(tree, Not):
        return f"not ({to_odata(tree.operand)})"
    if isinstance(tree, Call):
        return f"{tree.function}({tree.field},{_odata_literal(tree.value)})"
    return f"{tree.field} {tree.op} {_odata_literal(tree.value)}"


def _odata_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2})?", value
    ):
        return value
    return "'" + str(value).replace("'", "''") + "'"


def evaluate(tree: Filter, record: Mapping[str, Any]) -> bool:
    """Whether a record passes the filter (OData semantics: null compares only with null)."""
    if isinstance(tree, Logical):
        if tree.op == "and":
            return evaluate(tree.left, record) and evaluate(tree.right, record)
        return evaluate(tree.left, record) or evaluate(tree.right, record)
    if isinstance(tree, Not):
        return not evaluate(tree.operand, record)
    actual = record.get(tree.field)
    if isinstance(tree, Call):
        if not isinstance(actual, str):
            return False
        return {
            "contains": tree.value in actual,
            "startswith": actual.startswith(tree.value),
            "endswith": actual.endswith(tree.value),
        }[tree.function]
    expected = tree.value
    if tree.op == "eq":
        return bool(actual == expected)
    if tree.op == "ne":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    if isinstance(expected, str) and isinstance(actual, datetime):
        actual = actual.isoformat()
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }
    try:
        return ops[tree.op](actual, expected)
    except TypeError:
        return False
