"""What writing one record to a Dynamics system came to: one type for every write path
(the sandbox in-process, the emulator, the HTTP connectors) and the engine that reads it."""

from __future__ import annotations

__all__ = ["Outcome", "WriteStatus"]

import enum
from typing import Any, NamedTuple


class WriteStatus(enum.StrEnum):
    """The status of one written record; equal to its lower-case text."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class Outcome(NamedTuple):
    """The outcome of writing one record (a named tuple: one is made per record).

    Args:
        key: The record's key values in the destination.
        status: Created, updated, unchanged or failed.
        field: For a failure, the field at fault, when the system names one.
        message: For a failure, the system's reason.
        retryable: For a failure, whether the same record may succeed later unchanged
            (throttling, a server fault), as opposed to needing a fix.
        changes: For an update: field -> (stored value, new value); filled by a preview.
    """

    key: tuple[Any, ...]
    status: WriteStatus
    field: str | None = None
    message: str | None = None
    retryable: bool = False
    changes: dict[str, tuple[Any, Any]] | None = None
