"""The records the engine and its state database pass around: a leg's identity, counts,
a run's status and options, a leg's outcome, a failed record, a cursor, a queued failure,
and how messages name a record."""

from __future__ import annotations

__all__ = [
    "Cursor",
    "ErrorRow",
    "LegId",
    "LegOutcome",
    "QueuedRecord",
    "RunOptions",
    "RunStatus",
    "TaskCounts",
    "ThresholdExceeded",
    "record_label",
]

import enum
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa


@dataclass(frozen=True)
class LegId:
    """A task leg of a project: the unit of cursors, lineage and the error queue."""

    project: str
    task: str
    leg: str

    def where(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return sa.and_(
            table.c.project == self.project, table.c.task == self.task, table.c.leg == self.leg
        )


class RunStatus(enum.StrEnum):
    """The status of a run as a whole (equal to its text).

    Running while its process works on it; then Completed (no record failed), Warning (some
    failed), Error (a task could not run or every record failed, or the run crashed or its
    process is gone) or Cancelled (asked to stop, e.g. by Ctrl-C; what it wrote stays).
    """

    RUNNING = "Running"
    COMPLETED = "Completed"
    WARNING = "Warning"
    ERROR = "Error"
    CANCELLED = "Cancelled"


@dataclass
class TaskCounts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def status(self) -> str:
        if not self.failed:
            return "Completed"
        return "Warning" if (self.created + self.updated + self.unchanged) else "Error"


@dataclass(frozen=True)
class ErrorRow:
    source_key: str
    destination_key: str | None
    field: str | None
    message: str
    retryable: bool = False
    # The record's name where the mapped values tell it, for messages and the history.
    name: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where an incremental read resumes: after ``(watermark, last_key)``, or from the
    change tracking token ``delta``."""

    watermark: str
    last_key: str
    definition: str
    delta: str | None = None


@dataclass(frozen=True)
class QueuedRecord:
    leg: LegId
    source_key: str
    destination_key: str | None
    field: str | None
    message: str
    retryable: bool
    attempts: int
    first_run_id: int
    last_run_id: int
    failed_at: datetime


def record_label(destination_key: str | None, source_key: str, name: str | None = None) -> str:
    """How every message names a record: its key in the destination (which holds the Sales
    contact or account number), and its name where known; the source key only when the
    destination key is not known (``source record c0…``)."""
    label = destination_key or f"source record {source_key}"
    return f"{label} ({name})" if name else label


class ThresholdExceeded(Exception):
    """More records failed than the task allows."""


@dataclass(frozen=True)
class RunOptions:
    """How a run treats its legs.

    Args:
        full: Ignore cursors and value digests: read and write every record.
        dry_run: Read, map and preview; write nothing to the destination or the state.
        retry_keys: Only these queued source keys per leg are read and written (``p2c retry``).
        retry_only: Run only the retry pass (no incremental pass).
    """

    full: bool = False
    dry_run: bool = False
    retry_only: bool = False
    retry_keys: dict[LegId, list[str]] | None = None


@dataclass
class LegOutcome:
    counts: TaskCounts = field(default_factory=TaskCounts)
    notes: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    stopped: str | None = None
