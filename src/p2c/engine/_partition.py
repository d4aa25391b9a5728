"""Key-range partitions of a task leg's first sync, run in parallel elsewhere.

A first sync too large for one worker is split by source key into ranges of about the same
size (boundaries taken from the source's own key order); each range is a
:class:`Partition` that a :class:`Partitioner` runs (the Celery executor sends each to a
worker) through ``Engine.run_partition``. Every partition reads with the same start time, so
the position it reaches is settled against the same instant; each commits lineage and
errors batch by batch but never the cursor. The leg's cursor is saved once, when every
partition is done, at the furthest position any of them reached: every record before it in
(watermark, key) order was read by the partition that holds its key.

A partition that is run twice (its worker died) reads its range again and writes only what
lineage does not already hold unchanged.
"""

from __future__ import annotations

__all__ = [
    "Partition",
    "PartitionResult",
    "Partitioner",
    "furthest",
    "key_range",
]

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from p2c.engine._records import TaskCounts
from p2c.odata import Compare, Filter, Logical


@dataclass(frozen=True)
class Partition:
    """One key range of a leg's first sync, as a worker needs it (JSON-safe).

    Attributes:
        lower: The first key in the range (key values), None from the start.
        upper: The first key after the range, None to the end.
        started: When the sync started (ISO 8601): every partition settles against it.
    """

    project: str
    task: str
    leg: str
    run_id: int
    task_run_id: int
    index: int
    count: int
    lower: list[Any] | None
    upper: list[Any] | None
    started: str

    def document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_document(cls, data: dict[str, Any]) -> Partition:
        return cls(**data)

    @property
    def name(self) -> str:
        return f"{self.project} / {self.task} partition {self.index + 1} of {self.count}"


@dataclass
class PartitionResult:
    """What a partition did: its counts and the (watermark, key) position it reached; why
    it stopped after a whole batch when the run was cancelled (``cancelled``)."""

    counts: TaskCounts = field(default_factory=TaskCounts)
    position: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    cancelled: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "counts": asdict(self.counts),
            "position": list(self.position) if self.position else None,
            "notes": self.notes,
            "cancelled": self.cancelled,
        }

    @classmethod
    def from_document(cls, data: dict[str, Any]) -> PartitionResult:
        position = data.get("position")
        return cls(
            TaskCounts(**data["counts"]),
            (str(position[0]), str(position[1])) if position else None,
            list(data.get("notes", [])),
            data.get("cancelled"),
        )


class Partitioner(Protocol):
    """Runs partitions in parallel and returns their results in order.

    Attributes:
        count: How many partitions a first sync is split into.
        min_records: A first sync of fewer records is not split.
    """

    count: int
    min_records: int

    def run(self, parts: Sequence[Partition]) -> list[PartitionResult]:
        """Run every partition (raising the first P2CError one of them raised). When the run
        is cancelled, partitions stop after a whole batch (or do not start) and say so in
        ``cancelled``; the leg is then Cancelled and its cursor does not move."""
        ...


def _tuple_compare(op: str, fields: Sequence[str], values: Sequence[Any]) -> Filter:
    """(fields) op (values) in lexicographic order, for op ``ge`` or ``lt``."""
    strict = "gt" if op == "ge" else "lt"
    result: Filter | None = None
    for position, (name, value) in enumerate(reversed(list(zip(fields, values, strict=True)))):
        last = position == 0
        here: Filter = Compare(op if last else strict, name, value)
        if result is not None:
            here = Logical("or", here, Logical("and", Compare("eq", name, value), result))
        result = here
    assert result is not None
    return result


def key_range(
    fields: Sequence[str], lower: Sequence[Any] | None, upper: Sequence[Any] | None
) -> Filter | None:
    """The records whose key is at or after ``lower`` and before ``upper``."""
    parts = []
    if lower is not None:
        parts.append(_tuple_compare("ge", fields, lower))
    if upper is not None:
        parts.append(_tuple_compare("lt", fields, upper))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Logical("and", parts[0], parts[1])


def _order(position: tuple[str, str]) -> tuple[datetime, list[Any]]:
    moment = datetime.fromisoformat(position[0].replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC), json.loads(position[1])


def furthest(results: Sequence[PartitionResult]) -> tuple[str, str] | None:
    """The furthest (watermark, key) position the partitions reached."""
    positions = [r.position for r in results if r.position is not None]
    return max(positions, key=_order) if positions else None
