"""The key that signs sessions: made once in the workspace (mode 0600) and used again after
a restart, so that signed-in people stay signed in; ``P2C_SESSION_SECRET`` overrides it."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import pytest
from web_client import Web, make_web
from web_world import make_workspace

from p2c import ConfigError
from p2c.web._session_key import KEY_FILE, SECRET_ENV, session_secret


@pytest.fixture(autouse=True)
def _no_secret_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def _started(root: Path) -> Web:
    web = make_web(root)
    web.client.__enter__()
    return web


def _stopped(web: Web) -> None:
    web.client.__exit__(None, None, None)
    web.service.stop(timeout=30)
    web.service.close()


def test_a_restart_keeps_a_session_and_the_key_file_is_the_owners_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    root = make_workspace(tmp_path / "ws", contacts=2)
    first = _started(root)
    assert first.sign_in("alice").status_code == 303
    cookie = first.client.cookies["p2c_session"]
    _stopped(first)

    second = _started(root)  # the same workspace, a new process's app and service
    try:
        second.client.cookies.set("p2c_session", cookie)
        page = second.client.get("/", follow_redirects=False)
        assert page.status_code == 200  # signed in still, not sent to the sign-in form
        assert "alice" in page.text
        key = (root / KEY_FILE).read_text(encoding="ascii").strip()
        assert key not in page.text
    finally:
        _stopped(second)

    path = root / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (path.parent / ".gitignore").read_text(encoding="ascii") == "*\n"
    assert len(key) >= 32
    assert key not in caplog.text
    for database in root.rglob("*.db"):
        assert key.encode() not in database.read_bytes(), database


def test_another_workspace_has_another_key(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert session_secret(tmp_path / "a") != session_secret(tmp_path / "b")
    assert session_secret(tmp_path / "a") == session_secret(tmp_path / "a")


def test_two_processes_starting_at_once_use_one_key(tmp_path: Path) -> None:
    start = threading.Barrier(8)
    keys: list[str] = []

    def make() -> None:
        start.wait(10)
        keys.append(session_secret(tmp_path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in (tmp_path / ".p2c").iterdir()) == [".gitignore", "session.key"]


def test_p2c_session_secret_is_used_instead_and_no_file_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "a-secret-from-the-environment-of-the-service")
    assert session_secret(tmp_path) == "a-secret-from-the-environment-of-the-service"
    assert not (tmp_path / ".p2c").exists()


def test_a_key_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    key = session_secret(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigError) as refused:
        session_secret(tmp_path)
    assert "can be read by other users" in refused.value.message
    assert refused.value.fix and "chmod 600 .p2c/session.key" in refused.value.fix
    assert key not in str(refused.value) + refused.value.fix


def test_a_key_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    session_secret(tmp_path)
    (tmp_path / KEY_FILE).write_text("short\n", encoding="ascii")
    with pytest.raises(ConfigError, match="shorter than 32 characters"):
        session_secret(tmp_path)
