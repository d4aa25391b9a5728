"""A job as its message carries it, and a run's result as the follower reads it back."""

from __future__ import annotations

__all__ = ["Job", "error_document", "result_document", "result_from"]

import socket
import uuid
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from p2c._errors import ExitCode, P2CError
from p2c.engine import RunResult, TaskCounts, TaskResult


class Job(BaseModel):
    """A run of projects sent to the workers.

    Attributes:
        id: The job's id (its keys on the board).
        projects: The projects, run in prerequisite order by one engine run.
        full: Read and write every record.
        started_by: What started it, kept in the history.
        wait: Seconds to wait for a project another run holds.
        host: The host that sent it: a job reading sandbox files runs only there.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    projects: tuple[str, ...]
    full: bool = False
    started_by: str = "command"
    wait: float = 0.0
    host: str = Field(default_factory=socket.gethostname)


def result_document(result: RunResult) -> dict[str, Any]:
    """A run's result as JSON for the board."""
    return {
        "run_id": result.run_id,
        "cancelled": result.cancelled,
        "left": result.left,
        "tasks": [
            {
                "project": t.project,
                "task": t.task,
                "leg": t.leg,
                "status": t.status,
                "counts": asdict(t.counts),
                "message": t.message,
                "exit_code": int(t.exit_code),
                "examples": t.examples,
            }
            for t in result.tasks
        ],
    }


def error_document(projects: tuple[str, ...], error: P2CError) -> dict[str, Any]:
    """A job that could not run: one Error line per project, with the reason."""
    return {
        "run_id": 0,
        "cancelled": None,
        "left": None,
        "tasks": [
            {
                "project": project,
                "task": "(start)",
                "leg": "",
                "status": "Error",
                "counts": asdict(TaskCounts()),
                "message": str(error),
                "exit_code": int(error.exit_code),
                "examples": [],
            }
            for project in projects
        ],
    }


def result_from(document: dict[str, Any]) -> RunResult:
    """The run's result back from its JSON."""
    tasks = [
        TaskResult(
            t["project"],
            t["task"],
            t["leg"],
            t["status"],
            TaskCounts(**t["counts"]),
            t["message"],
            ExitCode(t["exit_code"]),
            list(t["examples"]),
        )
        for t in document["tasks"]
    ]
    return RunResult(
        int(document["run_id"]), tasks, cancelled=document["cancelled"], left=document["left"]
    )
