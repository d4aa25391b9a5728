"""OData ``$filter`` expressions: parsed into a tree, never pasted into SQL or URLs.

The subset that source filters use: comparisons (``eq ne gt ge lt le``), ``and``, ``or``,
``not``, parentheses, string/number/boolean/null/date-time literals, and the functions
``contains``, ``startswith`` and ``endswith``. The tree renders to parameterized SQL for the
sandbox and the emulator, back to ``$filter`` text for Dataverse and F&O, and evaluates in
memory (``p2c.odata._walk``).

Length is no limit: a chain of one operator (``a or b or c …``, say 1,500 ids) becomes a
balanced tree, log2(n) deep, and every walk over a tree is iterative. Nesting is: more than
:data:`MAX_DEPTH` parentheses or ``not`` inside one another is refused with a clear message.
"""

from __future__ import annotations

__all__ = [
    "MAX_DEPTH",
    "Call",
    "Compare",
    "Filter",
    "Logical",
    "Not",
    "combine",
    "parse_filter",
]

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from p2c._errors import ConfigError

MAX_DEPTH = 100
"""How deep parentheses and ``not`` may nest in a ``$filter``."""

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
COMPARE_SQL = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = ("contains", "startswith", "endswith")
_INT64 = (-(2**63), 2**63 - 1)
_SHOWN = 60  # characters of a long filter shown on each side of the position at fault


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


def combine(op: str, operands: Sequence[Filter]) -> Filter:
    """``a op b op c …`` as a balanced tree: it nests log2(n) deep, not n deep, so SQL
    parsers, URL renderers and other services take it at any length.

    Args:
        op: ``and`` or ``or``.
        operands: One or more filters.
    """
    if not operands:
        raise ValueError("combine needs at least one operand")
    level = list(operands)
    while len(level) > 1:
        paired: list[Filter] = [
            Logical(op, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def parse_filter(text: str) -> Filter:
    """Parse ``$filter`` text; raise ConfigError pointing at the offending token."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        self.depth = 0
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

    def _fail(self, why: str, pos: int | None = None, fix: str | None = None) -> None:
        at = (
            pos
            if pos is not None
            else (self.tokens[self.index][2] if self._more() else len(self.text))
        )
        raise ConfigError(
            f"Cannot read the filter {_excerpt(self.text, at)!r} at position {at + 1}: {why}.",
            fix=fix
            or "use OData $filter syntax, e.g. msdynce_isactivecustomer eq true and statecode eq 0",
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

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token and token[0] == "name" and token[1].lower() == word:
            self.index += 1
            return True
        return False

    def parse(self) -> Filter:
        if not self.tokens:
            self._fail("the filter is empty")
        tree = self._or()
        if self._more():
            self._fail(f"unexpected {self.tokens[self.index][1]!r}")
        return tree

    def _or(self) -> Filter:
        operands = [self._and()]
        while self._keyword("or"):
            operands.append(self._and())
        return combine("or", operands)

    def _and(self) -> Filter:
        operands = [self._unary()]
        while self._keyword("and"):
            operands.append(self._unary())
        return combine("and", operands)

    def _unary(self) -> Filter:
        token = self._peek()
        if token and token[0] == "name" and token[1].lower() == "not":
            self._enter()
            self.index += 1
            inner: Filter = Not(self._unary())
        elif token and token[1] == "(":
            self._enter()
            self.index += 1
            inner = self._or()
            self._expect(")")
        else:
            return self._comparison()
        self.depth -= 1
        return inner

    def _enter(self) -> None:
        """One level deeper; past MAX_DEPTH the filter is refused (the parser recurses per
        level, so this also keeps it far from Python's recursion limit)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._fail(
                f"parentheses and 'not' nest more than {MAX_DEPTH} levels deep (the limit)",
                fix=f"nest at most {MAX_DEPTH} levels; a chain such as a or b or c needs no "
                "parentheses",
            )

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
        if op_kind != "name" or op.lower() not in COMPARE_SQL:
            self.index -= 1
            self._fail(f"expected an operator ({', '.join(COMPARE_SQL)}) after {value!r}")
        return Compare(op.lower(), value, self._literal())

    def _literal(self) -> Any:
        kind, value, _ = self._take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return self._number(value)
        if kind == "datetime":
            return value
        if kind == "name" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "name" and value.lower() == "null":
            return None
        self.index -= 1
        self._fail("expected a value: 'text', a number, true, false, null or a date-time")
        return None

    def _number(self, text: str) -> int | float:
        """A number literal; one no database column holds (past 64 bits, or so long that it
        reads as infinity) is refused here rather than failing deep in a query."""
        try:
            number: int | float = float(text) if "." in text else int(text)
        except ValueError:  # longer than Python reads (4,300 digits)
            number = math.inf
        if not _INT64[0] <= number <= _INT64[1]:  # also infinity
            self.index -= 1
            shown = text if len(text) <= 24 else text[:20] + "…"
            self._fail(
                f"the number {shown} is out of range: a filter's numbers lie within "
                "±9,223,372,036,854,775,807"
            )
        return number


def _excerpt(text: str, at: int) -> str:
    """The filter as shown in a message: whole when short, else the part around ``at``."""
    if len(text) <= 3 * _SHOWN:
        return text
    start, end = max(0, at - _SHOWN), min(len(text), at + _SHOWN)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
