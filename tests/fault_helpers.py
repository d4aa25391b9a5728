"""Machines that are not as they should be, for tests: small file systems that fill up or
turn read-only. They need root (mount); where they cannot be made the test is skipped with
the reason, never silently."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A small file system mounted at ``folder`` (root only)."""
    if not AS_ROOT:
        pytest.skip("a small file system is a tmpfs mount, which needs root; case not produced")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = sh("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); case not produced")
    try:
        yield folder
    finally:
        sh("umount", "-l", str(folder))


def make_read_only(mount: Path) -> None:
    """A tmpfs mount read-only, for root too (root writes through file permissions)."""
    done = sh("mount", "-o", "remount,ro", str(mount))
    assert done.returncode == 0, done.stderr


def fill(folder: Path, leave_kib: int) -> None:
    """Fill the file system of ``folder`` up to ``leave_kib`` KiB."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with (folder / "filler").open("wb") as filler:
        filler.write(b"\0" * max(0, free - leave_kib * 1024))
