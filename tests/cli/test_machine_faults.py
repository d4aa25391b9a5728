"""A full disk or a read-only workspace under the sandbox: the command says so and exits 2
(``python -m p2c`` in its own process), never "internal error" and 70."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import apsw
from fault_helpers import fill, make_read_only, tmpfs

from p2c.cli._faults import machine_fault
from p2c.workspace import init_workspace

ACCOUNTS = {"accounts": [{"name": f"Account {n} " + "x" * 80} for n in range(3000)]}


def p2c(*args: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    return subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "internal error" not in output and "Traceback" not in output
    assert "cannot rollback" not in output
    for word in words:
        assert word in output, output


def test_loading_onto_a_full_disk(tmp_path: Path) -> None:
    load = tmp_path / "accounts.json"
    load.write_text(json.dumps(ACCOUNTS))
    with tmpfs(tmp_path / "small", "2m") as small:
        init_workspace(small / "ws")
        fill(small, leave_kib=64)

        done = p2c("sandbox", "load", "sales", load, "-w", small / "ws")

    refused(done, "a disk is full", "database or disk is full", "free space on that disk")


def test_a_run_whose_destination_fills_the_disk(tmp_path: Path) -> None:
    load = tmp_path / "accounts.json"
    load.write_text(json.dumps(ACCOUNTS))
    with tmpfs(tmp_path / "small", "4m") as small:
        root = small / "ws"
        init_workspace(root)
        assert p2c("sandbox", "load", "sales", load, "-w", root).returncode == 0
        fill(small, leave_kib=300)

        done = p2c("run", "-w", root)

    assert done.returncode not in (0, 70), done.stderr
    assert "internal error" not in done.stdout + done.stderr
    assert "full" in done.stdout + done.stderr


def test_loading_into_a_read_only_workspace(tmp_path: Path) -> None:
    load = tmp_path / "accounts.json"
    load.write_text(json.dumps({"accounts": [{"name": "Fabrikam"}]}))
    with tmpfs(tmp_path / "ro", "8m") as mount:
        init_workspace(mount / "ws")
        make_read_only(mount)

        done = p2c("sandbox", "load", "sales", load, "-w", mount / "ws")

    refused(done, "read-only")


def test_a_full_disk_is_found_behind_a_failed_rollback() -> None:
    # SQLite rolls back by itself after SQLITE_FULL; a ROLLBACK after that fails with
    # "cannot rollback", raised while handling the full disk: the message names the disk.
    try:
        try:
            raise apsw.FullError("database or disk is full")
        except apsw.FullError:
            raise apsw.SQLError("cannot rollback - no transaction is active") from None
    except apsw.SQLError as masked:
        masked.__context__ = apsw.FullError("database or disk is full")
        fault = machine_fault(masked)

    assert fault is not None and fault.exit_code == 2
    assert "a disk is full" in fault.message and "cannot rollback" not in fault.message


def test_a_bug_is_not_a_machine_fault() -> None:
    assert machine_fault(KeyError("x")) is None
    assert machine_fault(apsw.SQLError("no such table: x")) is None
