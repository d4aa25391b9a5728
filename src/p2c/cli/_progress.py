"""The progress of a run: a bar per task leg with total, rate and time left on a terminal,
and a line per task leg every so often in a log or a pipe (on stderr either way).

The engine says how many records each pass of a task leg will read when its source can
count them cheaply (the sandbox can; the HTTP sources do not ask Dynamics for a count), and
reports records after each batch. Without a total the bar shows the records done, the rate
and the time so far.
"""

from __future__ import annotations

__all__ = ["Display", "progress_display"]

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.table import Column
from rich.text import Text

from p2c.cli._render import err

# Without a terminal, a progress line per task leg when it starts writing, then at most one
# every this many seconds.
LOG_EVERY = 15.0


def clock(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    minutes, second = divmod(max(round(seconds), 0), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02}:{second:02}" if hours else f"{minute}:{second:02}"


@dataclass
class _Leg:
    started: float
    total: int | None = 0  # None: a pass could not say
    done: int = 0
    shown: float | None = None

    def expect(self, n: int | None) -> None:
        self.total = None if n is None or self.total is None else self.total + n

    def line(self, label: str, now: float) -> str:
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed >= 0.1 else None
        speed = f", {rate:,.0f}/s" if rate else ""
        if self.total is None:
            return f"{label}: {self.done:,} records{speed} (total unknown)"
        if self.total < self.done:  # more came than counted (or no pass said)
            return f"{label}: {self.done:,} records{speed}"
        share = 100 * self.done // self.total
        text = f"{label}: {self.done:,} of {self.total:,} records ({share}%){speed}"
        if rate and self.done < self.total:
            text += f", about {clock((self.total - self.done) / rate)} left"
        return text


@dataclass
class Display:
    """The engine's two callbacks: ``expected`` (a pass's total) and ``advance``."""

    expected: Callable[[str, int | None], None]
    advance: Callable[[str, int], None]


@dataclass
class _Lines:
    """Progress as lines on stderr, for logs and pipes."""

    legs: dict[str, _Leg] = field(default_factory=dict)

    def leg(self, label: str) -> _Leg:
        if label not in self.legs:
            self.legs[label] = _Leg(time.monotonic())
        return self.legs[label]

    def expected(self, label: str, n: int | None) -> None:
        self.leg(label).expect(n)

    def advance(self, label: str, n: int) -> None:
        leg = self.leg(label)
        leg.done += n
        now = time.monotonic()
        if leg.shown is None or now - leg.shown >= LOG_EVERY:
            leg.shown = now
            err.print(escape(leg.line(label, now)))


class _Count(ProgressColumn):
    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        if task.total is None:
            return Text(f"{done} records")
        return Text(f"{done}/{int(task.total):,}")


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


class _Left(ProgressColumn):
    """Time left when the total is known, else the time so far."""

    max_refresh = 0.5

    def render(self, task: Task) -> Text:
        remaining = task.time_remaining if task.total is not None else None
        if remaining is not None:
            return Text(f"{clock(remaining)} left", style="progress.remaining")
        return Text(clock(task.elapsed or 0), style="progress.elapsed")


@contextmanager
def _bars(short: Callable[[str], str]) -> Iterator[Display]:
    with Progress(
        SpinnerColumn(),
        TextColumn(
            "{task.description}",
            table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=12),
        ),
        BarColumn(bar_width=16),
        _Count(table_column=Column(no_wrap=True, justify="right")),
        _Rate(table_column=Column(no_wrap=True, justify="right")),
        _Left(table_column=Column(no_wrap=True)),
        console=err,
        transient=True,
    ) as bar:
        bars: dict[str, TaskID] = {}
        totals: dict[str, int | None] = {}

        def expected(label: str, n: int | None) -> None:
            if label not in bars:
                totals[label] = n
                bars[label] = bar.add_task(escape(short(label)), total=n)
                return
            known = totals[label]
            totals[label] = None if n is None or known is None else known + n
            bar.update(bars[label], total=totals[label])

        def advance(label: str, n: int) -> None:
            if label not in bars:
                expected(label, None)
            bar.advance(bars[label], n)

        yield Display(expected, advance)


@contextmanager
def progress_display(short: Callable[[str], str] = lambda label: label) -> Iterator[Display]:
    """Bars on a terminal (labels shortened by ``short``), lines on stderr otherwise."""
    if err.is_terminal:
        with _bars(short) as display:
            yield display
        return
    lines = _Lines()
    yield Display(lines.expected, lines.advance)
