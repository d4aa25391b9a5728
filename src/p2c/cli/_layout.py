"""Tables laid out for the width of a person's terminal.

A ``Grid`` is a label column (projects, tasks: the only column that wraps) and narrow value
columns (a status, counts) that never wrap. Rows come under headings (a project), with free
lines between them (a run of the history). When every "heading / label" fits the label
column the grid is flat, one line per row; otherwise each heading gets its own line and its
rows are indented under it. When even that does not fit, the gaps shrink, then headers take
their short form, then labels wrap, then columns marked droppable go, highest ``drop`` first.

``key_lines`` lays out records named by a key (the error queue): the key is never folded; the
details go on its line when they fit, else below it, and the reason wraps under it.
"""

from __future__ import annotations

__all__ = ["Cell", "Column", "Grid", "key_lines", "wrap"]

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text

_MIN_LABEL = 14
_LABEL_GAP = 2


@dataclass(frozen=True)
class Column:
    """A value column.

    Args:
        header: Its header.
        right: Right-aligned (numbers).
        short: A shorter header, used when the grid would not fit.
        drop: Left out when nothing else makes the grid fit; higher goes first (0: never).
    """

    header: str
    right: bool = False
    short: str | None = None
    drop: int = 0


@dataclass(frozen=True)
class Cell:
    text: str
    style: str = ""


@dataclass
class _Row:
    label: str
    cells: list[Cell]
    indent: int  # below its innermost heading, when grouped
    headings: tuple[str, ...]  # the headings it is under, outermost first
    outer: int  # the indent of the outermost heading
    inner: int  # the indent of the innermost heading


@dataclass
class _Item:
    kind: str  # "line", "heading" or "row"
    text: str = ""
    indent: int = 0
    style: str = ""
    row: _Row | None = None
    styled: Text | None = None  # a line with its own styles, kept when it fits


@dataclass
class _Plan:
    columns: list[tuple[int, Column]]  # (index into the cells, column)
    widths: list[int]
    label_width: int
    gap: int
    flat: bool
    shortened: bool = False


def wrap(text: str, width: int, indent: int = 0, hang: int = 0) -> list[str]:
    """``text`` in lines of at most ``width``, indented (continuation lines by ``hang``
    more). Words are never split: a key longer than the line runs over it."""
    return textwrap.wrap(
        text,
        max(width, indent + hang + 10),
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + hang),
        break_on_hyphens=False,
        break_long_words=False,
    ) or [" " * indent]


def _split_label(label: str, width: int) -> list[str]:
    """A label in lines of ``width``: broken after " / " first, then between words."""
    if len(label) <= width:
        return [label]
    parts = label.split(" / ")
    lines: list[str] = []
    current = ""
    for index, part in enumerate(parts):
        piece = part + (" /" if index < len(parts) - 1 else "")
        candidate = f"{current} {piece}" if current else piece
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if len(piece) <= width:
            current = piece
        else:
            *whole, current = textwrap.wrap(piece, width, break_on_hyphens=False) or [""]
            lines.extend(whole)
    lines.append(current)
    return lines


@dataclass
class Grid:
    """Rows of a label and value cells, laid out by ``lines(width)``.

    Args:
        label: The label column's header.
        columns: The value columns.
    """

    label: str
    columns: Sequence[Column]
    _items: list[_Item] = field(default_factory=list)
    _headings: list[_Item] = field(default_factory=list)

    def line(self, text: str | Text, indent: int = 0, style: str = "") -> None:
        """A free line (wrapped to the width), e.g. a run of the history."""
        if isinstance(text, Text):
            self._items.append(_Item("line", text.plain, indent, style, styled=text))
        else:
            self._items.append(_Item("line", text, indent, style))
        self._headings = []

    def heading(self, text: str, indent: int = 0, style: str = "bold") -> None:
        """The heading of the rows that follow (a project), under the headings before it
        with a smaller indent (a task under its project)."""
        item = _Item("heading", text, indent, style)
        self._headings = [h for h in self._headings if h.indent < indent] + [item]
        self._items.append(item)

    def row(self, label: str, *cells: str | Cell, indent: int = 0) -> None:
        """A row; under a heading, ``indent`` is its indent below the heading."""
        values = [c if isinstance(c, Cell) else Cell(c) for c in cells]
        headings = self._headings
        row = _Row(
            label,
            values,
            indent,
            tuple(h.text for h in headings),
            headings[0].indent if headings else 0,
            headings[-1].indent if headings else 0,
        )
        self._items.append(_Item("row", row=row))

    # layout -------------------------------------------------------------------------------------

    def _rows(self) -> list[_Row]:
        return [item.row for item in self._items if item.row is not None]

    def _label(self, row: _Row, flat: bool) -> tuple[str, int]:
        """A row's label text and indent, flat (under its heading's indent) or grouped."""
        if not row.headings:
            return row.label, row.indent
        if flat:
            return " / ".join([*row.headings, row.label]), row.outer
        return row.label, row.inner + row.indent

    def _plan(self, width: int) -> _Plan:
        columns = list(enumerate(self.columns))
        rows = self._rows()
        # Whole labels first, with short headers if need be; then wrapped labels; dropped
        # columns last.
        attempts = [(2, False, False), (1, False, False), (2, True, False), (1, True, False)]
        attempts += [(1, False, True)]
        for gap, shortened, wrapping in attempts:
            plan = self._fit(columns, rows, width, gap, shortened, wrapping)
            if plan is not None:
                return plan
        while True:
            plan = self._fit(columns, rows, width, 1, True, True)
            droppable = [c for c in columns if c[1].drop]
            if plan is not None or not droppable:
                break
            columns.remove(max(droppable, key=lambda c: c[1].drop))
        if plan is not None:
            return plan
        # Nothing fits: the narrowest label, and lines that run over.
        widths = [self._width(i, c, rows, True) for i, c in columns]
        return _Plan(columns, widths, _MIN_LABEL, 1, False, True)

    @staticmethod
    def _width(index: int, column: Column, rows: list[_Row], shortened: bool) -> int:
        header = column.short if shortened and column.short else column.header
        return max([len(header), *(len(r.cells[index].text) for r in rows)])

    def _fit(
        self,
        columns: list[tuple[int, Column]],
        rows: list[_Row],
        width: int,
        gap: int,
        shortened: bool,
        wrapping: bool,
    ) -> _Plan | None:
        widths = [self._width(i, c, rows, shortened) for i, c in columns]
        # Two spaces after the label whatever the gap between values.
        room = width - sum(widths) - gap * (len(widths) - 1) - _LABEL_GAP
        for flat in (True, False):
            labels = [self._label(r, flat) for r in rows]
            needed = max([len(self.label), *(len(t) + n for t, n in labels)])
            if needed <= room:
                return _Plan(columns, widths, needed, gap, flat, shortened)
        if not wrapping:
            return None
        longest_word = max([len(self.label), *(len(w) for r in rows for w in r.label.split())])
        if room >= max(_MIN_LABEL, min(longest_word, 24)):
            return _Plan(columns, widths, room, gap, False, shortened)
        return None

    def lines(self, width: int) -> list[Text]:
        """The grid as lines of at most ``width`` characters (wider only when a single
        value column is wider than the terminal)."""
        plan = self._plan(width)
        header = Text(self.label.ljust(plan.label_width), style="bold")
        for n, ((_, column), w) in enumerate(zip(plan.columns, plan.widths, strict=True)):
            name = column.short if plan.shortened and column.short else column.header
            header.append(" " * (plan.gap if n else _LABEL_GAP))
            header.append(name.rjust(w) if column.right else name.ljust(w))
        header.rstrip()
        result = [header]
        for item in self._items:
            if item.styled is not None and item.indent + len(item.text) <= width:
                result.append(Text(" " * item.indent) + item.styled)
            elif item.kind == "line" or (item.kind == "heading" and not plan.flat):
                texts = wrap(item.text, width, item.indent, 2)
                result.extend(Text(t, style=item.style) for t in texts)
            elif item.row is not None:
                result.extend(self._row_lines(item.row, plan))
        return result

    def _row_lines(self, row: _Row, plan: _Plan) -> list[Text]:
        label, indent = self._label(row, plan.flat)
        parts = _split_label(label, max(plan.label_width - indent, 8))
        first = Text(" " * indent + parts[0].ljust(plan.label_width - indent))
        for n, ((index, column), w) in enumerate(zip(plan.columns, plan.widths, strict=True)):
            cell = row.cells[index]
            text = cell.text.rjust(w) if column.right else cell.text.ljust(w)
            first.append(" " * (plan.gap if n else _LABEL_GAP))
            first.append(text, style=cell.style)
        first.rstrip()
        return [first] + [Text(" " * (indent + 2) + part) for part in parts[1:]]


def _packed(pieces: Sequence[str], room: int, later: int) -> list[list[str]]:
    """Pieces packed into lines joined by " · ": ``room`` characters on the first line,
    ``later`` on the others; a piece is never split."""
    lines: list[list[str]] = []
    current: list[str] = []
    for piece in pieces:
        limit = later if lines else room
        if current and len(" · ".join([*current, piece])) > limit:
            lines.append(current)
            current = []
        current.append(piece)
    if current:
        lines.append(current)
    return lines


def key_lines(
    key: str, details: Sequence[str], reason: str, width: int, indent: int = 2
) -> list[Text]:
    """A record named by ``key``: the key whole on its line, followed by the details that
    fit there, the others below it, then the reason wrapped under it."""
    head = Text(" " * indent)
    head.append(key, style="bold")
    result = [head]
    below = indent + 2
    packed = _packed(details, width - indent - len(key) - 3, width - below)
    rest = list(details)
    if packed and len(" · ".join(packed[0])) <= width - indent - len(key) - 3:
        head.append(" · " + " · ".join(packed[0]))
        rest = rest[len(packed[0]) :]
    result.extend(
        Text(" " * below + " · ".join(line)) for line in _packed(rest, width - below, width - below)
    )
    result.extend(Text(t) for t in wrap(reason, width, below))
    return result
