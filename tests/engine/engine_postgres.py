"""A real PostgreSQL server for the state-database tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import itertools
import shutil
import socket
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
