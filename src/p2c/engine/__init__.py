"""The integration engine: plan projects, compile mappings, run tasks, keep state."""

from p2c.engine._cancel import CancelToken, RunAbandoned
from p2c.engine._mapping import CompiledMap, compile_map
from p2c.engine._partition import Partition, Partitioner, PartitionResult
from p2c.engine._plan import PlannedProject, plan
from p2c.engine._records import (
    Cursor,
    LegId,
    QueuedRecord,
    RunOptions,
    RunStatus,
    TaskCounts,
    record_label,
)
from p2c.engine._run import Engine, RunResult, TaskResult
from p2c.engine._state import StateStore
from p2c.engine._tables import UTCDateTime

__all__ = [
    "CancelToken",
    "CompiledMap",
    "Cursor",
    "Engine",
    "LegId",
    "Partition",
    "PartitionResult",
    "Partitioner",
    "PlannedProject",
    "QueuedRecord",
    "RunAbandoned",
    "RunOptions",
    "RunResult",
    "RunStatus",
    "StateStore",
    "TaskCounts",
    "TaskResult",
    "UTCDateTime",
    "compile_map",
    "plan",
    "record_label",
]
