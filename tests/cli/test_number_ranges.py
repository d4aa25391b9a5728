"""Numbers out of range on the command line are usage errors (exit 2) naming the option and
its bound, in a real ``python -m p2c`` process: never an overflow deep in SQLite (exit 70)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2c.cli import main
from p2c.workspace import init_workspace

HUGE = "99999999999999999999999"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("numbers") / "ws"
    init_workspace(root)
    return root


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["retry", HUGE], ["'[RUN]'", "less than or equal to 2147483647"]),
        (["retry", "0"], ["'[RUN]'", "greater than or equal to 1"]),
        (["errors", HUGE], ["'[RUN]'", "less than or equal to 2147483647"]),
        (["errors", "2147483648"], ["'[RUN]'", "less than or equal to 2147483647"]),
        (["run", "--wait", "-5"], ["'--wait'", "greater than or equal to 0"]),
        (["run", "--wait", "nan"], ["'--wait'"]),
        (["run", "--wait", "inf"], ["'--wait'", "less than or equal to 86400"]),
        (["retry", "--all", "--wait", "1e999"], ["'--wait'"]),
        (["history", "--limit", HUGE], ["'--limit'", "less than or equal to 2147483647"]),
        (["history", "--limit", "0"], ["'--limit'", "greater than or equal to 1"]),
        (["emulator", "--port", "70000"], ["'--port'", "less than or equal to 65535"]),
        (["emulator", "--port", "-1"], ["'--port'", "greater than or equal to 0"]),
        (["emulator", "--latency-ms", "inf"], ["'--latency-ms'", "less than or equal to 60000"]),
        (["emulator", "--fault-rate", "nan"], ["'--fault-rate'"]),
        (["emulator", "--dop-hint", HUGE], ["'--dop-hint'", "less than or equal to 1000"]),
        (["emulator", "--window-seconds", "0"], ["--window-seconds", "greater than 0"]),
        (["quickstart", "qs", "--contacts", "-5"], ["'--contacts'", "greater than or equal to 0"]),
    ],
)
def test_out_of_range_is_a_usage_error(
    ws: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    words: list[str],
) -> None:
    monkeypatch.chdir(ws.parent)
    monkeypatch.setenv("P2C_WORKSPACE", str(ws))
    monkeypatch.setattr(sys, "argv", ["p2c", *args])
    with pytest.raises(SystemExit) as done:
        main()

    stderr = capsys.readouterr().err
    assert done.value.code == 2, stderr
    for word in words:
        assert word in stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert not (ws.parent / "qs").exists()


@pytest.mark.parametrize(
    "args", [["retry", HUGE], ["run", "--wait", "-5"], ["emulator", "--port", "70000"]]
)
def test_out_of_range_exits_2_in_its_own_process(ws: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    done = subprocess.run(
        [sys.executable, "-m", "p2c", *args, "--workspace", str(ws)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert "Invalid value for" in done.stderr and "Traceback" not in done.stderr


def test_a_record_key_that_is_not_utf8_is_a_usage_error(ws: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    done = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"p2c",
            b"retry",
            b"--record",
            b"CON-\xff",
            b"-w",
            bytes(ws),
        ],
        env=env,
        capture_output=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert b"is not UTF-8 text" in done.stderr and b"internal error" not in done.stderr
