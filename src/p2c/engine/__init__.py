"""The integration engine: plan projects, compile mappings, run tasks, keep state."""

from p2c.engine._mapping import CompiledMap, compile_map
from p2c.engine._plan import PlannedProject, plan
from p2c.engine._run import Engine, RunResult, TaskResult
from p2c.engine._state import StateStore, TaskCounts

__all__ = [
    "CompiledMap",
    "Engine",
    "PlannedProject",
    "RunResult",
    "StateStore",
    "TaskCounts",
    "TaskResult",
    "compile_map",
    "plan",
]
