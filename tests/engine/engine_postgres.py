"""A real PostgreSQL server for the state-database tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest


def postgres_bin() -> Path:
    """The folder of the server binaries: Debian's newest /usr/lib/postgresql/N/bin, or PATH."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found in "
        "/usr/lib/postgresql/*/bin or on PATH. Install them: apt-get install postgresql "
        "(CI does this in .ci/run).",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


database_numbers = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    port: int
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        )


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the test session, on a free loopback port.

    initdb and postgres refuse to run as root: as root (CI), the cluster belongs to the
    ``postgres`` user and every server command runs through ``runuser -u postgres --``.
    """
    binaries = postgres_bin()
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if as_root:
        if shutil.which("runuser") is None:
            pytest.fail("Running as root needs runuser to start PostgreSQL as user postgres.")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "Running as root, but there is no `postgres` user to own the test cluster "
                "(the Debian postgresql package creates it).",
                pytrace=False,
            )

    def command(tool: str, *args: str) -> list[str]:
        line = [str(binaries / tool), *args]
        return ["runuser", "-u", "postgres", "--", *line] if as_root else line

    # Not under pytest's tmp folder: that one is private to root, and the server runs as
    # postgres. The socket lives here too, so no system folder is needed.
    folder = Path(tempfile.mkdtemp(prefix="p2c-postgres-"))
    data, log = folder / "data", folder / "server.log"
    if as_root:
        shutil.chown(folder, user="postgres")
    port = free_port()
    started = False
    try:
        initdb = subprocess.run(
            command(
                "initdb",
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}", pytrace=False)
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} "
            "-c fsync=off -c full_page_writes=off"
        )
        start = subprocess.run(
            command(
                "pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        started = start.returncode == 0
        if not started:
            server_log = log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(
                f"PostgreSQL did not start:\n{start.stdout}\n{start.stderr}\n{server_log}",
                pytrace=False,
            )
        yield PostgresServer(port, folder)
    finally:
        if started:
            subprocess.run(
                command("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"),
                capture_output=True,
                timeout=120,
                check=False,
            )
        shutil.rmtree(folder, ignore_errors=True)
