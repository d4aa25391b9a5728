"""Reading what p2c prints for a person: the task grids of ``p2c run`` and ``history``, and
checks that a screen fits its width."""

from __future__ import annotations

import re
from dataclasses import dataclass

STATUSES = "Completed|Warning|Error|Skipped|Cancelled|Running"
COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")
_ROW = re.compile(
    rf"^(?P<indent> *)(?P<label>\S.*?)  +(?P<status>{STATUSES})(?P<counts>(?: +[\d,]+)+)$"
)
DIRECT_LEG = "Source > Destination"


@dataclass(frozen=True)
class TaskRow:
    """A task leg as a grid shows it, with the run it is under (history)."""

    run: int | None
    project: str
    task: str
    leg: str
    status: str
    counts: dict[str, int]


def task_rows(text: str) -> list[TaskRow]:
    """The task legs of the grids in ``text`` (one line each: nothing wraps at the widths
    the tests use), grouped under project and task headings or flat
    (``project / task / leg``)."""
    rows: list[TaskRow] = []
    headings: list[tuple[int, str]] = []
    run: int | None = None
    in_grid = False
    for line in text.splitlines():
        if line.startswith("project / task"):
            in_grid, headings = True, []
            continue
        if not in_grid or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        found = re.match(r"^Run (\d+)  ", line)
        if found:
            run, headings = int(found.group(1)), []
            continue
        match = _ROW.match(line)
        if match is None:
            headings = [(i, h) for i, h in headings if i < indent] + [(indent, line.strip())]
            continue
        path = [h for i, h in headings if i < indent] + match["label"].split(" / ")
        if len(path) == 2:
            path.append(DIRECT_LEG)
        assert len(path) == 3, line
        numbers = [int(n.replace(",", "")) for n in match["counts"].split()]
        counts = dict(zip(COUNTS, numbers, strict=True))
        rows.append(TaskRow(run, path[0], path[1], path[2], match["status"], counts))
    return rows


def too_wide(text: str, width: int) -> list[str]:
    """The lines of ``text`` wider than ``width``."""
    return [line for line in text.splitlines() if len(line) > width]
