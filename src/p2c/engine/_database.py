"""Opening the state database, and what its failures mean to a user.

A database error is a fact about the user's machine, not a bug: a full disk, a read-only
folder, a damaged file, a lock another program holds, a PostgreSQL server that refuses, a
wrong password or database name. Each becomes a :class:`~p2c.ConfigError` (exit 2) that
names the database (password hidden) and the fix; a PostgreSQL connection lost during a run
is a :class:`~p2c.ConnectionFailed` (exit 5). The translation is an engine event, so it
holds for every statement of a run, not only for opening.
"""

from __future__ import annotations

__all__ = ["open_engine", "state_error"]

import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from p2c._errors import ConfigError, ConnectionFailed, P2CError

_FIX_URL = "check state.url in p2c.yaml"
_NEARLY_FULL = 1 << 20  # bytes free


def _tune_sqlite(connection: Any, _record: Any) -> None:
    """WAL: runs of other projects read while one writes, and a commit appends instead of
    rewriting pages; NORMAL sync is safe with WAL against a killed process (a power cut may
    lose the last batches' state, which the next run writes again: upserts by key). A
    checkpoint every 64 MB of log rather than 4 MB: lineage pages written by many batches
    are copied back once."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.close()


def open_engine(url: str) -> tuple[sa.Engine, str]:
    """The engine of a state URL and the URL as messages show it (password hidden).

    SQLite connections are tuned (WAL); a PostgreSQL connection attempt gives up after 10
    seconds unless the URL says otherwise (``?connect_timeout=N``). Database errors of any
    later statement come out as P2C errors (:func:`state_error`), except SQLite's "database
    is locked", which the project locks handle themselves.

    Raises:
        ConfigError: The URL cannot be read, or its driver is not installed.
    """
    safe = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)  # until the URL is read
    try:
        parsed = sa.engine.make_url(url)
        safe = parsed.render_as_string(hide_password=True)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = 10
        engine = sa.create_engine(parsed, connect_args=connect_args)
    except (sa.exc.ArgumentError, ValueError, ImportError) as exc:
        raise ConfigError(
            f"Cannot open the state database {safe}: {_first_line(exc)}.",
            fix=f"{_FIX_URL}: sqlite:///state.db, or postgresql+psycopg://user@host/database",
        ) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _tune_sqlite)

    def translate(context: sa.engine.ExceptionContext) -> BaseException | None:
        error = context.original_exception
        if _locked(error):
            return None  # the project locks wait and retry on it
        return state_error(error, safe, opening=False, disconnected=context.is_disconnect)

    sa.event.listen(engine, "handle_error", translate, retval=True)
    return engine, safe


def state_error(
    error: BaseException, safe: str, *, opening: bool = True, disconnected: bool = False
) -> P2CError | None:
    """What a database error means for the state database ``safe``, or None when it is not a
    database error. ``opening``: it happened while opening (a lock is then reported too)."""
    original = getattr(error, "orig", None) or error
    if isinstance(original, P2CError):
        return original
    if isinstance(original, sqlite3.Error):
        return _sqlite_error(original, safe, opening)
    if type(original).__module__.startswith("psycopg"):
        return _postgres_error(original, safe, disconnected and not opening)
    return None


def _locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error).lower()


def _sqlite_error(error: sqlite3.Error, safe: str, opening: bool) -> P2CError:
    text = str(error)
    name = getattr(error, "sqlite_errorname", "")
    if name and name not in ("SQLITE_ERROR", "SQLITE_NOTADB", "SQLITE_FULL"):
        text = f"{text}, {name}"
    lower = text.lower()
    path = Path(sa.engine.make_url(safe).database or "")
    where = f"the state database {path}"
    if "disk is full" in lower or ("i/o error" in lower and _nearly_full(path)):
        return ConfigError(
            f"The disk holding {where} is full ({text}).",
            fix="free space on that disk, then run again: the batch that was being written "
            "was not recorded, and the next run writes it again",
        )
    if "readonly" in lower or "read-only" in lower:
        return ConfigError(
            f"Cannot write {where}: the file, its folder or its disk is read-only ({text}).",
            fix="make the file and its folder writable (SQLite also writes state.db-wal and "
            "state.db-shm beside it), or point state.url at a writable place",
        )
    if "unable to open" in lower:
        reason, fix = _unopenable(path)
        return ConfigError(f"Cannot open {where}: {reason} ({text}).", fix=fix)
    if "not a database" in lower or "malformed" in lower or "corrupt" in lower:
        return ConfigError(
            f"Cannot open {where}: the file is damaged or not a SQLite database ({text}).",
            fix="restore it from a backup, or move it aside: p2c then starts a new state (the "
            "history, error queue and cursors in it are lost, and the next run reads all)",
        )
    if "locked" in lower or "busy" in lower:
        return ConfigError(
            f"Cannot {'open' if opening else 'write'} {where}: another program holds it "
            f"locked ({text}).",
            fix="wait for that program (a p2c run, a backup, a sqlite3 shell) to finish",
        )
    if "i/o error" in lower:
        return ConfigError(
            f"Reading or writing {where} failed with a disk I/O error ({text}).",
            fix="check the disk; restore state.db from a backup if it is damaged",
        )
    return ConfigError(f"The state database {path} failed: {text}.", fix=_FIX_URL)


def _nearly_full(path: Path) -> bool:
    """Whether the disk of ``path`` is (all but) full: SQLite reports some writes that find
    no room (growing its shared-memory file, say) as a disk I/O error."""
    folder = path.parent
    try:
        return shutil.disk_usage(folder if folder.is_dir() else Path.cwd()).free < _NEARLY_FULL
    except OSError:
        return False


def _unopenable(path: Path) -> tuple[str, str]:
    """Why SQLite cannot open (or create) a file, from what the file system shows, and the
    fix."""
    folder = path.parent
    elsewhere = "or point state.url in p2c.yaml at another file"
    if not folder.is_dir():
        return f"its folder {folder} does not exist", f"create the folder, {elsewhere}"
    if path.is_dir():
        return "that is a folder", f"move the folder away, {elsewhere}"
    if not os.access(folder, os.W_OK):
        return (
            f"its folder {folder} is read-only",
            f"make the folder writable (SQLite writes state.db-wal and state.db-shm in it), "
            f"{elsewhere}",
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "the file cannot be read and written", f"make it readable and writable, {elsewhere}"
    return "SQLite cannot open the file", elsewhere


def _postgres_error(error: BaseException, safe: str, lost: bool) -> P2CError:
    text = _first_line(error).removeprefix("connection failed: ")
    reason, fix = _postgres_reason(text.lower())
    if lost:
        return ConnectionFailed(
            f"Lost the connection to the state database {safe}: {text}.",
            fix="check that PostgreSQL is running and reachable, then run again",
        )
    return ConfigError(f"Cannot open the state database {safe}: {reason} ({text}).", fix=fix)


def _postgres_reason(lower: str) -> tuple[str, str]:
    if "refused" in lower:
        return "the server refuses connections", (
            f"start PostgreSQL, or correct the host and port in state.url ({_FIX_URL})"
        )
    if "password authentication failed" in lower or "no password supplied" in lower:
        return "the user name or password is wrong", (
            "correct the user and password in state.url (or in ~/.pgpass)"
        )
    if "database" in lower and "does not exist" in lower:
        return "the database does not exist", (
            "create it (createdb NAME), or correct the database name at the end of state.url"
        )
    if "role" in lower and "does not exist" in lower:
        return "the user does not exist on that server", "correct the user name in state.url"
    if "resolve" in lower or "translate host name" in lower:
        return "the host name is unknown", "correct the host name in state.url"
    if "timeout" in lower or "timed out" in lower:
        return "the server does not answer", "check the host, the port and any firewall"
    return "PostgreSQL refused the connection", _FIX_URL


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(error).__name__
