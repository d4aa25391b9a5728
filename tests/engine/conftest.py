"""Fixtures of the end-to-end engine tests: a fresh workspace per test, in both generations
(direct, and via the CDS hub), loaded with the scenario data of ``engine_scenarios``."""

from __future__ import annotations

import copy
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_postgres import PostgresServer, database_numbers, free_port, postgres_bin
from engine_scenarios import BASE, Scenario

from p2c.workspace import init_workspace


@pytest.fixture(params=["direct", "via-cds"])
def generation(request: pytest.FixtureRequest) -> str:
    value = request.param
    assert isinstance(value, str)
    return value


@pytest.fixture
def make_scenario(tmp_path: Path, generation: str) -> Iterator[Callable[..., Scenario]]:
    """A factory: a new workspace of the test's generation, loaded with ``BASE`` plus extras."""
    count = 0

    def make(
        extra: dict[str, list[dict[str, Any]]] | None = None, *, load: bool = True
    ) -> Scenario:
        nonlocal count
        count += 1
        root = tmp_path / f"ws{count}"
        init_workspace(root, via_cds=generation == "via-cds")
        scenario = Scenario(root, generation)
        # Tests run right after loading: let the cursor pass records changed this second.
        scenario.edit(lambda text: text.replace("settle_seconds: 5.0", "settle_seconds: 0.0"))
        if load:
            document = copy.deepcopy(BASE)
            for entity_set, records in (extra or {}).items():
                document.setdefault(entity_set, []).extend(copy.deepcopy(records))
            scenario.load(document)
            scenario.backdate_sales()
        return scenario

    yield make


@pytest.fixture
def scenario(make_scenario: Callable[..., Scenario]) -> Scenario:
    """A workspace of the test's generation with ``BASE`` loaded and nothing run yet."""
    return make_scenario()


# PostgreSQL --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
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


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, for one test."""
    name = f"p2c_state_{next(database_numbers)}"
    with postgres_server.connect() as db:
        db.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    with postgres_server.connect() as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
