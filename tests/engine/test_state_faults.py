"""The state database when the machine is not as it should be: a damaged, locked, read-only
or empty file, a read-only workspace, a full disk, a PostgreSQL server that refuses. Each is
a message naming the database, the cause and the fix, with a documented exit status (2, or
5 for a connection lost during a run), in a real ``python -m p2c`` process: never 70.

Read-only folders and full disks are made with small tmpfs mounts when the tests run as root
(root writes through file permissions); as another user, with file permissions. Where
neither works the test is skipped with the reason, never silently.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from engine_postgres import PostgresServer
from engine_scenarios import run_p2c
from fault_helpers import AS_ROOT, fill, make_read_only, sh, tmpfs
from psycopg.rows import TupleRow

from p2c import ConfigError, ConnectionFailed
from p2c.engine import StateStore
from p2c.workspace import Workspace, init_workspace


def set_state_url(root: Path, url: str) -> None:
    config = root / "p2c.yaml"
    text = config.read_text(encoding="utf-8")
    assert "url: sqlite:///state.db" in text
    config.write_text(text.replace("url: sqlite:///state.db", f"url: {url}"), encoding="utf-8")


def failed(done: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert done.returncode == status, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "internal error" not in output
    assert "cannot rollback" not in output
    for word in words:
        assert word in output, output


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root)
    Workspace.open(root).sales().load({"accounts": [{"name": "Fabrikam"}]})
    return root


# a damaged, empty or busy file ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (os.urandom(8192), "file is not a database"),
        (b"hello, this is not a database\n", "file is not a database"),
        (None, "database disk image is malformed"),  # a real state cut short
    ],
    ids=["random bytes", "text", "truncated"],
)
def test_a_damaged_state_database(ws: Path, content: bytes | None, cause: str) -> None:
    state = ws / "state.db"
    store = StateStore(f"sqlite:///{state}")  # runs in it, so that a cut loses pages
    for _ in range(300):
        store.finish_run(store.start_run(["A project with a long enough name " * 3]), "Completed")
    store.close()
    with sqlite3.connect(state) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    whole = state.read_bytes()
    damaged = content if content is not None else whole[: len(whole) // 2]
    for leftover in ws.glob("state.db-*"):
        leftover.unlink()
    state.write_bytes(damaged)

    for command in ("history", "run"):
        done = run_p2c(command, "-w", ws)
        failed(done, 2, f"the state database {state}", "damaged or not a SQLite", cause)
        assert "restore it from a backup, or move it aside" in done.stderr
    assert state.read_bytes() == damaged  # never overwritten


def test_an_empty_state_database_starts_a_new_state(ws: Path) -> None:
    (ws / "state.db").write_bytes(b"")
    for leftover in ws.glob("state.db-*"):
        leftover.unlink()

    done = run_p2c("run", "-w", ws)

    assert done.returncode == 0, done.stderr
    assert "Completed" in run_p2c("history", "-w", ws).stdout


def test_a_state_database_another_program_holds_locked(ws: Path) -> None:
    set_state_url(ws, "sqlite:///state.db?timeout=0.5")
    holder = sqlite3.connect(ws / "state.db", isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("CREATE TABLE held (x)")

        done = run_p2c("history", "-w", ws)
    finally:
        holder.close()

    failed(done, 2, "another program holds it locked", "database is locked", "wait for")
    assert run_p2c("history", "-w", ws).returncode == 0  # free again


def test_a_state_database_that_is_a_folder(ws: Path) -> None:
    for path in ws.glob("state.db*"):
        path.unlink()
    (ws / "state.db").mkdir()

    failed(run_p2c("history", "-w", ws), 2, "that is a folder", "move the folder away")


def test_a_state_database_in_a_missing_folder(ws: Path) -> None:
    set_state_url(ws, "sqlite:///gone/state.db")

    failed(run_p2c("run", "-w", ws), 2, f"its folder {ws / 'gone'} does not exist")


def test_a_state_url_no_driver_reads(ws: Path) -> None:
    set_state_url(ws, "mysql://p2c:s3cret@db/p2c")

    done = run_p2c("history", "-w", ws)

    failed(done, 2, "Cannot open the state database mysql://p2c:***@db/p2c", "state.url")
    assert "s3cret" not in done.stderr


# read-only ------------------------------------------------------------------------------------


def test_a_read_only_state_database_file(ws: Path) -> None:
    state = ws / "state.db"
    if AS_ROOT:  # root writes through permissions: a read-only bind mount of the file
        bound = sh("mount", "--bind", str(state), str(state))
        if bound.returncode != 0:
            pytest.skip(f"cannot bind-mount here ({bound.stderr.strip()}); case not produced")
        assert sh("mount", "-o", "remount,bind,ro", str(state)).returncode == 0
    else:
        state.chmod(0o444)
    try:
        done = run_p2c("run", "-w", ws)
    finally:
        if AS_ROOT:
            sh("umount", str(state))
        else:
            state.chmod(0o644)

    failed(done, 2, f"Cannot write the state database {state}", "read-only", "writable")


def test_a_read_only_workspace(tmp_path: Path) -> None:
    if AS_ROOT:
        with tmpfs(tmp_path / "mnt", "8m") as mount:
            root = mount / "ws"
            init_workspace(root)
            make_read_only(mount)
            done = run_p2c("run", "-w", root)
            empty = run_p2c("history", "-w", root)
    else:
        root = tmp_path / "ws"
        init_workspace(root)
        (root / "state.db").unlink()
        root.chmod(0o555)
        try:
            done = run_p2c("run", "-w", root)
            empty = done
        finally:
            root.chmod(0o755)

    failed(done, 2, f"the state database {root / 'state.db'}", "read-only")
    failed(empty, 2, "read-only")


# a full disk ----------------------------------------------------------------------------------


@pytest.mark.skipif(not AS_ROOT, reason="a full disk is made with a tmpfs mount, which needs root")
def test_a_full_disk_under_the_state_database(ws: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "1m") as small:
        set_state_url(ws, f"sqlite:///{small / 'state.db'}")
        assert run_p2c("history", "-w", ws).returncode == 0
        fill(small, leave_kib=8)

        done = run_p2c("run", "-w", ws)

    failed(done, 2, f"The disk holding the state database {small / 'state.db'} is full")
    assert "free space on that disk" in done.stderr


@pytest.mark.skipif(not AS_ROOT, reason="a full disk is made with a tmpfs mount, which needs root")
def test_a_disk_that_fills_during_a_run(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    sales = Workspace.open(root).sales()
    sales.load({"accounts": [{"name": f"Account {n} " + "x" * 80} for n in range(3000)]})
    sales.close()
    with tmpfs(tmp_path / "small", "512k") as small:
        set_state_url(root, f"sqlite:///{small / 'state.db'}")
        assert run_p2c("history", "-w", root).returncode == 0
        fill(small, leave_kib=150)  # room to start the run, not to record 3,000 records

        done = run_p2c("run", "-w", root)

    assert done.returncode not in (0, 70)
    failed(done, done.returncode, "is full (database or disk is full)")


# PostgreSQL -----------------------------------------------------------------------------------


@contextmanager
def password_role(server: PostgresServer) -> Iterator[str]:
    """A role that signs in with a password: scram-sha-256 for it alone, ahead of the
    server's trust lines."""
    role = f"p2c_pw_{uuid.uuid4().hex[:8]}"
    hba = server.folder / "data" / "pg_hba.conf"
    original = hba.read_text()
    with server.connect() as db:
        db.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-password'")
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}")
        db.execute("SELECT pg_reload_conf()")
    try:
        yield role
    finally:
        with server.connect() as db:
            hba.write_text(original)
            db.execute("SELECT pg_reload_conf()")
            db.execute(f"DROP ROLE IF EXISTS {role}")


def test_postgresql_with_a_wrong_password(ws: Path, postgres_server: PostgresServer) -> None:
    with password_role(postgres_server) as role:
        url = (
            f"postgresql+psycopg://{role}:wrong-password@127.0.0.1:{postgres_server.port}/postgres"
        )
        set_state_url(ws, url)

        done = run_p2c("run", "-w", ws)

    failed(done, 2, "the user name or password is wrong", "password authentication failed")
    assert "wrong-password" not in done.stdout + done.stderr


def test_postgresql_with_an_unknown_database(ws: Path, postgres_server: PostgresServer) -> None:
    set_state_url(ws, postgres_server.url("no_such_database"))

    done = run_p2c("history", "-w", ws)

    failed(done, 2, "the database does not exist", '"no_such_database" does not exist')
    assert "createdb" in done.stderr


def test_postgresql_with_an_unknown_user(ws: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.url().replace("postgres@", "nobody_here@")
    set_state_url(ws, url)

    failed(run_p2c("history", "-w", ws), 2, "the user does not exist", "nobody_here")


def test_postgresql_that_refuses_connections(ws: Path, postgres_server: PostgresServer) -> None:
    closed = postgres_server.url().replace(f":{postgres_server.port}/", ":1/")
    set_state_url(ws, closed)

    failed(run_p2c("run", "-w", ws), 2, "the server refuses connections", "start PostgreSQL")


def test_postgresql_lost_during_a_run_is_a_connection_failure(postgres_url: str) -> None:
    state = StateStore(postgres_url)
    try:
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg_admin(postgres_url) as db:
            db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        with pytest.raises(ConnectionFailed) as caught:
            state.runs()
    finally:
        state.close()
    assert "Lost the connection to the state database" in str(caught.value)


@contextmanager
def psycopg_admin(url: str) -> Iterator[psycopg.Connection[TupleRow]]:
    plain = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(plain, autocommit=True) as db:
        yield db


def test_the_library_raises_config_errors_too(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"not sqlite at all, and long enough to tell" * 100)

    with pytest.raises(ConfigError, match="damaged or not a SQLite database"):
        StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://p2c:s3cret@host:notaport/p2c", "postgresql://p2c:***@host:notaport/p2c"),
        ("state.db", "Could not parse"),
        ("foo://x", "Can't load plugin"),
    ],
)
def test_a_state_url_that_cannot_be_read(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StateStore(url)

    assert words in str(caught.value) and "state.url" in str(caught.value)
    assert "s3cret" not in str(caught.value)
