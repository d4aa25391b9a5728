"""Runs stopped by a signal, killed or crashed, as a user sees them: ``p2c run`` as a separate
process signalled once it reports progress, then ``p2c history`` and ``p2c projects``.

A run is never left Running: Ctrl-C (SIGINT) and SIGTERM stop it between batches, record it
Cancelled and exit 130 and 143; a killed run is marked Error with the reason when the history
is read; an internal error marks its run Error before exiting 70.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from p2c.cli import main
from p2c.connectors import SandboxDestination
from p2c.sandbox import sample_document
from p2c.workspace import Workspace, init_workspace

CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
INTERRUPTED = re.compile(r"Interrupted: ([\d,]+) written, the rest left for the next run\.")


@pytest.fixture
def big(tmp_path: Path) -> Path:
    """A workspace whose run takes a couple of hundred batches: 1,500 contacts, ten a batch."""
    root = tmp_path / "ws"
    sales = init_workspace(root).sales()
    try:
        sales.load(sample_document(1500, seed=11))
    finally:
        sales.close()
    config = root / "p2c.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("batch_size: 5000", "batch_size: 10"), encoding="utf-8")
    return root


def _default_sigint() -> None:
    # A shell without job control starts background commands with SIGINT ignored, and
    # p2c respects that; these tests are about a p2c that Ctrl-C reaches.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Started:
    process: subprocess.Popen[str]
    seen: list[str]


def start_run(root: Path, *args: str, until: str) -> Started:
    """``python -m p2c run`` in its own process, returned once a line of its stderr (the
    progress lines, when stderr is not a terminal) contains ``until``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    environment["PYTHONIOENCODING"] = "utf-8"
    process = subprocess.Popen(
        [sys.executable, "-m", "p2c", "run", "-w", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        env=environment,
        preexec_fn=_default_sigint,
    )
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    seen: list[str] = []
    assert process.stderr is not None
    try:
        for line in process.stderr:
            seen.append(line)
            if until in line:
                return Started(process, seen)
    finally:
        watchdog.cancel()
    process.wait()
    raise AssertionError(f"the run ended ({process.returncode}) before {until!r}: {seen}")


def finish(started: Started) -> tuple[int, str, str]:
    stdout, stderr = started.process.communicate(timeout=120)
    stderr = "".join(started.seen) + stderr
    assert "Traceback" not in stdout + stderr, stderr
    return started.process.returncode, stdout, stderr


def p2c_process(*args: object) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    environment["PYTHONIOENCODING"] = "utf-8"
    done = subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        capture_output=True,
        encoding="utf-8",
        env=environment,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def _rows(path: Path, statement: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(statement, params).fetchall()


def _contact_persons_due(root: Path) -> int:
    """Sales contacts on the contact person route."""
    sales = Workspace.open(root).sales()
    try:
        return sum(
            1
            for c in sales.export("contacts")
            if not c["msdynce_isactivecustomer"] and c["msdynce_iscompanyanaccount"]
        )
    finally:
        sales.close()


def _contact_persons(root: Path) -> int:
    [(count,)] = _rows(root / "sandbox" / "finops.db", "SELECT count(*) FROM CDSContactPerson")
    assert isinstance(count, int)
    return count


# signals to a running p2c ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code", "reason"),
    [
        (signal.SIGINT, 130, "interrupted (SIGINT)"),
        (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_stops_the_run_between_batches_and_keeps_it_cancelled(
    big: Path, number: int, code: int, reason: str
) -> None:
    started = start_run(big, until=f"{CONTACTS} / Contacts")
    started.process.send_signal(number)
    returned, stdout, stderr = finish(started)

    assert returned == code, stderr
    assert "Stopping after the batch in progress" in stderr
    written = INTERRUPTED.search(stderr)
    assert written is not None, stderr
    assert "Cancelled" in stdout  # the summary table
    state = big / "state.db"
    ((run_id, status, message, finished),) = _rows(
        state, "SELECT id, status, message, finished_at FROM run"
    )
    assert (status, message) == ("Cancelled", reason) and finished is not None
    tasks = _rows(state, "SELECT project, status, read, created FROM task_run ORDER BY id")
    assert [t[1] for t in tasks] == ["Completed", "Cancelled"]  # Contacts to Customer: never
    _, _, read, created = tasks[1]
    due = _contact_persons_due(big)
    assert 0 < created == read < due  # whole batches, mid-way
    assert int(written.group(1).replace(",", "")) == sum(t[3] for t in tasks)
    assert _contact_persons(big) == created
    assert not _rows(state, "SELECT * FROM project_lock")

    history = p2c_process("history", "-w", big)
    assert "Cancelled" in history.stdout and reason in history.stdout

    # The next run picks up where it stopped: nothing lost, nothing twice.
    again = p2c_process("run", "-w", big)
    assert again.returncode == 0, again.stderr
    assert _contact_persons(big) == due
    assert _rows(state, "SELECT status FROM run WHERE id = ?", run_id + 1) == [("Completed",)]


def test_a_killed_run_is_not_left_running(big: Path) -> None:
    assert p2c_process("run", "-w", big).returncode == 0  # every project Completed
    started = start_run(big, "--full", until=f"{CONTACTS} / Contacts")
    state = big / "state.db"
    # A batch is committed a little after it is shown (commit-behind): killed once one is.
    counted = "SELECT read FROM task_run WHERE run_id = 2 AND project = ? AND read > 0"
    deadline = time.monotonic() + 60
    while not _rows(state, counted, CONTACTS) and time.monotonic() < deadline:
        time.sleep(0.005)
    started.process.send_signal(signal.SIGKILL)
    assert started.process.wait() == -signal.SIGKILL
    assert _rows(state, "SELECT status FROM run WHERE id = 2") == [("Running",)]  # as it died

    projects = p2c_process("projects", "-w", big, "--json")
    history = p2c_process("history", "-w", big, "--json")

    assert projects.returncode == history.returncode == 0
    last = {p["name"]: p["last_status"] for p in json.loads(projects.stdout)["projects"]}
    assert last[CONTACTS] == "Error"  # not the previous run's Completed
    (run,) = [r for r in json.loads(history.stdout)["runs"] if r["run_id"] == 2]
    assert run["finished_at"] and run["duration_seconds"] is not None  # at its last batch
    assert (run["started_by"], run["status"]) == ("command", "Error")
    assert "stopped before it finished (killed or crashed)" in run["message"]
    shown = " ".join(p2c_process("history", "-w", big).stdout.split())  # wrapped to the width
    assert "stopped before it finished (killed or crashed)" in shown
    ((read, created, updated, unchanged),) = _rows(
        state,
        "SELECT read, created, updated, unchanged FROM task_run WHERE run_id = 2 AND project = ?",
        CONTACTS,
    )
    assert read > 0 and read == created + updated + unchanged  # committed batch by batch
    assert _rows(state, "SELECT count(*) FROM run WHERE status = 'Running'") == [(0,)]


# in-process, through main(): a second Ctrl-C, a crash, nothing to retry -------------------------


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def p2c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """``p2c ARGS`` through ``main()`` in this process, as the console script runs it."""
    monkeypatch.delenv("P2C_WORKSPACE", raising=False)
    monkeypatch.delenv("P2C_DEBUG", raising=False)

    def run(*args: object) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["p2c", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        stdout, stderr = capsys.readouterr()
        assert "Traceback" not in stdout + stderr
        return Result(code, stdout, stderr)

    return run


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "small"
    sales = init_workspace(root).sales()
    try:
        sales.load(sample_document(60, seed=5))
    finally:
        sales.close()
    config = root / "p2c.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("batch_size: 5000", "batch_size: 5"), encoding="utf-8")
    yield root


def _on_third_contact_batch(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    calls = 0

    def counted(real: Callable[..., Any]) -> Callable[..., Any]:
        def write(self: SandboxDestination, entity: str, *args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            if entity == "CDSContactPersons":
                calls += 1
                if calls == 3:
                    action()
            return real(self, entity, *args, **kwargs)

        return write

    # The engine writes a page as records or as rows: either way it is counted.
    for method in ("upsert", "upsert_rows"):
        monkeypatch.setattr(
            SandboxDestination, method, counted(getattr(SandboxDestination, method))
        )


def test_a_second_ctrl_c_stops_at_once_and_the_run_is_still_recorded(
    small: Path, p2c: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this process")

    def twice() -> None:  # Ctrl-C, and again before the batch is written
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    _on_third_contact_batch(monkeypatch, twice)

    done = p2c("run", "-w", small)

    assert done.code == 130, done.stderr
    assert INTERRUPTED.search(done.stderr), done.stderr
    rows = _rows(small / "state.db", "SELECT status, message FROM run")
    assert len(rows) == 1 and rows[0][0] == "Cancelled" and "stopped at once" in rows[0][1]
    ((status, read),) = _rows(
        small / "state.db", "SELECT status, read FROM task_run WHERE project = ?", CONTACTS
    )
    assert (status, read) == ("Cancelled", 10)  # two whole batches; the third abandoned
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_an_internal_error_marks_the_run_error_and_exits_70(
    small: Path, p2c: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash() -> None:
        raise ZeroDivisionError("division by zero")

    _on_third_contact_batch(monkeypatch, crash)

    done = p2c("run", "-w", small)

    assert done.code == 70
    assert "internal error: ZeroDivisionError: division by zero" in done.stderr
    history = p2c("history", "-w", small)
    assert "Error" in history.stdout
    lines = history.stdout.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("Run 1  Error  ")]
    assert lines[at + 1] == "  internal error: ZeroDivisionError: division by zero"  # why
    ((status, read),) = _rows(
        small / "state.db", "SELECT status, read FROM task_run WHERE project = ?", CONTACTS
    )
    assert (status, read) == ("Error", 10)


def test_retry_all_with_an_empty_queue_has_nothing_to_do(
    small: Path, p2c: Callable[..., Result]
) -> None:
    assert p2c("run", "-w", small).code == 0

    done = p2c("retry", "--all", "-w", small)

    assert done.code == 0, done.stderr
    assert "Nothing to retry: the error queue is empty." in done.stdout
    assert _rows(small / "state.db", "SELECT count(*) FROM run") == [(1,)]  # no run started


def test_a_dry_run_on_the_sandbox_shows_what_changes(
    small: Path, p2c: Callable[..., Result]
) -> None:
    assert p2c("run", "-w", small).code == 0
    sales = Workspace.open(small).sales()
    try:
        (contact,) = [
            c
            for c in sales.export("contacts")
            if not c["msdynce_isactivecustomer"] and c["msdynce_iscompanyanaccount"]
        ][:1]
        sales.update("contacts", contact["contactid"], {"jobtitle": "Chief Tester"})
    finally:
        sales.close()

    done = p2c("run", "--dry-run", "-w", small)

    assert done.code == 0, done.stderr
    name = f"{contact['firstname']} {contact['lastname']}"
    (line,) = [line for line in done.stdout.splitlines() if "would update" in line]
    # Named by its key in F&O (its contact number, its account's number) and its name.
    assert f"would update usmf/{contact['msdynce_contactnumber']}/ACC-" in line
    assert f"({name}): " in line
    assert f"EmploymentProfession: {contact['jobtitle']!r} → 'Chief Tester'" in line
