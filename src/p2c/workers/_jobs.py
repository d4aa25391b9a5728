"""A job as its message carries it, and a run's result as the follower reads it back."""

from __future__ import annotations

__all__ = [
    "Job",
    "RetrySelection",
    "error_document",
    "nothing_document",
    "raise_refusal",
    "result_document",
    "result_from",
]

import socket
import uuid
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from p2c._errors import ExitCode, P2CError
from p2c.engine import RunResult, TaskCounts, TaskResult


class RetrySelection(BaseModel):
    """Which queued failed records a retry job writes again (as ``p2c retry`` says): those
    of one run, one record, or (neither) all, of the job's projects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: int | None = None
    source_key: str | None = None


class Job(BaseModel):
    """A run of projects sent to the workers.

    Attributes:
        id: The job's id (its keys on the board).
        projects: The projects, run in prerequisite order by one engine run.
        full: Read and write every record.
        started_by: What started it, kept in the history.
        wait: Seconds to wait for a project another run holds.
        host: The host that sent it: a job reading sandbox files runs only there.
        retry: A retry of queued failed records of ``projects`` instead of a run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    projects: tuple[str, ...]
    full: bool = False
    started_by: str = "command"
    wait: float = 0.0
    host: str = Field(default_factory=socket.gethostname)
    retry: RetrySelection | None = None


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


def nothing_document() -> dict[str, Any]:
    """A retry job that found nothing to retry."""
    return {"nothing": True}


def error_document(projects: tuple[str, ...], error: P2CError) -> dict[str, Any]:
    """A job that could not run: one Error line per project, with the reason (and the
    error itself, for a follower that reports it as the command in process would)."""
    return {
        "run_id": 0,
        "cancelled": None,
        "left": None,
        "refused": {
            "message": error.message,
            "record": error.record,
            "field": error.field,
            "fix": error.fix,
            "exit_code": int(error.exit_code),
        },
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


class _Refused(P2CError):
    def __init__(self, refused: dict[str, Any]) -> None:
        super().__init__(
            str(refused["message"]),
            record=refused.get("record"),
            field=refused.get("field"),
            fix=refused.get("fix"),
        )
        self.exit_code = ExitCode(int(refused["exit_code"]))


def raise_refusal(document: dict[str, Any]) -> None:
    """Raise the error a job could not start with, as the worker met it (its message, fix
    and exit status).

    Raises:
        P2CError: the document says the job was refused.
    """
    refused = document.get("refused")
    if refused:
        raise _Refused(refused)
