"""The command line fits a person's terminal and a script's pipe: tables laid out for the
width (COLUMNS, the terminal, 100 in a pipe) with no record key split, ``--json`` for
scripts, projects named by a short name or alias, ``--version`` and ``-h``, progress with a
total, ``run -c SET``, ``sandbox update``, and what quickstart and the emulator say to try.

Each command runs as ``python -m p2c`` in a separate process with no terminal (stdin from
/dev/null, output captured), as a script or a log would run it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_data import ATLANTIS
from cli_data import WITH_A_BAD_CONTACT as DOCUMENT
from screens import task_rows, too_wide

from p2c import __version__
from p2c.workspace import Workspace, init_workspace

ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"
CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"


@dataclass(frozen=True)
class Done:
    code: int
    stdout: str
    stderr: str


def p2c(
    *args: object,
    columns: int | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Done:
    """``python -m p2c ARGS`` without a terminal; ``COLUMNS`` only when given."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("P2C_WORKSPACE", "P2C_DEBUG", "COLUMNS", "P2C_EMULATOR_SECRET")
    }
    environment["PYTHONIOENCODING"] = "utf-8"
    if columns is not None:
        environment["COLUMNS"] = str(columns)
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        encoding="utf-8",
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return Done(done.returncode, done.stdout, done.stderr)


def workspace(root: Path, *, via_cds: bool = False) -> Path:
    sales = init_workspace(root, via_cds=via_cds).sales()
    try:
        sales.load(DOCUMENT)
    finally:
        sales.close()
    return root


def contact_number(root: Path, contact_id: str) -> str:
    sales = Workspace.open(root).sales()
    try:
        return str(
            {c["contactid"]: c for c in sales.export("contacts")}[contact_id][
                "msdynce_contactnumber"
            ]
        )
    finally:
        sales.close()


# the width ------------------------------------------------------------------------------------


@pytest.mark.parametrize("via_cds", [False, True], ids=["direct", "via-cds"])
def test_at_80_columns_summary_history_and_errors_fit_with_no_key_split(
    tmp_path: Path, via_cds: bool
) -> None:
    root = workspace(tmp_path / "ws", via_cds=via_cds)
    number = contact_number(root, ATLANTIS)

    run = p2c("run", "-w", root, columns=80)
    history = p2c("history", "-w", root, columns=80)
    queue = p2c("errors", "-w", root, columns=80)
    errors = p2c("errors", "1", "-w", root, columns=80)

    assert run.code == 1, run.stderr
    for done in (run, history, queue, errors):
        assert too_wide(done.stdout, 80) == [], done.stdout
    # One line per task leg (under its project, and via CDS its task): nothing wraps.
    legs = 6 if via_cds else 3
    headings = 6 if via_cds else 3
    summary = run.stdout[: run.stdout.index("Some records failed")].splitlines()
    assert len(summary) == 2 + headings + legs, run.stdout  # title, header, grid
    assert len(task_rows(run.stdout)) == legs
    assert len(history.stdout.splitlines()) == 2 + headings + legs  # header, run, grid
    # The record's key in F&O and its source key stand whole on one line.
    key = re.compile(rf"usmf/{number}/ACC-\d{{5}}-\w{{6}}")
    source = f"ORG001/{number}" if via_cds else ATLANTIS
    for done in (queue, errors):
        assert any(key.search(line) for line in done.stdout.splitlines()), done.stdout
        assert any(line.endswith(f"source key {source}") for line in done.stdout.splitlines())
    lines = errors.stdout.splitlines()
    (fix_at,) = [i for i, line in enumerate(lines) if line.startswith("    fix: ")]
    assert fix_at <= 8  # the record: title, heading, key, source, reason
    assert len(lines) - fix_at <= 10  # its fix, wrapped under it
    # What changed with the old tables at 80 columns: 27 lines of summary, 44 per run.


def test_columns_is_honoured_and_a_pipe_is_100_wide(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    assert p2c("run", "-w", root).code == 1

    narrow = p2c("history", "-w", root, columns=60)
    wide = p2c("history", "-w", root, columns=200)
    piped = p2c("history", "-w", root)

    assert too_wide(narrow.stdout, 60) == [] and too_wide(piped.stdout, 100) == []
    assert too_wide(wide.stdout, 200) == []
    # Narrow: short headers, the grid under the projects; wide: one line per task.
    assert narrow.stdout.splitlines()[0].split()[-5:] == ["new", "upd", "same", "skip", "fail"]
    assert f"{CONTACTS} / Contacts  " in wide.stdout
    assert max(map(len, wide.stdout.splitlines())) > 100
    for done in (narrow, wide, piped):
        rows = {(r.project, r.task): (r.status, r.counts["failed"]) for r in task_rows(done.stdout)}
        assert rows[(CONTACTS, "Contacts")] == ("Warning", 1)


def test_the_width_asked_at_each_print(monkeypatch: pytest.MonkeyPatch) -> None:
    from p2c.cli._render import PIPE_WIDTH, layout_width, out

    monkeypatch.setenv("COLUMNS", "72")
    assert layout_width() == out.width == 72
    monkeypatch.setenv("COLUMNS", "133")
    assert out.width == 133
    monkeypatch.delenv("COLUMNS")
    assert layout_width() >= 1 and PIPE_WIDTH == 100


# --json ---------------------------------------------------------------------------------------


def test_json_for_scripts_on_stdout_and_messages_on_stderr(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")

    run = p2c("run", "-w", root, "--json")

    assert run.code == 1
    document = json.loads(run.stdout)  # nothing else on stdout
    assert set(document) == {
        "run_id",
        "status",
        "dry_run",
        "connection_set",
        "cancelled",
        "written",
        "left",
        "exit_code",
        "tasks",
    }
    assert (document["run_id"], document["status"], document["exit_code"]) == (1, "Warning", 1)
    assert document["written"] == 3 and document["connection_set"] is None
    contacts = next(t for t in document["tasks"] if t["project"] == CONTACTS)
    assert contacts["task"] == "Contacts" and contacts["leg"] == "Source > Destination"
    assert contacts["status"] == "Warning"
    assert contacts["counts"] == {
        "read": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert "p2c errors 1" in run.stderr and "records" in run.stderr  # advice, progress

    history = json.loads(p2c("history", "-w", root, "--json").stdout)
    (entry,) = history["runs"]
    assert entry["run_id"] == 1 and entry["status"] == "Warning"
    assert entry["started_by"] == "command" and entry["mode"] == "incremental"
    assert entry["started_at"].endswith("+00:00") and entry["duration_seconds"] >= 0
    assert entry["projects"] == [ACCOUNTS, CONTACTS, CUSTOMERS]
    assert [t["counts"] for t in entry["tasks"]] == [t["counts"] for t in document["tasks"]]

    queue = json.loads(p2c("errors", "-w", root, "--json").stdout)
    (record,) = queue["records"]
    assert queue["run_id"] is None
    assert record["source_key"] == ATLANTIS and record["project"] == CONTACTS
    assert record["destination_key"].startswith("usmf/CON-")
    assert record["field"] == "PrimaryAddressCountryRegionISOCode"
    assert (record["retryable"], record["attempts"], record["last_run_id"]) == (False, 1, 1)
    assert "value map has no entry for 'Atlantis'" in record["fix"]

    errors = json.loads(p2c("errors", "1", "-w", root, "--json").stdout)
    assert errors["run_id"] == 1
    assert [(r["source_key"], r["field"]) for r in errors["records"]] == [
        (ATLANTIS, "PrimaryAddressCountryRegionISOCode")
    ]
    assert errors["records"][0]["fix"] == record["fix"]

    projects = json.loads(p2c("projects", "-w", root, "--json").stdout)["projects"]
    assert [(p["name"], p["short_name"], p["last_status"]) for p in projects] == [
        (ACCOUNTS, "Accounts", "Completed"),
        (CONTACTS, "Contacts", "Warning"),
        (CUSTOMERS, "Contacts to Customer", "Completed"),
    ]
    assert projects[0]["connection_set"] == "sandbox" and projects[0]["alias"] is None

    missing = p2c("errors", "9", "-w", root, "--json")
    assert missing.code == 2 and missing.stdout == "" and "no run 9" in missing.stderr


# naming projects ------------------------------------------------------------------------------


def _ran(done: Done) -> list[str]:
    assert done.code == 0, done.stderr
    return sorted({t["project"] for t in json.loads(done.stdout)["tasks"]})


def test_projects_by_short_name_prefix_word_or_alias(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    config = root / "p2c.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["projects"][2]["alias"] = "buyers"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    assert _ran(p2c("run", "acc", "-w", root, "--json")) == [ACCOUNTS]  # a prefix
    # `contacts` is the short name of one project, though both start with it.
    contacts = p2c("run", "contacts", "-w", root, "--json")
    assert contacts.code == 1 and _ran(Done(0, contacts.stdout, "")) == [CONTACTS]
    assert _ran(p2c("run", "CUSTOMER", "-w", root, "--json")) == [CUSTOMERS]  # a word
    assert _ran(p2c("run", "buyers", "-w", root, "--json")) == [CUSTOMERS]  # the alias
    assert _ran(p2c("run", "contacts to", "-w", root, "--json")) == [CUSTOMERS]

    ambiguous = p2c("run", "cont", "-w", root)
    assert ambiguous.code == 2
    assert "'cont' could be any of these projects" in ambiguous.stderr
    assert CONTACTS in ambiguous.stderr and f"{CUSTOMERS} (alias buyers)" in ambiguous.stderr
    unknown = p2c("run", "leads", "-w", root)
    assert unknown.code == 2 and "has no project 'leads'" in unknown.stderr

    listed = p2c("projects", "-w", root)
    assert re.search(rf"^{re.escape(CUSTOMERS)} +buyers +sandbox", listed.stdout, re.M)

    data["projects"][0]["alias"] = "BUYERS"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    twice = p2c("run", "acc", "-w", root)
    assert twice.code == 2 and "is also the name or alias of project" in twice.stderr


# --version, -h --------------------------------------------------------------------------------


def test_version_and_short_help() -> None:
    version = p2c("--version")
    assert (version.code, version.stdout) == (0, f"p2c {__version__}\n")
    for args in (["-h"], ["run", "-h"], ["sandbox", "update", "-h"]):
        done = p2c(*args)
        assert done.code == 0 and "Usage:" in done.stdout, args
    assert "--connection-set" in p2c("run", "-h", columns=200).stdout


# progress -------------------------------------------------------------------------------------


def test_progress_lines_in_a_pipe_have_the_total(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    done = p2c("run", "-w", root)
    lines = [line for line in done.stderr.splitlines() if " records" in line]
    assert f"{CONTACTS} / Contacts / Source > Destination: 2 of 2 records (100%)" in "\n".join(
        lines
    )
    assert all(re.search(r": [\d,]+ of [\d,]+ records \(\d+%\)", line) for line in lines), lines


# sandbox update, then run ---------------------------------------------------------------------


def test_correct_it_in_sales_then_run_again(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    number = contact_number(root, ATLANTIS)
    assert p2c("run", "-w", root).code == 1
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "contacts": [
                    {"contactid": ATLANTIS, "address1_country": "Sweden", "fristname": "x"},
                    {"msdynce_contactnumber": "CON-99999-NOSUCH", "lastname": "y"},
                    {"lastname": "z"},
                ]
            }
        ),
        encoding="utf-8",
    )

    refused = p2c("sandbox", "update", "sales", bad, "-w", root)

    assert refused.code == 3
    assert "3 problem(s); nothing was updated" in refused.stderr
    assert "contacts[0], field fristname" in refused.stderr and "'firstname'" in refused.stderr
    assert "contacts[1]: no contact has msdynce_contactnumber = 'CON-99999-NOSUCH'" in (
        refused.stderr
    )
    assert "contacts[2]: the item does not say which record to update" in refused.stderr
    fix = tmp_path / "fix.json"
    fix.write_text(
        json.dumps({"contacts": [{"msdynce_contactnumber": number, "address1_country": "Sweden"}]}),
        encoding="utf-8",
    )

    updated = p2c("sandbox", "update", "sales", fix, "-w", root)
    again = p2c("run", "contacts", "-w", root, "--json")

    assert updated.code == 0 and updated.stdout == "Updated 1 contacts.\n", updated.stderr
    assert again.code == 0, again.stderr
    (task,) = json.loads(again.stdout)["tasks"]
    assert task["counts"]["created"] == 1 and task["counts"]["failed"] == 0
    assert json.loads(p2c("errors", "-w", root, "--json").stdout)["records"] == []
    finops = Workspace.open(root).finops()
    try:
        persons = {p["ContactPersonPartyNumber"]: p for p in finops.export("CDSContactPersons")}
    finally:
        finops.close()
    assert persons[number]["PrimaryAddressCountryRegionISOCode"] == "SWE"  # as corrected


# what quickstart says to try next -------------------------------------------------------------


def test_quickstart_try_next_commands_work_as_printed(tmp_path: Path) -> None:
    done = p2c("quickstart", "demo", "--contacts", "12", cwd=tmp_path, columns=200)
    assert done.code == 0, done.stderr
    tried = done.stdout[done.stdout.index("Try next:") :].splitlines()[1:]
    commands = [line.split("  #")[0].strip() for line in tried if not line.startswith("  #")]
    commands = [c for c in commands if c and not c.startswith("(")]
    assert len(commands) == 5, tried
    # The p2c that ran, by a path that works from here: python -m p2c under pytest.
    assert all(c.startswith(f"{shlex.quote(sys.executable)} -m p2c ") for c in commands)
    for command in commands:
        ran = subprocess.run(
            shlex.split(command),
            cwd=tmp_path,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            encoding="utf-8",
            timeout=120,
            check=False,
        )
        assert ran.returncode == 0, (command, ran.stderr)
    assert "activate` puts p2c on the PATH" in done.stdout


# the emulator's printout, then run -c emulator ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_emulator(root: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("P2C_")}
    return subprocess.Popen(
        [sys.executable, "-m", "p2c", "emulator", "--port", str(port), "-w", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environment, **env, "PYTHONIOENCODING": "utf-8"},
    )


def _printout(process: subprocess.Popen[str]) -> str:
    """The emulator's printout up to the connection set's organizations."""
    assert process.stdout is not None
    lines: list[str] = []
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        for line in process.stdout:
            lines.append(line)
            if "cds_organization:" in line:
                return "".join(lines)
    finally:
        watchdog.cancel()
    raise AssertionError(f"the emulator stopped: {''.join(lines)}")


def test_run_against_the_emulator_as_its_printout_says(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    process = _start_emulator(root, _free_port(), {})
    try:
        printout = _printout(process)
        assert "client secret: emulator-secret (the emulator's default" in printout
        assert "  export P2C_EMULATOR_SECRET=emulator-secret" in printout
        run_line = next(line for line in printout.splitlines() if " run -c emulator " in line)
        # As printed: the connection set into p2c.yaml, the secret exported, then run.
        block = yaml.safe_load(printout[printout.index("connection_sets:") :])
        config = root / "p2c.yaml"
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["connection_sets"].update(block["connection_sets"])
        config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        secret = {"P2C_EMULATOR_SECRET": "emulator-secret"}

        done = p2c(*shlex.split(run_line)[3:], "--json", env=secret)
        progress = done.stderr
        # --full: without it, what the second run reads depends on how long ago the first one
        # ran (records inside the cursor's settle window are read again).
        again = p2c("run", "-c", "emulator", "contacts", "--full", "-w", root, "--json", env=secret)
        unknown = p2c("run", "-c", "nosuch", "-w", root)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)

    assert done.code == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["connection_set"] == "emulator"
    # Its own state: the sandbox runs' cursors and queue do not steer it.
    assert {t["project"] for t in document["tasks"]} == {
        f"{name} @ emulator" for name in (ACCOUNTS, CONTACTS, CUSTOMERS)
    }
    contacts = next(t for t in document["tasks"] if t["project"] == f"{CONTACTS} @ emulator")
    assert contacts["counts"]["read"] == 2 and contacts["counts"]["failed"] == 1
    assert "(total unknown)" in progress  # the HTTP sources do not count
    assert again.code == 1 and [t["project"] for t in json.loads(again.stdout)["tasks"]] == [
        f"{CONTACTS} @ emulator"
    ]
    assert unknown.code == 2 and "no connection set 'nosuch'" in unknown.stderr
    history = json.loads(p2c("history", "-w", root, "--json").stdout)["runs"]
    assert [r["status"] for r in history] == ["Warning", "Warning"]


def test_the_emulator_never_prints_a_secret_from_the_environment(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    secret = "s3cr3t-from-a-vault"
    process = _start_emulator(root, _free_port(), {"P2C_EMULATOR_SECRET": secret})
    try:
        printout = _printout(process)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert "client secret: the value of P2C_EMULATOR_SECRET in this shell (not shown)" in (printout)
    assert "export P2C_EMULATOR_SECRET=<the same value>" in printout
    assert secret not in printout + stdout + stderr


# p2c.yaml errors point to their page ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "page"),
    [
        (
            ["projects", 2, "tasks"],
            {"ContactToCustomer": {"map": {"SiteId": {"fn": 3}}}},
            "templates",
        ),
        (["connection_sets", "sandbox", "sales"], {"type": "sandbox", "paht": "x"}, "connectors"),
        (["state"], {"retention_days": 0}, "operations"),
        (["projects", 0, "max_failed_records"], -1, "operations"),
    ],
    ids=["mapping", "connection", "state", "run-setting"],
)
def test_a_p2c_yaml_error_points_to_the_page_of_its_key(
    tmp_path: Path, path: list[Any], value: Any, page: str
) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    config = root / "p2c.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    done = p2c("projects", "-w", root)

    assert done.code == 2
    assert f"see docs/{page}.md" in done.stderr, done.stderr
