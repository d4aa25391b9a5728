"""``p2c users``: add (password from P2C_PASSWORD or asked twice), list (--json), remove,
set-password; every change in the audit log; bad input a message and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c._errors import ExitCode
from p2c.service import AccessStore, ServiceStore
from p2c.web import UserStore
from p2c.workspace import Workspace, init_workspace

PASSWORD = "correct-horse-battery"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    init_workspace(tmp_path / "ws")
    return tmp_path / "ws"


@pytest.fixture
def store(ws: Path) -> Iterator[UserStore]:
    service = ServiceStore(Workspace.open(ws).state_url())
    yield UserStore(AccessStore(service.engine))
    service.close()


def run(
    ws: Path, *args: str, env: dict[str, str] | None = None, given: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m p2c`` as a person runs it (errors become messages and exit statuses)."""
    import os

    environment = {k: v for k, v in os.environ.items() if k != "P2C_PASSWORD"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "p2c", *args, "--workspace", str(ws)],
        capture_output=True,
        text=True,
        env=environment,
        input=given,
        timeout=60,
    )


def test_add_list_set_password_remove(ws: Path, store: UserStore) -> None:
    added = run(ws, "users", "add", "alice", "--role", "admin", env={"P2C_PASSWORD": PASSWORD})
    assert added.returncode == 0, added.stderr
    assert "Added user 'alice' (admin)" in added.stdout
    assert store.authenticate("alice", PASSWORD) is not None
    assert store.authenticate("alice", "wrong-password") is None

    listed = run(ws, "users", "list", "--json")
    (row,) = json.loads(listed.stdout)
    assert row["name"] == "alice" and row["role"] == "admin"
    assert row["last_sign_in_at"] is not None  # the authenticate above
    assert PASSWORD not in listed.stdout
    table = run(ws, "users", "list")
    assert "alice" in table.stdout and "admin" in table.stdout

    changed = run(ws, "users", "set-password", "alice", env={"P2C_PASSWORD": "another-password"})
    assert changed.returncode == 0, changed.stderr
    assert store.authenticate("alice", PASSWORD) is None
    assert store.authenticate("alice", "another-password") is not None
    assert store.get("alice").session_epoch == 1

    removed = run(ws, "users", "remove", "alice")
    assert removed.returncode == 0 and "Removed user 'alice'" in removed.stdout
    assert store.users() == []
    actions = [(e.action, e.target) for e in reversed(store.access.audit_log())]
    assert actions == [
        ("user.add", "alice"),
        ("user.set-password", "alice"),
        ("user.remove", "alice"),
    ]
    assert all(e.actor.startswith("cli") for e in store.access.audit_log())


def test_the_password_is_asked_twice_when_not_in_the_environment(
    ws: Path, store: UserStore
) -> None:
    import os
    import pty

    # getpass reads the terminal: a real one (a pty), as a person types.
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command
        os.environ.pop("P2C_PASSWORD", None)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "p2c", "users", "add", "bob", "--role", "viewer", "-w", str(ws)],
        )
    seen = b""

    def until(text: bytes) -> None:
        nonlocal seen
        while text not in seen:
            chunk = os.read(fd, 1024)
            assert chunk, seen
            seen += chunk

    until(b"Password for bob: ")
    os.write(fd, PASSWORD.encode() + b"\n")
    until(b"Again: ")
    os.write(fd, PASSWORD.encode() + b"\n")
    until(b"Added user 'bob' (viewer).")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert PASSWORD.encode() not in seen  # not echoed
    assert store.authenticate("bob", PASSWORD) is not None


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["users", "add", "x", "--role", "boss"],
            {"P2C_PASSWORD": PASSWORD},
            "Unknown role 'boss'",
        ),
        (["users", "add", "x"], {"P2C_PASSWORD": "short"}, "at least 10 are needed"),
        (["users", "remove", "nobody"], {}, "There is no user named 'nobody'"),
        (["users", "set-password", "nobody"], {"P2C_PASSWORD": PASSWORD}, "There is no user named"),
    ],
)
def test_bad_input_is_a_message_and_exit_2_or_3(
    ws: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(ws, *args, env=env)
    assert result.returncode in (ExitCode.USAGE, ExitCode.BAD_INPUT), result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_name_is_taken_once(ws: Path) -> None:
    env = {"P2C_PASSWORD": PASSWORD}
    assert run(ws, "users", "add", "alice", env=env).returncode == 0
    again = run(ws, "users", "add", "alice", env=env)
    assert again.returncode != 0
    assert "There is already a user named 'alice'" in again.stderr


def test_an_empty_list_says_how_to_add_the_first(ws: Path) -> None:
    assert "p2c users add NAME --role admin" in run(ws, "users", "list").stdout
    assert json.loads(run(ws, "users", "list", "--json").stdout) == []
