"""``p2c sandbox load sales FILE`` with the files people really have: written by Windows
tools, broken, huge, endless, or not JSON at all. Each runs as ``python -m p2c`` in its own
process, so the exit status is the one a shell sees: 0 when read, 3 for bad input, never 70
and never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2c.cli import main
from p2c.cli._sandbox import LOAD_LIMIT
from p2c.workspace import Workspace, init_workspace

GOOD = {"accounts": [{"name": "Fabrikam"}], "contacts": [{"firstname": "Ann", "lastname": "Lée"}]}
GOOD_TEXT = json.dumps(GOOD, ensure_ascii=False)


def p2c(
    *args: object, stdin: int | None = None, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    done = subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        env=env,
        stdin=stdin,
        input=data,
        capture_output=True,
        timeout=120,
    )
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert "Traceback" not in text and "internal error" not in text, text
    return done


def in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: object
) -> subprocess.CompletedProcess[bytes]:
    """``p2c ARGS`` through ``main()`` in this process: the same messages and exit status as
    the console script, without a process start per case."""
    argv = ["p2c", *map(str, args)]
    monkeypatch.setattr(sys, "argv", argv)
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else int(done.code is not None)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in out + err
    return subprocess.CompletedProcess(argv, code, out.encode(), err.encode())


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("load") / "ws"
    init_workspace(root)
    return root


def counts(ws: Path) -> tuple[int, int]:
    sales = Workspace.open(ws).sales()
    try:
        return sales.count("accounts"), sales.count("contacts")
    finally:
        sales.close()


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(GOOD_TEXT.encode("utf-8-sig"), id="UTF-8 with BOM (Notepad, PowerShell 7)"),
        pytest.param(GOOD_TEXT.encode("utf-16"), id="UTF-16 LE with BOM (PowerShell 5 Out-File)"),
        pytest.param(b"\xfe\xff" + GOOD_TEXT.encode("utf-16-be"), id="UTF-16 BE with BOM"),
        pytest.param(GOOD_TEXT.encode("utf-16-le"), id="UTF-16 LE without BOM"),
        pytest.param(GOOD_TEXT.replace("}", "}\r\n").encode(), id="CRLF line ends"),
    ],
)
def test_what_windows_tools_write_is_read(ws: Path, tmp_path: Path, encoded: bytes) -> None:
    before = counts(ws)
    path = tmp_path / "load.json"
    path.write_bytes(encoded)

    done = p2c("sandbox", "load", "sales", path, "-w", ws)

    assert done.returncode == 0, done.stderr.decode()
    assert b"Loaded 1 accounts, 1 contacts." in done.stdout
    assert counts(ws) == (before[0] + 1, before[1] + 1)


def test_a_dash_reads_standard_input(ws: Path) -> None:
    before = counts(ws)

    done = p2c("sandbox", "load", "sales", "-", "-w", ws, data=GOOD_TEXT.encode("utf-16"))

    assert done.returncode == 0, done.stderr.decode()
    assert counts(ws) == (before[0] + 1, before[1] + 1)


BAD = [
    pytest.param(
        b'{"accounts": [{"name": "A", "creditlimit": NaN}]}',
        ["accounts[0]", "field creditlimit", "NaN is not a JSON number"],
        id="NaN",
    ),
    pytest.param(
        b'{"accounts": [{"name": "A", "creditlimit": -Infinity}]}',
        ["accounts[0]", "field creditlimit", "-Infinity is not a JSON number"],
        id="-Infinity",
    ),
    pytest.param(
        b'{"accounts": [{"name": "A", "creditlimit": 1e400}]}',
        ["accounts[0]", "field creditlimit", "Infinity is not a JSON number", "1e400"],
        id="1e400",
    ),
    pytest.param(
        b'{"contacts": [{"lastname": "L"}, {"lastname": "Lee\\ud800"}]}',
        ["contacts[1]", "field lastname", "half of a UTF-16 surrogate pair"],
        id="lone surrogate escape",
    ),
    pytest.param(
        b'{"contacts": [{"lastname": "L", "\\udc00x": 1}]}',
        ["contacts[0]", "field \\udc00x", "surrogate"],
        id="lone surrogate in a name",
    ),
    pytest.param(
        b'{"\\ud800": []}',
        ["- \\ud800: the text holds half of a UTF-16 surrogate pair"],
        id="lone surrogate in an entity set",
    ),
    pytest.param(
        b'{"contacts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        ["line 1 column 113", "nest more than 100 levels deep"],
        id="100,000 deep",
    ),
    pytest.param(
        b'{"contacts": [{"lastname": "L", "firstname": {"a": [1, 2]}}]}',
        ["contacts[0]", "field firstname", "expects a single value, got a JSON object"],
        id="object as a value",
    ),
    pytest.param(
        b'{"contacts": [{"lastname": ' + b"9" * 5000 + b"}]}",
        ["more than 40 digits"],
        id="5000-digit number",
    ),
    pytest.param(
        '{"contacts": [{"lastname": "Lée"}]}'.encode("latin-1"),
        ["line 1 column 30", "bytes e9", "not valid UTF-8"],
        id="Latin-1",
    ),
    pytest.param(
        b"\xff\xfe" + '{"contacts": [{"lastname": "'.encode("utf-16-le") + b"\x00\xd8\x41\x00",
        ["line 1 column 29", "not valid UTF-16", "surrogate"],
        id="UTF-16 with a lone surrogate",
    ),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["not JSON text"], id="PNG"),
    pytest.param(b"", ["line 1 column 1", "not valid JSON"], id="empty"),
    pytest.param(b"[]", ["expected a JSON object"], id="array"),
    pytest.param(
        b'{"contacts": [{"lastname": "A", "lastname": "B"}]}',
        ["multiple properties with the name 'lastname'", "not allowed"],
        id="a name twice",
    ),
]


@pytest.mark.parametrize(("content", "words"), BAD)
def test_bad_input_exits_3_naming_where(
    ws: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
    words: list[str],
) -> None:
    before = counts(ws)
    path = tmp_path / "bad.json"
    path.write_bytes(content)

    done = in_process(capsys, monkeypatch, "sandbox", "load", "sales", path, "-w", ws)

    message = done.stderr.decode()
    assert done.returncode == 3, message
    for word in words:
        assert word in message
    assert done.stdout == b""
    assert counts(ws) == before


def test_dev_zero_is_refused_at_once(ws: Path) -> None:
    done = p2c("sandbox", "load", "sales", "/dev/zero", "-w", ws)

    assert done.returncode == 3
    assert b"/dev/zero holds NUL characters: it is not JSON text" in done.stderr


def test_dev_zero_on_standard_input_is_refused(ws: Path) -> None:
    with Path("/dev/zero").open("rb") as zero:
        done = p2c("sandbox", "load", "sales", "-", "-w", ws, stdin=zero.fileno())

    assert done.returncode == 3
    assert b"standard input holds NUL characters" in done.stderr


def test_an_endless_stream_stops_at_the_size_limit(ws: Path) -> None:
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nout = sys.stdout.buffer\nout.write(b'{\"contacts\": [')\n"
            'while True:\n    out.write(b\'{"lastname": "L"},\' * 10000)',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert writer.stdout is not None
        done = p2c("sandbox", "load", "sales", "-", "-w", ws, stdin=writer.stdout.fileno())
    finally:
        writer.kill()
        writer.wait()

    assert done.returncode == 3
    message = done.stderr.decode()
    assert f"standard input is larger than the limit of {LOAD_LIMIT:,} bytes (256 MiB)" in message


def test_a_folder_is_not_a_load_file(ws: Path, tmp_path: Path) -> None:
    done = p2c("sandbox", "load", "sales", tmp_path, "-w", ws)

    assert done.returncode == 3
    assert b"is a folder, not a JSON file" in done.stderr


@pytest.mark.parametrize(
    "content",
    [b'{"accounts": [{"name": "A", "creditlimit": NaN}]}', b"[" * 100_000],
    ids=["NaN", "100,000 deep"],
)
def test_bad_input_exits_3_in_its_own_process(ws: Path, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)

    done = p2c("sandbox", "load", "sales", path, "-w", ws)

    assert done.returncode == 3, done.stderr.decode()
    assert b"Nothing was loaded" in done.stderr or b"nothing was written" in done.stderr
