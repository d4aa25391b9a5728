"""One exception root for p2c, with the context a user needs to fix the problem.

Every error p2c raises on purpose derives from :class:`P2CError`. It carries the record and
field at fault and a fix, and an exit status that the command line returns. The command line
turns these into a message; nothing else should reach the user as a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConnectionFailed",
    "ExitCode",
    "InputError",
    "NotFoundError",
    "P2CError",
    "PrerequisiteError",
    "ProjectBusy",
    "RecordRejected",
]

import enum


class ExitCode(enum.IntEnum):
    """Documented exit statuses of the ``p2c`` command (see README)."""

    OK = 0
    FAILED_RECORDS = 1
    USAGE = 2
    BAD_INPUT = 3
    PREREQUISITE = 4
    CONNECTION = 5
    BUSY = 6
    INTERNAL = 70


class P2CError(Exception):
    """Root of every error p2c raises on purpose.

    Args:
        message: What went wrong, in the user's words.
        record: The record at fault (a key or a position such as ``contacts[3]``).
        field: The field at fault.
        fix: How to fix it.
    """

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        record: str | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.record = record
        self.field = field
        self.fix = fix

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"record {self.record}" if self.record else "",
                f"field {self.field}" if self.field else "",
            )
            if part
        )
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} Fix: {self.fix}" if self.fix else text


class ConfigError(P2CError):
    """The workspace, p2c.yaml or a command's arguments are wrong."""

    exit_code = ExitCode.USAGE


class NotFoundError(P2CError):
    """A named thing (workspace, entity, project, run) does not exist."""

    exit_code = ExitCode.USAGE


class InputError(P2CError):
    """Input data is malformed or breaks a rule; ``problems`` lists every finding.

    Args:
        message: Summary.
        problems: One :class:`P2CError` per finding, each naming its record and field.
    """

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str, problems: list[P2CError] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class PrerequisiteError(P2CError):
    """A prerequisite project is missing from the workspace or has not succeeded."""

    exit_code = ExitCode.PREREQUISITE


class RecordRejected(P2CError):
    """A system refused one record: the message is the system's own, naming field and value."""

    exit_code = ExitCode.FAILED_RECORDS


class ConnectionFailed(P2CError):
    """A system cannot be reached or refuses p2c's credentials or permissions."""

    exit_code = ExitCode.CONNECTION


class ProjectBusy(P2CError):
    """Another run holds a project's lock: two runs of one project never overlap."""

    exit_code = ExitCode.BUSY
