"""Faults of the machine, as the last line of defence tells them: a full disk, a read-only
file system or a damaged database under the sandbox. They are not p2c's bugs, so they get a
message and exit 2, not "internal error" and exit 70.

The state database has its own, more precise messages (``p2c.engine``); this catches what
reaches the command line from anywhere else, looking through the exceptions an error was
raised during (a failed ROLLBACK after a full disk hides the full disk otherwise).
"""

from __future__ import annotations

__all__ = ["machine_fault"]

import errno
import sqlite3

import apsw

from p2c._errors import ConfigError, P2CError

_FREE_SPACE = "free space on that disk, then run the command again"
_SQLITE = (
    (apsw.FullError, "a disk is full: a sandbox database cannot grow", _FREE_SPACE),
    (
        apsw.ReadOnlyError,
        "a sandbox database is read-only (the file, its folder or its disk)",
        "make the workspace's sandbox folder and its files writable",
    ),
    (
        (apsw.NotADBError, apsw.CorruptError),
        "a sandbox database is damaged or not a SQLite database",
        "restore the workspace's sandbox folder from a backup, or make a new workspace",
    ),
    (
        apsw.CantOpenError,
        "a sandbox database cannot be opened (a missing or read-only folder?)",
        "check the workspace's sandbox folder",
    ),
    (apsw.IOError, "a disk I/O error reading or writing a sandbox database", "check the disk"),
)
_OS = {
    errno.ENOSPC: ("the disk is full", _FREE_SPACE),
    errno.EDQUOT: ("the disk quota is used up", _FREE_SPACE),
    errno.EROFS: ("the file system is read-only", "use a writable folder"),
    errno.EACCES: ("permission denied", "check the permissions of the file and its folder"),
    errno.EPERM: ("permission denied", "check the permissions of the file and its folder"),
    errno.EIO: ("a disk I/O error", "check the disk"),
}


def machine_fault(error: BaseException) -> P2CError | None:
    """The fault of the machine behind ``error`` (or behind what it was raised during), as a
    ConfigError with its fix; None when it is none of those."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _one(error: BaseException) -> P2CError | None:
    for kinds, what, fix in _SQLITE:
        if isinstance(error, kinds):
            return ConfigError(f"Cannot go on: {what} ({error}).", fix=fix)
    if isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error):
        return ConfigError(f"Cannot go on: a disk is full ({error}).", fix=_FREE_SPACE)
    if isinstance(error, OSError) and error.errno in _OS:
        what, fix = _OS[error.errno]
        where = f" writing {error.filename}" if error.filename else ""
        return ConfigError(f"Cannot go on: {what}{where} ({error.strerror}).", fix=fix)
    return None
