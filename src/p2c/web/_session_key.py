"""The key that signs the admin center's session cookies: ``P2C_SESSION_SECRET`` when set,
else a random key made once in the workspace (``.p2c/session.key``, mode 0600) and read
again at every start, so that a restart of ``p2c serve`` keeps everyone signed in.

The key is never logged, never in the state database, never in a page or an error.
"""

from __future__ import annotations

__all__ = ["KEY_FILE", "SECRET_ENV", "session_secret"]

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from p2c._errors import ConfigError

SECRET_ENV = "P2C_SESSION_SECRET"
KEY_FILE = Path(".p2c") / "session.key"
_MIN_LENGTH = 32


def session_secret(root: Path) -> str:
    """``P2C_SESSION_SECRET``, else the workspace's key file (made on first use).

    Raises:
        ConfigError: the key file can be read by others than its owner, is not a key, or
            cannot be made or read.
    """
    given = os.environ.get(SECRET_ENV)
    if given:
        return given
    path = root / KEY_FILE
    try:
        if not path.exists():
            _make(path)
        return _read(path)
    except OSError as error:
        raise ConfigError(
            f"Cannot keep the session key in {KEY_FILE.as_posix()}: {error.strerror}.",
            fix=f"let p2c serve write to the workspace's .p2c folder, or set {SECRET_ENV}",
        ) from None


def _make(path: Path) -> None:
    """Write a new key: a temporary file of mode 0600 linked to its name, so that a second
    process starting at the same moment reads this key whole or keeps its own out."""
    folder = path.parent
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
        # Nothing of p2c's own folder belongs in a repository with the workspace.
        (folder / ".gitignore").write_text("*\n", encoding="ascii")
    handle, name = tempfile.mkstemp(dir=folder, prefix=".session-", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(temporary, path)
    finally:
        temporary.unlink()


def _read(path: Path) -> str:
    shown = KEY_FILE.as_posix()
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"The session key {shown} can be read by other users.",
            fix=f"chmod 600 {shown} (or delete it: p2c serve makes a new one, and everyone "
            "signs in again)",
        )
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if len(key) < _MIN_LENGTH:
        raise ConfigError(
            f"The session key {shown} is shorter than {_MIN_LENGTH} characters.",
            fix="delete it: p2c serve makes a new one (everyone signs in again)",
        )
    return key
